// DeliveryStore: the dispatcher's own RocksDB (DATA/webhooks), apart from the views so that a
// rebuild of the views keeps it. One record per (subscription, change), an index of due
// attempts, and a count per subscription. Written with a synced WAL: a delivery recorded as
// succeeded is never sent again, and one not yet recorded is sent again after a crash.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  std::optional<int64_t> next_attempt_ms;  // unix milliseconds; set while pending
  std::string message_id() const { return "msg_" + std::to_string(ref.position); }
  // The row served by GET .../deliveries.
  std::string to_api_json() const;
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
  // its next_attempt_ms (or out of the index once it is no longer pending).
  Status update(const Delivery& delivery, int64_t due_ms);
  // Due attempts up to `now_ms`, earliest first: (due_ms, ref); at most `max`, not counting the
  // ones `skip` says to step over.
  std::vector<std::pair<int64_t, DeliveryRef>> due(
      int64_t now_ms, size_t max,
      const std::function<bool(const DeliveryRef&)>& skip = nullptr) const;
  // Newest first.
  DeliveryPage list(WorkspaceId ws, int64_t webhook_id, int64_t page, int64_t limit) const;
  // Deliveries waiting in the due index.
  int64_t pending() const;
  // Every delivery about a contact, newest first per subscription (the contact's export).
  std::vector<Delivery> about(WorkspaceId ws, int64_t contact_id) const;
  // Flushes and compacts the store, so that dropped bodies leave no byte in its files.
  Status compact() const;
  // Writes a RocksDB checkpoint of the store into `dir` (which must not exist): every write made
  // before the call (they sync the WAL, which it copies).
  Status checkpoint(const std::string& dir) const;

 private:
  explicit DeliveryStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace contacts
