// The pure fold: one log entry applied to the views through a ViewBatch (DESIGN.md section 4).
// No socket, consumer or clock: the same log gives the same views, ids and changes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bus/log.h"
#include "core/status.h"
#include "views/view_store.h"

namespace contacts {

// A domain change for the change stream (webhooks): what a contact became or was.
struct Change {
  enum class Kind { kCreated, kUpdated, kDeleted };
  Kind kind = Kind::kCreated;
  WorkspaceId workspace_id;
  int64_t contact_id = 0;
  std::string name;
  std::optional<std::string> email;
  int64_t position_id = 0;  // id of the log position that caused it: stable across replays
  int64_t occurred_at = 0;
};

// A webhook subscription as the fold sees it: which events it wants.
struct Subscription {
  int64_t webhook_id = 0;
  uint8_t events = 0;  // WebhookEvent bits
};
std::string encode_subscriptions(const std::vector<Subscription>& subscriptions);
std::vector<Subscription> decode_subscriptions(std::string_view bytes);
WebhookEvent webhook_event_of(Change::Kind kind);

// Which changes go to the outbox.
enum class ChangeScope {
  kSubscribed,  // those a webhook subscription wants (the in-process dispatcher's outbox)
  kAll,         // every change, for the change topic (`contacts project`), with its subscribers
};

// Queues `change` in the outbox of the batch (key `g position`) with the subscriptions of its
// workspace that want its event, as of the batch's state. Returns whether it was queued: with
// kSubscribed only when a subscription wants it. The outbox is written in the same batch as
// the views, so it is exactly as durable as they are.
// `queued`, when given, receives the entry's value (the change event, schemas/change_event.json).
bool record_change(ViewBatch& batch, const Change& change, ChangeScope scope = ChangeScope::kSubscribed,
                   std::string* queued = nullptr);

// Applies `entry` of a log with `partitions` partitions. A record that is not a valid
// command is not applied and the failure (kInvalid, with the reason) is returned; the
// caller dead-letters it and moves on.
Status apply(ViewBatch& batch, const LogEntry& entry, int32_t partitions, std::vector<Change>& changes);

// The same in two parts, so that a run of records can be decoded first and their first lookups
// fetched ahead (prefetch_prepared) while the ones before them are applied.
struct PreparedRecord {
  Result<Command> command{Status{Code::kInvalid, "not prepared"}};
  // Of a command that decoded: its command-id key, and (visits) its participant's email key.
  std::string dedup_key;
  std::optional<std::string> email;  // normalized
  std::string email_key;
};
// Decodes and checks `entry` (nothing is read from the views).
void prepare(const LogEntry& entry, int32_t partitions, PreparedRecord& out);
// Starts fetching what applying `prepared` looks up first: the key filter's blocks of its
// command-id and email keys, each otherwise a miss to memory. Called a few records before it
// is applied (fetched at decoding, a run of records earlier, they were evicted by then).
void prefetch_prepared(const ViewBatch& batch, const PreparedRecord& prepared);
// Applies a prepared record; the same as apply() on its entry.
Status apply_prepared(ViewBatch& batch, const LogEntry& entry, PreparedRecord& prepared, int32_t partitions,
                      std::vector<Change>& changes);

}  // namespace contacts
