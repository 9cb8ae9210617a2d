#include "views/batch_writer.h"

#include "views/keys.h"
#include "views/view_store.h"

namespace contacts {

CommandIdKey command_id_key(WorkspaceId ws, std::string_view command_id) {
  return {keys::dedup_key(ws, command_id)};
}

EmailKey email_key(WorkspaceId ws, std::string_view email) { return {keys::email_key(ws, email)}; }

std::optional<Contact> BatchViewWriter::contact(WorkspaceId ws, ContactId id) {
  auto v = batch_.get(keys::contact_key(ws, id.value));
  Contact c;
  if (!v || !decode(*v, c)) return std::nullopt;
  return c;
}

std::optional<ContactId> BatchViewWriter::contact_by_email(const EmailKey& key) {
  auto v = batch_.get(key.bytes);
  if (!v) return std::nullopt;
  return ContactId(decode_counter(*v));
}

std::optional<ApiKey> BatchViewWriter::api_key(WorkspaceId ws, int64_t key_id) {
  auto v = batch_.get(keys::api_key_key(ws, key_id));
  if (!v) return std::nullopt;
  return decode_api_key(ws, *v);
}

bool BatchViewWriter::api_key_hash_exists(std::string_view sha256_hex) {
  return batch_.get(keys::api_key_hash_key(sha256_hex)).has_value();
}

namespace {
std::string keys_by_creator_key(WorkspaceId ws, const Actor& creator) {
  return creator.user_id != 0
             ? keys::keys_by_creator_key(ws, keys::kCreatorUser, creator.user_id)
             : keys::keys_by_creator_key(ws, keys::kCreatorApiKey, creator.api_key_id);
}
}  // namespace

std::vector<int64_t> BatchViewWriter::api_keys_created_by(WorkspaceId ws, const Actor& creator) {
  auto v = batch_.get(keys_by_creator_key(ws, creator));
  if (!v) return {};
  return decode_key_ids(*v);
}

Role BatchViewWriter::member_role(WorkspaceId ws, UserId user) {
  auto v = batch_.get(keys::member_key(ws, user.value));
  if (!v) return Role::kNone;
  return role_from(*v).value_or(Role::kNone);
}

std::optional<Webhook> BatchViewWriter::webhook(WorkspaceId ws, int64_t webhook_id) {
  auto v = batch_.get(keys::webhook_key(ws, webhook_id));
  if (!v) return std::nullopt;
  return decode_webhook(ws, *v);
}

std::vector<Subscription> BatchViewWriter::subscriptions(WorkspaceId ws) {
  auto v = batch_.get(keys::webhook_set_key(ws));
  if (!v) return {};
  return decode_subscriptions(*v);
}

bool BatchViewWriter::first_sight(CommandIdKey&& key) {
  if (batch_.get(key.bytes)) return false;
  batch_.put(std::move(key.bytes), "");
  return true;
}

void BatchViewWriter::put_contact(const Contact& contact,
                                  const std::optional<ContactBefore>& before) {
  const WorkspaceId ws(contact.workspace_id);
  batch_.put(keys::contact_key(ws, contact.id), encode(contact));
  std::string list_key = keys::list_key(ws, contact.last_seen_at, contact.id);
  if (before && before->last_seen_at == contact.last_seen_at) {
    if (!before->same_search_text) batch_.put(std::move(list_key), encode_search_text(contact));
    return;
  }
  if (before) batch_.del(keys::list_key(ws, before->last_seen_at, contact.id));
  // last_seen_at only grows, so a list key with a new last_seen_at was never committed.
  batch_.put_new(std::move(list_key), encode_search_text(contact));
}

bool BatchViewWriter::key_destroyed(std::string_view key_id) {
  return batch_.get(keys::destroyed_key_key(key_id)).has_value();
}

void BatchViewWriter::put_destroyed_key(std::string_view key_id) {
  batch_.put(keys::destroyed_key_key(key_id), "");
}

void BatchViewWriter::put_email(const EmailKey& key, ContactId id) {
  batch_.put(key.bytes, encode_counter(id.value));
}

void BatchViewWriter::add_to_counter(const std::string& key, int64_t delta) {
  auto v = batch_.get(key);
  batch_.put(key, encode_counter((v ? decode_counter(*v) : 0) + delta));
}

void BatchViewWriter::add_contact_count(WorkspaceId ws, int64_t delta) {
  add_to_counter(keys::contact_count_key(ws), delta);
}

void BatchViewWriter::delete_contact(const Contact& contact) {
  const WorkspaceId ws(contact.workspace_id);
  batch_.del(keys::contact_key(ws, contact.id));
  batch_.del(keys::list_key(ws, contact.last_seen_at, contact.id));
  if (!contact.email_index.empty()) batch_.del(keys::email_key(ws, contact.email_index));
  std::vector<std::string> event_keys;
  batch_.scan(keys::timeline_prefix(ws, contact.id), [&](std::string_view key, std::string_view) {
    event_keys.emplace_back(key);
    return true;
  });
  for (const auto& key : event_keys) batch_.del(key);
}

void BatchViewWriter::put_event(const ContactEvent& event) {
  batch_.put(keys::timeline_key(WorkspaceId(event.workspace_id), event.contact_id, event.created_at,
                                event.id),
             encode(event));
}

void BatchViewWriter::put_member(WorkspaceId ws, UserId user, Role role) {
  batch_.put(keys::member_key(ws, user.value), std::string(to_string(role)));
}

void BatchViewWriter::remove_member(WorkspaceId ws, UserId user) {
  batch_.del(keys::member_key(ws, user.value));
}

void BatchViewWriter::mark_room_deleted(WorkspaceId ws, int64_t room_id, int64_t position_id) {
  batch_.put(keys::deleted_resource_key(keys::kRoomDeleted, ws, room_id),
             encode_counter(position_id));
}

void BatchViewWriter::mark_booking_page_deleted(WorkspaceId ws, int64_t page_id,
                                                int64_t position_id) {
  batch_.put(keys::deleted_resource_key(keys::kPageDeleted, ws, page_id),
             encode_counter(position_id));
}

void BatchViewWriter::put_api_key(const ApiKey& key) {
  batch_.put(keys::api_key_key(key.workspace_id, key.id), encode(key));
}

void BatchViewWriter::put_api_key_hash(std::string_view sha256_hex, const ApiKeyRef& ref) {
  batch_.put(keys::api_key_hash_key(sha256_hex), encode(ref));
}

void BatchViewWriter::put_api_keys_created_by(WorkspaceId ws, const Actor& creator,
                                              const std::vector<int64_t>& key_ids) {
  batch_.put(keys_by_creator_key(ws, creator), encode_key_ids(key_ids));
}

void BatchViewWriter::put_webhook(const Webhook& webhook) {
  batch_.put(keys::webhook_key(webhook.workspace_id, webhook.id), encode(webhook));
}

void BatchViewWriter::delete_webhook(WorkspaceId ws, int64_t webhook_id) {
  batch_.del(keys::webhook_key(ws, webhook_id));
}

void BatchViewWriter::put_subscriptions(WorkspaceId ws,
                                        const std::vector<Subscription>& subscriptions) {
  if (subscriptions.empty())
    batch_.del(keys::webhook_set_key(ws));
  else
    batch_.put(keys::webhook_set_key(ws), encode_subscriptions(subscriptions));
}

void BatchViewWriter::append_audit(const AuditEntry& entry) {
  batch_.put(keys::audit_key(entry.workspace_id, entry.id), encode(entry));
  add_to_counter(keys::audit_count_key(entry.workspace_id), 1);
}

void BatchViewWriter::put_outbox(int64_t position_id, std::string change_event) {
  batch_.put(keys::outbox_key(position_id), std::move(change_event));
}

void BatchViewWriter::put_offset(Partition partition, Offset next) {
  batch_.put(keys::offset_key(partition), encode_counter(next.value));
}

}  // namespace contacts
