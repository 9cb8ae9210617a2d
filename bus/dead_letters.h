// Dead letters: records of the command log that are not valid commands, kept with the reason
// and where they were, so an operator can list them and, after a fix, replay them (`contacts
// dlq`). Both buses keep them: Kafka on the topic `<prefix>contacts.dlq` (KafkaLog), the
// embedded log beside its records (EmbeddedLog).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/log.h"
#include "core/status.h"

namespace contacts {

struct DeadLetter {
  LogPosition source;  // where the record is in the command log
  std::string reason;
  std::string key;
  std::string value;
};

class DeadLetterQueue {
 public:
  virtual ~DeadLetterQueue() = default;
  // Keeps `entry` with the reason it was not applied; returns once it is durable.
  virtual Status put(const LogEntry& entry, const std::string& reason) = 0;
  // Every dead letter kept, in the order they were put, one per source position (a record put
  // twice, as a batch folded again puts it, is listed once).
  virtual Result<std::vector<DeadLetter>> list() = 0;
};

// "3/17": partition 3, offset 17.
std::string position_name(LogPosition position);
// The inverse of position_name; nullopt for anything else.
std::optional<LogPosition> parse_position(std::string_view text);

}  // namespace contacts
