#include "views/memory_views.h"

#include <algorithm>

namespace contacts {

namespace {

template <typename Map, typename Key>
auto found(const Map& map, const Key& key) -> std::optional<typename Map::mapped_type> {
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::optional<Contact> MemoryViews::contact(WorkspaceId ws, ContactId id) {
  return found(contacts, WsId{ws.value, id.value});
}

std::optional<ContactId> MemoryViews::contact_by_email(const EmailKey& key) {
  return found(emails, key.bytes);
}

std::optional<ApiKey> MemoryViews::api_key(WorkspaceId ws, int64_t key_id) {
  return found(api_keys, WsId{ws.value, key_id});
}

bool MemoryViews::api_key_hash_exists(std::string_view sha256_hex) {
  return api_key_hashes.count(std::string(sha256_hex)) > 0;
}

std::vector<int64_t> MemoryViews::api_keys_created_by(WorkspaceId ws, const Actor& creator) {
  return found(keys_by_creator, std::tuple{ws.value, creator.user_id, creator.api_key_id})
      .value_or(std::vector<int64_t>{});
}

Role MemoryViews::member_role(WorkspaceId ws, UserId user) {
  return found(members, WsId{ws.value, user.value}).value_or(Role::kNone);
}

std::optional<Webhook> MemoryViews::webhook(WorkspaceId ws, int64_t webhook_id) {
  return found(webhooks, WsId{ws.value, webhook_id});
}

std::vector<Subscription> MemoryViews::subscriptions(WorkspaceId ws) {
  return found(subscription_sets, ws.value).value_or(std::vector<Subscription>{});
}

bool MemoryViews::first_sight(CommandIdKey&& key) {
  return command_ids.insert(std::move(key.bytes)).second;
}

void MemoryViews::put_contact(const Contact& contact, const std::optional<ContactBefore>& before) {
  contacts[{contact.workspace_id, contact.id}] = contact;
  if (before) list_order.erase({contact.workspace_id, before->last_seen_at, contact.id});
  list_order.insert({contact.workspace_id, contact.last_seen_at, contact.id});
}

void MemoryViews::put_email(const EmailKey& key, ContactId id) { emails[key.bytes] = id; }

void MemoryViews::add_contact_count(WorkspaceId ws, int64_t delta) {
  contact_counts[ws.value] += delta;
}

void MemoryViews::delete_contact(const Contact& contact) {
  const int64_t ws = contact.workspace_id;
  contacts.erase({ws, contact.id});
  list_order.erase({ws, contact.last_seen_at, contact.id});
  if (!contact.email_index.empty())
    emails.erase(email_key(WorkspaceId(ws), contact.email_index).bytes);
  std::erase_if(events, [&](const auto& entry) {
    return std::get<0>(entry.first) == ws && std::get<1>(entry.first) == contact.id;
  });
}

void MemoryViews::put_event(const ContactEvent& event) {
  events[{event.workspace_id, event.contact_id, event.id}] = event;
}

void MemoryViews::put_member(WorkspaceId ws, UserId user, Role role) {
  members[{ws.value, user.value}] = role;
}

void MemoryViews::remove_member(WorkspaceId ws, UserId user) {
  members.erase({ws.value, user.value});
}

void MemoryViews::mark_room_deleted(WorkspaceId ws, int64_t room_id, int64_t position_id) {
  deleted_rooms[{ws.value, room_id}] = position_id;
}

void MemoryViews::mark_booking_page_deleted(WorkspaceId ws, int64_t page_id, int64_t position_id) {
  deleted_booking_pages[{ws.value, page_id}] = position_id;
}

void MemoryViews::put_api_key(const ApiKey& key) {
  api_keys[{key.workspace_id.value, key.id}] = key;
}

void MemoryViews::put_api_key_hash(std::string_view sha256_hex, const ApiKeyRef& ref) {
  api_key_hashes[std::string(sha256_hex)] = ref;
}

void MemoryViews::put_api_keys_created_by(WorkspaceId ws, const Actor& creator,
                                          const std::vector<int64_t>& key_ids) {
  keys_by_creator[{ws.value, creator.user_id, creator.api_key_id}] = key_ids;
}

void MemoryViews::put_webhook(const Webhook& webhook) {
  webhooks[{webhook.workspace_id.value, webhook.id}] = webhook;
}

void MemoryViews::delete_webhook(WorkspaceId ws, int64_t webhook_id) {
  webhooks.erase({ws.value, webhook_id});
}

void MemoryViews::put_subscriptions(WorkspaceId ws,
                                    const std::vector<Subscription>& subscriptions) {
  if (subscriptions.empty())
    subscription_sets.erase(ws.value);
  else
    subscription_sets[ws.value] = subscriptions;
}

void MemoryViews::append_audit(const AuditEntry& entry) {
  audit[{entry.workspace_id.value, entry.id}] = entry;
}

void MemoryViews::put_outbox(int64_t position_id, std::string change_event) {
  outbox[position_id] = std::move(change_event);
}

void MemoryViews::put_offset(Partition partition, Offset next) {
  offsets[partition.value] = next.value;
}

}  // namespace contacts
