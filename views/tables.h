// The tables of the view store, one per kind of row: its row struct, its key (views/keys.h) and
// its encoding. Contacts and events are binary (views/records.h: the hot path of the fold and
// of list pages); the rows the API serves as they are (API keys, webhooks, audit entries) are
// stored as their JSON, encoded and decoded only here, so no other file parses a row.
//
//   table          key (views/keys.h)                      row
//   contacts       contact_key(ws, id)                     Contact (records.h), with its list
//                  list_key(ws, ~last_seen, ~id)             order and email index beside it
//   events         timeline_key(ws, contact, ~at, ~id)     ContactEvent (records.h)
//   members        member_key(ws, user)                    Role
//   api keys       api_key_key(ws, id), api_key_hash_key   ApiKey, ApiKeyRef
//                  keys_by_creator_key(ws, kind, creator)  the ids of the keys it created
//   webhooks       webhook_key(ws, id), webhook_set_key    Webhook, Subscription list
//   audit          audit_key(ws, ~id), audit_count_key     AuditEntry
//   outbox         outbox_key(position)                    the change event JSON (projector)
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/command.h"
#include "core/types.h"

namespace contacts {

// An API key as created by api_key_create; its hash is a key of its own (ApiKeyRef).
struct ApiKey {
  int64_t id = 0;
  WorkspaceId workspace_id;
  std::string name;
  std::string key_prefix;
  Role role = Role::kNone;
  bool is_active = false;
  int64_t created_at = 0;
};
// The API's JSON of a key: {id, name, key_prefix, role, is_active, created_at}.
std::string encode(const ApiKey& key);
std::optional<ApiKey> decode_api_key(WorkspaceId ws, std::string_view json);
// What a key's hash points at.
struct ApiKeyRef {
  WorkspaceId workspace_id;
  int64_t key_id = 0;
};
std::string encode(const ApiKeyRef& ref);
std::optional<ApiKeyRef> decode_api_key_ref(std::string_view bytes);
// The ids of the API keys one creator (a user or a key) made in a workspace, oldest first: the
// fold lowers or deactivates them when their creator's role falls (docs/decisions.md, issue 20).
std::string encode_key_ids(const std::vector<int64_t>& ids);
std::vector<int64_t> decode_key_ids(std::string_view bytes);

// A webhook subscription's row, secret included (the API shows it once, at creation or rotation).
// A paused one (is_active false) still gets deliveries, which wait until it is resumed.
struct Webhook {
  int64_t id = 0;
  WorkspaceId workspace_id;
  std::string name;
  std::string url;
  uint8_t events = 0;  // WebhookEvent bits
  bool is_active = true;
  int64_t created_at = 0;
  std::string secret;
  // The secret a rotation replaced: it still signs deliveries, beside the new one, until
  // previous_secret_expires_at (unix seconds). Empty when none.
  std::string previous_secret;
  int64_t previous_secret_expires_at = 0;
};
// kNo: the API's listing. kYes: with the current secret (the answer to a creation or a rotation).
// kStored: the row as stored, with the previous secret too while there is one.
enum class WithSecret { kNo, kYes, kStored };
// The names of `events` (WebhookEvent bits) as a JSON array, in the canonical order.
nlohmann::ordered_json webhook_events_json(uint8_t events);
// {id, name, url, events, is_active, created_at[, secret[, previous_secret,
// previous_secret_expires_at]]}.
std::string encode(const Webhook& webhook, WithSecret secret = WithSecret::kStored);
std::optional<Webhook> decode_webhook(WorkspaceId ws, std::string_view json);

// A workspace's subscriptions as the fold sees them: which events each wants. The set is one
// row per workspace, so a change looks up its subscribers with one read.
struct Subscription {
  int64_t webhook_id = 0;
  uint8_t events = 0;  // WebhookEvent bits
};
std::string encode_subscriptions(const std::vector<Subscription>& subscriptions);
std::vector<Subscription> decode_subscriptions(std::string_view bytes);

// An audit log entry (DESIGN.md section 6): who did what to which id, when.
struct AuditEntry {
  int64_t id = 0;
  WorkspaceId workspace_id;
  std::string action;  // "contact.delete", "api_key.create", ...
  Actor actor;
  std::string target_type;
  int64_t target_id = 0;
  nlohmann::ordered_json details;
  int64_t created_at = 0;
};
// {id, action, actor, target_type, target_id, details, created_at}.
std::string encode(const AuditEntry& entry);
std::optional<AuditEntry> decode_audit_entry(WorkspaceId ws, std::string_view json);

}  // namespace contacts
