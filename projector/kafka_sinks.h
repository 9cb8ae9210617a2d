// The Kafka implementations of the projector's sinks (projector/sinks.h) that need the broker:
// dead letters produced to contacts.dlq. (The change publisher, the Kafka ChangeSink, is
// projector/change_publisher.h.)
#pragma once

#include "bus/kafka_log.h"
#include "projector/sinks.h"

namespace contacts {

// Logs each dead letter, then produces it to the dead-letter topic with its reason.
class KafkaDeadLetters final : public LoggedDeadLetters {
 public:
  explicit KafkaDeadLetters(KafkaLog& log) : log_(log) {}
  void dead_letter(const LogEntry& entry, std::string_view reason) override;

 private:
  KafkaLog& log_;
};

}  // namespace contacts
