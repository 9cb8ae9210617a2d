#include "projector/kafka_sinks.h"

#include <iostream>

namespace contacts {

void KafkaDeadLetters::dead_letter(const LogEntry& entry, std::string_view reason) {
  LoggedDeadLetters::dead_letter(entry, reason);
  if (auto s = log_.dead_letter(entry, std::string(reason)); !s.ok())
    std::cerr << "contacts: dead letter not sent to " << log_.dlq_topic() << ": " << s.message()
              << "\n";
}

}  // namespace contacts
