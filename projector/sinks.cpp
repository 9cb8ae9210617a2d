#include "projector/sinks.h"

#include "core/log.h"

namespace contacts {

void LoggedDeadLetters::dead_letter(const LogEntry& entry, std::string_view reason) {
  // The reason names a field or a rule, never a value of the record (core/command_codec.cpp).
  log::warn("dead letter",
            {{"position", position_name({entry.partition, entry.offset})}, {"reason", reason}});
}

void KeptDeadLetters::dead_letter(const LogEntry& entry, std::string_view reason) {
  LoggedDeadLetters::dead_letter(entry, reason);
  // Logged above whatever happens here: a record the queue cannot keep is not lost from view.
  if (auto s = queue_.put(entry, std::string(reason)); !s.ok())
    log::error(
        "dead letter not kept",
        {{"position", position_name({entry.partition, entry.offset})}, {"error", s.message()}});
}

}  // namespace contacts
