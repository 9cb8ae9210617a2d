#include "views/tables.h"

#include "core/bytes.h"

namespace contacts {

namespace {

using ordered_json = nlohmann::ordered_json;

ordered_json parsed_object(std::string_view json) {
  auto j = ordered_json::parse(json, nullptr, false);
  return j.is_object() ? j : ordered_json();
}

ordered_json actor_json(const Actor& actor) {
  if (actor.user_id != 0) return {{"user_id", actor.user_id}};
  if (actor.api_key_id != 0) return {{"api_key_id", actor.api_key_id}};
  return nullptr;
}

Actor actor_from(const ordered_json& j) {
  Actor actor;
  if (!j.is_object()) return actor;
  actor.user_id = j.value("user_id", int64_t{0});
  actor.api_key_id = j.value("api_key_id", int64_t{0});
  return actor;
}

uint8_t event_bits(const ordered_json& names) {
  uint8_t bits = 0;
  if (!names.is_array()) return bits;
  for (const auto& name : names)
    if (name.is_string())
      if (auto event = webhook_event_from(name.get_ref<const std::string&>())) bits |= *event;
  return bits;
}

}  // namespace

std::string encode(const ApiKey& key) {
  ordered_json row = {{"id", key.id},
                      {"name", key.name},
                      {"key_prefix", key.key_prefix},
                      {"role", to_string(key.role)},
                      {"is_active", key.is_active},
                      {"created_at", key.created_at}};
  return row.dump();
}

std::optional<ApiKey> decode_api_key(WorkspaceId ws, std::string_view json) {
  auto j = parsed_object(json);
  if (j.is_null()) return std::nullopt;
  ApiKey key;
  key.id = j.value("id", int64_t{0});
  key.workspace_id = ws;
  key.name = j.value("name", std::string());
  key.key_prefix = j.value("key_prefix", std::string());
  key.role = role_from(j.value("role", std::string())).value_or(Role::kNone);
  key.is_active = j.value("is_active", false);
  key.created_at = j.value("created_at", int64_t{0});
  return key;
}

std::string encode(const ApiKeyRef& ref) {
  std::string out;
  bytes::put_u64(out, static_cast<uint64_t>(ref.workspace_id.value));
  bytes::put_u64(out, static_cast<uint64_t>(ref.key_id));
  return out;
}

std::optional<ApiKeyRef> decode_api_key_ref(std::string_view in) {
  if (in.size() != 16) return std::nullopt;
  return ApiKeyRef{WorkspaceId(static_cast<int64_t>(bytes::get_u64(in, 0))),
                   static_cast<int64_t>(bytes::get_u64(in, 8))};
}

std::string encode_key_ids(const std::vector<int64_t>& ids) {
  std::string out;
  out.reserve(ids.size() * 8);
  for (int64_t id : ids) bytes::put_u64(out, static_cast<uint64_t>(id));
  return out;
}

std::vector<int64_t> decode_key_ids(std::string_view in) {
  std::vector<int64_t> out;
  out.reserve(in.size() / 8);
  for (size_t at = 0; at + 8 <= in.size(); at += 8)
    out.push_back(static_cast<int64_t>(bytes::get_u64(in, at)));
  return out;
}

ordered_json webhook_events_json(uint8_t events) {
  ordered_json names = ordered_json::array();
  for (auto name : webhook_event_names(events)) names.push_back(name);
  return names;
}

std::string encode(const Webhook& webhook, WithSecret secret) {
  ordered_json row = {{"id", webhook.id},
                      {"name", webhook.name},
                      {"url", webhook.url},
                      {"events", webhook_events_json(webhook.events)},
                      {"is_active", webhook.is_active},
                      {"created_at", webhook.created_at}};
  if (secret != WithSecret::kNo) row["secret"] = webhook.secret;
  if (secret == WithSecret::kStored && !webhook.previous_secret.empty()) {
    row["previous_secret"] = webhook.previous_secret;
    row["previous_secret_expires_at"] = webhook.previous_secret_expires_at;
  }
  return row.dump();
}

std::optional<Webhook> decode_webhook(WorkspaceId ws, std::string_view json) {
  auto j = parsed_object(json);
  if (j.is_null()) return std::nullopt;
  Webhook webhook;
  webhook.id = j.value("id", int64_t{0});
  webhook.workspace_id = ws;
  webhook.name = j.value("name", std::string());
  webhook.url = j.value("url", std::string());
  webhook.events = event_bits(j.value("events", ordered_json::array()));
  webhook.is_active = j.value("is_active", true);
  webhook.created_at = j.value("created_at", int64_t{0});
  webhook.secret = j.value("secret", std::string());
  webhook.previous_secret = j.value("previous_secret", std::string());
  webhook.previous_secret_expires_at = j.value("previous_secret_expires_at", int64_t{0});
  return webhook;
}

std::string encode_subscriptions(const std::vector<Subscription>& subscriptions) {
  std::string out;
  for (const auto& s : subscriptions) {
    bytes::put_u64(out, static_cast<uint64_t>(s.webhook_id));
    out.push_back(static_cast<char>(s.events));
  }
  return out;
}

std::vector<Subscription> decode_subscriptions(std::string_view in) {
  std::vector<Subscription> out;
  for (size_t at = 0; at + 9 <= in.size(); at += 9)
    out.push_back({static_cast<int64_t>(bytes::get_u64(in, at)), static_cast<uint8_t>(in[at + 8])});
  return out;
}

std::string encode(const AuditEntry& entry) {
  ordered_json row = {{"id", entry.id},
                      {"action", entry.action},
                      {"actor", actor_json(entry.actor)},
                      {"target_type", entry.target_type},
                      {"target_id", entry.target_id},
                      {"details", entry.details},
                      {"created_at", entry.created_at}};
  return row.dump();
}

std::optional<AuditEntry> decode_audit_entry(WorkspaceId ws, std::string_view json) {
  auto j = parsed_object(json);
  if (j.is_null()) return std::nullopt;
  AuditEntry entry;
  entry.id = j.value("id", int64_t{0});
  entry.workspace_id = ws;
  entry.action = j.value("action", std::string());
  entry.actor = actor_from(j.value("actor", ordered_json()));
  entry.target_type = j.value("target_type", std::string());
  entry.target_id = j.value("target_id", int64_t{0});
  entry.details = j.value("details", ordered_json::object());
  entry.created_at = j.value("created_at", int64_t{0});
  return entry;
}

}  // namespace contacts
