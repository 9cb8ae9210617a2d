// ChangeTopic: where a writer publishes the change events it folded (DESIGN.md section 9): on
// Kafka, `<prefix>contacts.changes` (KafkaLog). The seam lets ChangePublisher be tested without a
// broker.
#pragma once

#include <vector>

#include "bus/log.h"
#include "core/status.h"

namespace contacts {

class ChangeTopic {
 public:
  virtual ~ChangeTopic() = default;
  // Publishes the records (key: the workspace id; value: the change event), in order; returns
  // once the brokers acknowledged all of them, or the failure (then some may have been
  // published: the publisher publishes them again, at least once).
  virtual Status publish_changes(const std::vector<LogRecord>& records) = 0;
  // Starts publishing and returns; wait() says when the brokers acknowledged them. Publications
  // started one after another keep that order per partition. By default, here and whole.
  virtual std::unique_ptr<PendingAppend> start_publish(const std::vector<LogRecord>& records) {
    Status s = publish_changes(records);
    if (!s.ok()) return std::make_unique<DoneAppend>(s);
    return std::make_unique<DoneAppend>(std::vector<LogPosition>{});
  }
};

}  // namespace contacts
