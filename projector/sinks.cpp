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

}  // namespace contacts
