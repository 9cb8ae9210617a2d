// ViewReader and ViewWriter: the typed reads and writes the fold makes (DESIGN.md section 4).
// A writer is one batch of the fold: its reads see the committed views with the batch's own
// writes on top, and nothing is visible to the API until the projector commits the batch.
// Implementations: BatchViewWriter (views/batch_writer.h, over a ViewBatch of the RocksDB views)
// and MemoryViews (views/memory_views.h, a fake for tests). Not thread-safe: one fold thread
// uses one writer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "views/records.h"
#include "views/tables.h"

namespace contacts {

// Keys the fold looks up first for every command, built once per command and ahead of the
// lookup (the projector prefetches them): opaque outside views/.
struct CommandIdKey {
  std::string bytes;
};
struct EmailKey {
  std::string bytes;
};
CommandIdKey command_id_key(WorkspaceId ws, std::string_view command_id);
// `email_index`: the blind index of the normalized email (privacy/sealing.h).
EmailKey email_key(WorkspaceId ws, std::string_view email);

// What a contact was before a write, as far as its list order goes.
struct ContactBefore {
  int64_t last_seen_at = 0;
  bool same_search_text = true;  // name and email unchanged
};

class ViewReader {
 public:
  virtual ~ViewReader() = default;

  virtual std::optional<Contact> contact(WorkspaceId ws, ContactId id) = 0;
  // The contact whose normalized email has this key.
  virtual std::optional<ContactId> contact_by_email(const EmailKey& key) = 0;
  virtual std::optional<ApiKey> api_key(WorkspaceId ws, int64_t key_id) = 0;
  // Whether a key with this hash (hex SHA-256) exists, in any workspace.
  virtual bool api_key_hash_exists(std::string_view sha256_hex) = 0;
  // The ids of the API keys `creator` (a user or a key; known()) created in `ws`, oldest first.
  virtual std::vector<int64_t> api_keys_created_by(WorkspaceId ws, const Actor& creator) = 0;
  // A user's role in the workspace; kNone when not a member.
  virtual Role member_role(WorkspaceId ws, UserId user) = 0;
  virtual std::optional<Webhook> webhook(WorkspaceId ws, int64_t webhook_id) = 0;
  virtual std::vector<Subscription> subscriptions(WorkspaceId ws) = 0;
};

class ViewWriter : public ViewReader {
 public:
  // Marks the command id seen in its workspace; false when it was seen before (a duplicate).
  virtual bool first_sight(CommandIdKey&& key) = 0;

  // Writes a contact and its list order. `before` tells what the views held (nullopt: a new
  // contact), so its list position moves rather than being duplicated.
  virtual void put_contact(const Contact& contact, const std::optional<ContactBefore>& before) = 0;
  virtual void put_email(const EmailKey& key, ContactId id) = 0;
  // Data keys an erasure destroyed (privacy/): a record sealed under one folds as an erased
  // person's, live as in a replay, whether or not the key store has destroyed it yet.
  virtual bool key_destroyed(std::string_view key_id) = 0;
  virtual void put_destroyed_key(std::string_view key_id) = 0;
  virtual void add_contact_count(WorkspaceId ws, int64_t delta) = 0;
  // Removes the contact, its list order, its email index entry and all its events.
  virtual void delete_contact(const Contact& contact) = 0;
  virtual void put_event(const ContactEvent& event) = 0;

  virtual void put_member(WorkspaceId ws, UserId user, Role role) = 0;
  virtual void remove_member(WorkspaceId ws, UserId user) = 0;
  // Events of the room (booking page) from positions before `position_id` are served without it.
  virtual void mark_room_deleted(WorkspaceId ws, int64_t room_id, int64_t position_id) = 0;
  virtual void mark_booking_page_deleted(WorkspaceId ws, int64_t page_id, int64_t position_id) = 0;

  virtual void put_api_key(const ApiKey& key) = 0;
  virtual void put_api_key_hash(std::string_view sha256_hex, const ApiKeyRef& ref) = 0;
  // Replaces the list of the keys `creator` created in `ws` (api_keys_created_by).
  virtual void put_api_keys_created_by(WorkspaceId ws, const Actor& creator,
                                       const std::vector<int64_t>& key_ids) = 0;
  virtual void put_webhook(const Webhook& webhook) = 0;
  virtual void delete_webhook(WorkspaceId ws, int64_t webhook_id) = 0;
  // An empty list removes the workspace's set.
  virtual void put_subscriptions(WorkspaceId ws,
                                 const std::vector<Subscription>& subscriptions) = 0;
  // Writes the entry and counts it.
  virtual void append_audit(const AuditEntry& entry) = 0;

  // The outbox (projector/outbox.h) and the consumed offsets (projector/projector.h).
  virtual void put_outbox(int64_t position_id, std::string change_event) = 0;
  virtual void put_offset(Partition partition, Offset next) = 0;
};

}  // namespace contacts
