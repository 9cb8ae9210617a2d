// MemoryViews: a ViewWriter over plain maps, for tests of the fold and of what sits on top of
// it (no RocksDB, no batch, no cache). Its tables are public so a test can look at exactly
// what was written. Not thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "views/view_writer.h"

namespace contacts {

class MemoryViews final : public ViewWriter {
 public:
  std::optional<Contact> contact(WorkspaceId ws, ContactId id) override;
  std::optional<ContactId> contact_by_email(const EmailKey& key) override;
  std::optional<ApiKey> api_key(WorkspaceId ws, int64_t key_id) override;
  bool api_key_hash_exists(std::string_view sha256_hex) override;
  std::vector<int64_t> api_keys_created_by(WorkspaceId ws, const Actor& creator) override;
  Role member_role(WorkspaceId ws, UserId user) override;
  std::optional<Webhook> webhook(WorkspaceId ws, int64_t webhook_id) override;
  std::vector<Subscription> subscriptions(WorkspaceId ws) override;

  bool first_sight(CommandIdKey&& key) override;
  void put_contact(const Contact& contact, const std::optional<ContactBefore>& before) override;
  void put_email(const EmailKey& key, ContactId id) override;
  bool key_destroyed(std::string_view key_id) override {
    return destroyed_keys.count(std::string(key_id)) > 0;
  }
  void put_destroyed_key(std::string_view key_id) override {
    destroyed_keys.emplace(key_id);
  }
  void add_contact_count(WorkspaceId ws, int64_t delta) override;
  void delete_contact(const Contact& contact) override;
  void put_event(const ContactEvent& event) override;
  void put_member(WorkspaceId ws, UserId user, Role role) override;
  void remove_member(WorkspaceId ws, UserId user) override;
  void mark_room_deleted(WorkspaceId ws, int64_t room_id, int64_t position_id) override;
  void mark_booking_page_deleted(WorkspaceId ws, int64_t page_id, int64_t position_id) override;
  void put_api_key(const ApiKey& key) override;
  void put_api_key_hash(std::string_view sha256_hex, const ApiKeyRef& ref) override;
  void put_api_keys_created_by(WorkspaceId ws, const Actor& creator,
                               const std::vector<int64_t>& key_ids) override;
  void put_webhook(const Webhook& webhook) override;
  void delete_webhook(WorkspaceId ws, int64_t webhook_id) override;
  void put_subscriptions(WorkspaceId ws, const std::vector<Subscription>& subscriptions) override;
  void append_audit(const AuditEntry& entry) override;
  void put_outbox(int64_t position_id, std::string change_event) override;
  void put_offset(Partition partition, Offset next) override;

  using WsId = std::pair<int64_t, int64_t>;  // workspace, id
  std::map<WsId, Contact> contacts;
  // Contacts in list order as the fold keeps it: (workspace, last_seen_at, id).
  std::set<std::tuple<int64_t, int64_t, int64_t>> list_order;
  std::map<std::string, ContactId> emails;  // by EmailKey bytes
  std::set<std::string> destroyed_keys;
  std::map<int64_t, int64_t> contact_counts;
  std::map<std::tuple<int64_t, int64_t, int64_t>, ContactEvent>
      events;  // workspace, contact, event id
  std::map<WsId, Role> members;
  std::map<WsId, int64_t> deleted_rooms, deleted_booking_pages;  // -> position id of the delete
  std::map<WsId, ApiKey> api_keys;
  std::map<std::string, ApiKeyRef> api_key_hashes;
  // (workspace, creator user id, creator key id) -> the ids of the keys it created.
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<int64_t>> keys_by_creator;
  std::map<WsId, Webhook> webhooks;
  std::map<int64_t, std::vector<Subscription>> subscription_sets;
  std::map<WsId, AuditEntry> audit;
  std::map<int64_t, std::string> outbox;
  std::map<int32_t, int64_t> offsets;
  std::set<std::string> command_ids;  // by CommandIdKey bytes
};

}  // namespace contacts
