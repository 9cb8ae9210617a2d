// Where the projector hands on what it folded besides the views. Called on the fold threads
// as each batch commits: implementations must be thread-safe.
//  - DeadLetterSink: records that are not valid commands. LoggedDeadLetters (every bus) logs
//    them; KeptDeadLetters also keeps them in the log's DeadLetterQueue (contacts.dlq on
//    Kafka, beside the records on the embedded log), where `contacts dlq` lists them.
//  - ChangeSink: what each committed batch changed. On the embedded log the webhook dispatcher
//    is woken; on Kafka the ChangePublisher publishes each batch's change events before the
//    batch commits.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "bus/dead_letters.h"
#include "bus/log.h"
#include "projector/fold.h"

namespace contacts {

// An outbox entry a batch queued: its position id, its value (the change event) and its
// workspace.
struct QueuedChange {
  int64_t position_id = 0;  // its key in the outbox
  std::string value;
  WorkspaceId workspace_id;
};

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // At least once: a batch that is folded again reports its dead letters again.
  virtual void dead_letter(const LogEntry& entry, std::string_view reason) = 0;
};

// Logs each dead letter (a warn event) with its position and reason, never the record.
class LoggedDeadLetters : public DeadLetterSink {
 public:
  void dead_letter(const LogEntry& entry, std::string_view reason) override;
};

// Logs each dead letter, then keeps it in `queue`.
class KeptDeadLetters final : public LoggedDeadLetters {
 public:
  explicit KeptDeadLetters(DeadLetterQueue& queue) : queue_(queue) {}
  void dead_letter(const LogEntry& entry, std::string_view reason) override;

 private:
  DeadLetterQueue& queue_;
};

class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  // When the sink takes the changes' entries (takes_queued), they are not stored in the outbox:
  // the fold hands them over as it goes (in log order, on the fold thread), and a batch commits
  // only once every publication started for it completed ok (else it is folded again, and its
  // entries handed over again: at least once). So every change before an applied offset has
  // been taken. Null: nothing to wait for.
  virtual std::unique_ptr<PendingAppend> start_publish(std::vector<QueuedChange>&& entries) {
    (void)entries;
    return nullptr;
  }
  virtual bool takes_queued() const { return false; }
  // The changes of a committed batch, once its offsets count as applied.
  virtual void applied(const std::vector<Change>& changes) { (void)changes; }
};

}  // namespace contacts
