#include "projector/sinks.h"

#include <iostream>
#include <sstream>

namespace contacts {

void LoggedDeadLetters::dead_letter(const LogEntry& entry, std::string_view reason) {
  std::ostringstream line;
  line << "contacts: dead letter at " << entry.partition.value << "/" << entry.offset.value << ": "
       << reason << "\n";
  std::cerr << line.str();
}

void KeptDeadLetters::dead_letter(const LogEntry& entry, std::string_view reason) {
  LoggedDeadLetters::dead_letter(entry, reason);
  // Logged above whatever happens here: a record the queue cannot keep is not lost from view.
  if (auto s = queue_.put(entry, std::string(reason)); !s.ok())
    std::cerr << "contacts: dead letter at " << position_name({entry.partition, entry.offset})
              << " not kept: " << s.message() << "\n";
}

}  // namespace contacts
