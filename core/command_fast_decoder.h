// The fast path of decode_command for the hot command types (room_join, booking): a
// single-pass parser with no DOM. It answers only when it is sure: a Command identical to
// what the reference decoder gives, or none ("ask the reference decoder"), never an error.
// Its input must already be valid UTF-8 within the nesting limit.
#pragma once

#include <optional>
#include <string_view>

#include "core/command.h"

namespace contacts {

// Fills `out`, a default Command, and returns true; or returns false (`out` is then partly
// filled and to be discarded).
bool decode_visit_fast(std::string_view json_text, Command& out);

inline std::optional<Command> decode_visit_fast(std::string_view json_text) {
  Command out;
  if (!decode_visit_fast(json_text, out)) return std::nullopt;
  return out;
}

}  // namespace contacts
