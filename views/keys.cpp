#include "views/keys.h"

namespace contacts::keys {

namespace {
// The tag and workspace, with room for `rest` more bytes (so the key is built in one allocation).
std::string with_ws(Tag tag, WorkspaceId ws, size_t rest = 0) {
  std::string k;
  k.reserve(1 + 8 + rest);
  k.push_back(tag);
  put_u64(k, static_cast<uint64_t>(ws.value));
  return k;
}
}  // namespace

std::string offset_key(Partition p) {
  std::string k(1, kOffset);
  put_u32(k, static_cast<uint32_t>(p.value));
  return k;
}

std::string dedup_key(WorkspaceId ws, std::string_view command_id) {
  std::string k = with_ws(kDedup, ws, command_id.size());
  k.append(command_id);
  return k;
}

std::string contact_key(WorkspaceId ws, int64_t contact) {
  std::string k = with_ws(kContact, ws, 8);
  put_u64(k, static_cast<uint64_t>(contact));
  return k;
}

std::string destroyed_key_key(std::string_view key_id) {
  return std::string(1, kDestroyedKey) + std::string(key_id);
}

std::string email_key(WorkspaceId ws, std::string_view email) {
  std::string k = with_ws(kEmail, ws, email.size());
  k.append(email);
  return k;
}

std::string list_prefix(WorkspaceId ws) { return with_ws(kListOrder, ws); }

std::string list_key(WorkspaceId ws, int64_t last_seen, int64_t contact) {
  std::string k = with_ws(kListOrder, ws, 16);
  put_u64(k, inverted(last_seen));
  put_u64(k, inverted(contact));
  return k;
}

std::string timeline_prefix(WorkspaceId ws, int64_t contact) {
  std::string k = with_ws(kTimeline, ws);
  put_u64(k, static_cast<uint64_t>(contact));
  return k;
}

std::string timeline_key(WorkspaceId ws, int64_t contact, int64_t created, int64_t event) {
  std::string k = with_ws(kTimeline, ws, 24);
  put_u64(k, static_cast<uint64_t>(contact));
  put_u64(k, inverted(created));
  put_u64(k, inverted(event));
  return k;
}

std::string deleted_resource_key(Tag tag, WorkspaceId ws, int64_t resource) {
  std::string k = with_ws(tag, ws);
  put_u64(k, static_cast<uint64_t>(resource));
  return k;
}

std::string contact_count_key(WorkspaceId ws) { return with_ws(kContactCount, ws); }

std::string member_key(WorkspaceId ws, int64_t user) {
  std::string k = with_ws(kMember, ws);
  put_u64(k, static_cast<uint64_t>(user));
  return k;
}

std::string api_key_prefix(WorkspaceId ws) { return with_ws(kApiKey, ws); }

std::string api_key_key(WorkspaceId ws, int64_t key) {
  std::string k = api_key_prefix(ws);
  put_u64(k, static_cast<uint64_t>(key));
  return k;
}

std::string api_key_hash_key(std::string_view sha256_hex) {
  std::string k(1, kApiKeyHash);
  k.append(sha256_hex);
  return k;
}

std::string keys_by_creator_key(WorkspaceId ws, CreatorKind kind, int64_t creator) {
  std::string k = with_ws(kKeyCreator, ws, 9);
  k.push_back(kind);
  put_u64(k, static_cast<uint64_t>(creator));
  return k;
}

std::string audit_prefix(WorkspaceId ws) { return with_ws(kAudit, ws); }

std::string audit_key(WorkspaceId ws, int64_t audit) {
  std::string k = audit_prefix(ws);
  put_u64(k, inverted(audit));
  return k;
}

std::string audit_count_key(WorkspaceId ws) { return with_ws(kAuditCount, ws); }

std::string webhook_prefix(WorkspaceId ws) { return with_ws(kWebhook, ws); }

std::string webhook_key(WorkspaceId ws, int64_t webhook) {
  std::string k = webhook_prefix(ws);
  put_u64(k, static_cast<uint64_t>(webhook));
  return k;
}

std::string webhook_set_key(WorkspaceId ws) { return with_ws(kWebhookSet, ws); }

std::string outbox_prefix() { return std::string(1, kOutbox); }

std::string outbox_key(int64_t position) {
  std::string k = outbox_prefix();
  put_u64(k, static_cast<uint64_t>(position));
  return k;
}

}  // namespace contacts::keys
