// The fast path of decode_command for the hot command types (room_join, booking): a
// single-pass parser with no DOM. It answers only when it is sure: a Command identical to
// what the reference decoder gives, or nullopt ("ask the reference decoder"), never an error.
// Its input must already be valid UTF-8 within the nesting limit.
#pragma once

#include <optional>
#include <string_view>

#include "core/command.h"

namespace contacts {

std::optional<Command> decode_visit_fast(std::string_view json_text);

}  // namespace contacts
