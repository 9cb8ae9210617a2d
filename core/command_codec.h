// The typed decoder and encoder of commands: JSON text <-> Command.
// decode_command enforces exactly the rules of schemas/*.json (a test checks they agree);
// encode_command writes the canonical compact form that goes on the log.
#pragma once

#include <string>
#include <string_view>

#include "core/command.h"
#include "core/status.h"

namespace contacts {

// What becomes of a field this build does not know (schemas/README.md, "Evolution"): it is
// ignored; with kRefuseTypos, one whose name is a near miss of a known field of its object is
// refused as a typo. Producers are answered with kRefuseTypos (ingest, `contacts produce`);
// the fold ignores every unknown field, so which records apply never changes when a later build
// learns a field (a name that is new today may be a near miss of tomorrow's).
enum class UnknownFields { kIgnore, kRefuseTypos };

// Decodes and validates one command. A failure is kInvalid with a reason a producer can act on.
// The hot types take a single-pass fast path (core/command_fast_decoder.h).
Result<Command> decode_command(std::string_view json_text,
                               UnknownFields unknown = UnknownFields::kIgnore);
// The same into `out`, where a fast-path command is built in place (a Command is large:
// moving one cost as much as a fifth of decoding it).
void decode_command(std::string_view json_text, Result<Command>& out,
                    UnknownFields unknown = UnknownFields::kIgnore);
// The reference decoder alone (a DOM parse): what the fast path must agree with.
Result<Command> decode_command_reference(std::string_view json_text,
                                         UnknownFields unknown = UnknownFields::kIgnore);

// The canonical JSON of a valid command (occurred_at included).
std::string encode_command(const Command& command);

}  // namespace contacts
