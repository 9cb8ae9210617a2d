// BatchViewWriter: the ViewWriter of the RocksDB views, writing into one ViewBatch (whose
// caches, key filter and overlay are views/ internals the fold never sees).
#pragma once

#include "views/view_batch.h"
#include "views/view_writer.h"

namespace contacts {

class BatchViewWriter final : public ViewWriter {
 public:
  explicit BatchViewWriter(ViewBatch& batch) : batch_(batch) {}

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
  bool key_destroyed(std::string_view key_id) override;
  void put_destroyed_key(std::string_view key_id) override;
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

  // Starts fetching what looking `key` up takes first (its block of the key filter).
  void prefetch(const CommandIdKey& key) const { batch_.prefetch(key.bytes); }
  void prefetch(const EmailKey& key) const { batch_.prefetch(key.bytes); }

 private:
  void add_to_counter(const std::string& key, int64_t delta);
  ViewBatch& batch_;
};

}  // namespace contacts
