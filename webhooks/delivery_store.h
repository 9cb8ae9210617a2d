// DeliveryStore: the dispatcher's own RocksDB (DATA/webhooks), apart from the views so that a
// rebuild of the views keeps it. One record per (subscription, change), an index of due
// attempts, and a count per subscription. Written with a synced WAL: a delivery recorded as
// succeeded is never sent again, and one not yet recorded is sent again after a crash.
// Thread-safe: the dispatcher's thread and the API's (a test event, a redelivery) write to it;
// every write that reads a record first holds one mutex.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "core/types.h"

namespace contacts {

enum class DeliveryState { kPending, kSucceeded, kFailed, kCancelled };
std::string_view to_string(DeliveryState state);

struct DeliveryRef {
  WorkspaceId workspace_id;
  int64_t webhook_id = 0;
  int64_t position = 0;  // the log position of the change: its message id is msg_<position>
  bool operator==(const DeliveryRef&) const = default;
};

struct Delivery {
  DeliveryRef ref;
  std::string event;
  int64_t contact_id = 0;  // whom the change is about
  // The exact bytes every attempt sends; kept only while pending (the person may be erased).
  std::string body;
  std::string timestamp;   // X-Webhook-Timestamp, the body's timestamp
  int64_t created_at = 0;  // unix seconds: when the change happened
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  std::optional<int> last_status;
  std::optional<std::string> last_error;
  std::optional<int64_t> last_attempt_at;  // unix seconds
  std::optional<int64_t> next_attempt_ms;  // unix milliseconds; set while pending and due
  // How many times it was redelivered: the outcome of an attempt of an earlier round, which
  // ended after the redelivery, is not recorded.
  int64_t round = 0;
  std::string message_id() const { return "msg_" + std::to_string(ref.position); }
  // The row served by GET .../deliveries.
  std::string to_api_json() const;
};

// What waits: every pending delivery (in the due index, or parked while its subscription is
// paused), the parked ones, those whose attempt is due, and the due time of the earliest in the
// due index (unix milliseconds; none when it is empty).
struct DeliveryBacklog {
  int64_t pending = 0;
  int64_t parked = 0;
  int64_t due = 0;
  std::optional<int64_t> earliest_due_ms;
};

struct DeliveryPage {
  std::vector<Delivery> deliveries;
  int64_t total = 0;
};

class DeliveryStore {
 public:
  static Result<std::unique_ptr<DeliveryStore>> open(const std::string& path);
  ~DeliveryStore();

  bool exists(const DeliveryRef& ref) const;
  std::optional<Delivery> get(const DeliveryRef& ref) const;
  // Records new deliveries (each pending, due at its next_attempt_ms); skips any that exists.
  // Returns how many were new.
  Result<size_t> add(const std::vector<Delivery>& deliveries);
  // Stores `delivery` after an attempt, moving its entry in the due index from `due_ms` to
  // its next_attempt_ms (or out of the index once it is no longer pending). Records nothing when
  // the delivery was redelivered since the attempt began (its round has moved on).
  Status update(const Delivery& delivery, int64_t due_ms);
  // Parks due deliveries of a paused subscription, (due_ms, ref) as due() gave them: out of the
  // due index, still pending, with no next attempt, until unpark().
  Status park(const std::vector<std::pair<int64_t, DeliveryRef>>& due);
  // Makes up to `max` parked deliveries of a subscription due at `now_ms`, oldest change first;
  // returns how many. Fewer than `max`: none is left parked.
  Result<size_t> unpark(WorkspaceId ws, int64_t webhook_id, int64_t now_ms, size_t max);
  // The subscriptions with parked deliveries.
  std::vector<std::pair<WorkspaceId, int64_t>> parked_webhooks() const;
  // Sends a delivery again, whatever its state: pending with `body`, no attempt yet, due at
  // `now_ms`, in a new round. kNotFound when there is no such delivery.
  Result<Delivery> redeliver(const DeliveryRef& ref, std::string body, int64_t now_ms);
  // Due attempts up to `now_ms`, earliest first: (due_ms, ref); at most `max`, not counting the
  // ones `skip` says to step over.
  std::vector<std::pair<int64_t, DeliveryRef>> due(
      int64_t now_ms, size_t max,
      const std::function<bool(const DeliveryRef&)>& skip = nullptr) const;
  // Newest first.
  DeliveryPage list(WorkspaceId ws, int64_t webhook_id, int64_t page, int64_t limit) const;
  // Deliveries pending: due, or parked while their subscription is paused.
  int64_t pending() const;
  // The backlog at `now_ms`, in one pass over the due index and the parked ones (/metrics).
  DeliveryBacklog backlog(int64_t now_ms) const;
  // Every delivery about a contact, newest first per subscription (the contact's export).
  std::vector<Delivery> about(WorkspaceId ws, int64_t contact_id) const;
  // Flushes and compacts the store, so that dropped bodies leave no byte in its files.
  Status compact() const;
  // Writes a RocksDB checkpoint of the store into `dir` (which must not exist): every write made
  // before the call (they sync the WAL, which it copies).
  Status checkpoint(const std::string& dir) const;
  // What RocksDB reports of its size (/metrics).
  StoreSizes sizes() const { return store_sizes(*db_); }

 private:
  explicit DeliveryStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex write_mutex_;  // held by every write
};

}  // namespace contacts
