// The key layout of the view store: a one-byte tag per table, then big-endian integers
// (core/bytes.h) so that byte order is numeric order; "desc" fields are stored inverted so
// newest sorts first. The tables that own these keys are described in views/tables.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/types.h"

namespace contacts::keys {

// Tags of the view store. One byte each; every key of a tag starts with it.
enum Tag : char {
  kOffset = 'o',        // o partition -> next offset to apply
  kDedup = 'd',         // d ws command_id -> ""
  kContact = 'c',       // c ws contact -> Contact
  kEmail = 'e',         // e ws email -> contact id
  kListOrder = 'l',     // l ws ~last_seen ~contact -> Contact (list and search)
  kTimeline = 't',      // t ws contact ~created ~event -> Event
  kRoomDeleted = 'x',   // x ws room -> id of the position of its latest room_delete
  kPageDeleted = 'y',   // y ws booking_page -> likewise for booking_page_delete
  kContactCount = 'n',  // n ws -> number of contacts
  kMember = 'm',        // m ws user -> role
  kApiKey = 'k',        // k ws key -> ApiKey
  kApiKeyHash = 'h',    // h sha256 -> ws key
  kKeyCreator = 'K',    // K ws u|k creator -> ids of the API keys the user (key) created
  kAudit = 'a',         // a ws ~audit -> AuditEntry
  kAuditCount = 'q',    // q ws -> number of audit entries
  kWebhook = 'w',       // w ws webhook -> Webhook (JSON, with its secret)
  kWebhookSet = 'W',    // W ws -> the workspace's subscriptions: webhook id + event bits each
  kOutbox = 'g',  // g position -> a change that subscriptions wait for (drained by the dispatcher)
  kDestroyedKey = 'z',  // z key id -> "": a data key its contact's erasure destroyed
};

using bytes::get_u32;
using bytes::get_u64;
using bytes::inverted;
using bytes::prefix_end;
using bytes::put_u32;
using bytes::put_u64;

std::string offset_key(Partition p);
std::string dedup_key(WorkspaceId ws, std::string_view command_id);
std::string contact_key(WorkspaceId ws, int64_t contact);
std::string email_key(WorkspaceId ws, std::string_view email);
std::string destroyed_key_key(std::string_view key_id);
std::string list_prefix(WorkspaceId ws);
std::string list_key(WorkspaceId ws, int64_t last_seen, int64_t contact);
std::string timeline_prefix(WorkspaceId ws, int64_t contact);
std::string timeline_key(WorkspaceId ws, int64_t contact, int64_t created, int64_t event);
// The deletion marker of a room (kRoomDeleted) or booking page (kPageDeleted).
std::string deleted_resource_key(Tag tag, WorkspaceId ws, int64_t resource);
std::string contact_count_key(WorkspaceId ws);
std::string member_key(WorkspaceId ws, int64_t user);
std::string api_key_prefix(WorkspaceId ws);
std::string api_key_key(WorkspaceId ws, int64_t key);
std::string api_key_hash_key(std::string_view sha256_hex);
// The creator of API keys in kKeyCreator: a user (by a JWT) or another API key.
enum CreatorKind : char { kCreatorUser = 'u', kCreatorApiKey = 'k' };
std::string keys_by_creator_key(WorkspaceId ws, CreatorKind kind, int64_t creator);
std::string audit_prefix(WorkspaceId ws);
std::string audit_key(WorkspaceId ws, int64_t audit);
std::string audit_count_key(WorkspaceId ws);
std::string webhook_prefix(WorkspaceId ws);
std::string webhook_key(WorkspaceId ws, int64_t webhook);
std::string webhook_set_key(WorkspaceId ws);
std::string outbox_prefix();
std::string outbox_key(int64_t position);

}  // namespace contacts::keys
