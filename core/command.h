// Command: one record of the command log, decoded and validated (DESIGN.md section 3).
// A Command that exists has passed every rule of its JSON Schema in schemas/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace contacts {

enum class CommandType {
  kRoomJoin,
  kBooking,
  kContactDelete,
  kMemberUpsert,
  kMemberRemove,
  kRoomDelete,
  kBookingPageDelete,
  kApiKeyCreate,
  kApiKeyRevoke,
  kWebhookCreate,
  kWebhookDelete,
  kContactErase,
  kWebhookUpdate,
  kWebhookRotateSecret,
  kWebhookTest,
  kWebhookRedeliver,
};

// Ordered by power: a role may grant at most itself.
enum class Role { kNone = 0, kMember = 1, kAdmin = 2, kOwner = 3 };

std::string_view to_string(CommandType type);
std::optional<CommandType> command_type_from(std::string_view name);
std::string_view to_string(Role role);
std::optional<Role> role_from(std::string_view name);
inline bool can_manage(Role role) { return role >= Role::kAdmin; }
// The commands of webhook subscriptions: the API alone produces them (it draws secrets, checks
// URLs and keeps the deliveries).
inline bool is_webhook_command(CommandType type) {
  return type == CommandType::kWebhookCreate || type == CommandType::kWebhookDelete ||
         type == CommandType::kWebhookUpdate || type == CommandType::kWebhookRotateSecret ||
         type == CommandType::kWebhookTest || type == CommandType::kWebhookRedeliver;
}

// Webhook event types, as bits of a subscription's event set.
enum WebhookEvent : uint8_t {
  kContactCreated = 1,
  kContactUpdated = 2,
  kContactDeleted = 4,
};
inline constexpr uint8_t kAllWebhookEvents = kContactCreated | kContactUpdated | kContactDeleted;
std::string_view to_string(WebhookEvent event);
std::optional<WebhookEvent> webhook_event_from(std::string_view name);
// The names of the events in `events`, in the order created, updated, deleted.
std::vector<std::string_view> webhook_event_names(uint8_t events);

// Who asked for a delete or a key change: a user, an API key, or nobody known.
struct Actor {
  int64_t user_id = 0;
  int64_t api_key_id = 0;
  bool known() const { return user_id != 0 || api_key_id != 0; }
};

// The version of the command format this build decodes (a command's optional "version"; absent
// is 1). A breaking change to a type bumps it, with an upcaster from the version before.
inline constexpr int64_t kCommandFormatVersion = 1;

// Bounds of the command format; the JSON Schemas in schemas/ state the same numbers.
inline constexpr size_t kMaxCommandIdLength = 128;
inline constexpr size_t kMaxNameLength = 200;
inline constexpr size_t kMaxEmailLength = 320;
inline constexpr size_t kMaxLabelLength = 200;
inline constexpr size_t kMaxMetadataBytes = 16 * 1024;
// A sealed participant: its name, email and metadata with their lengths, sealed, in base64.
inline constexpr size_t kMaxSealedBytes = 32 * 1024;
inline constexpr size_t kMaxSubjectLength = 100;
inline constexpr size_t kMaxKeyNameLength = 100;
inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxWebhookNameLength = 100;
inline constexpr size_t kMaxUrlLength = 2048;
// "whsec_" + base64 of 32 bytes.
inline constexpr size_t kWebhookSecretLength = 6 + 44;
// How long a rotated-out secret still signs deliveries (webhook_rotate_secret): at most a week.
inline constexpr int64_t kMaxSecretOverlapSeconds = 7 * 24 * 3600;
// A delivery's message id: "msg_" and the decimal log position of its change, below 2^53.
inline constexpr size_t kMaxMessageIdLength = 4 + 16;

struct Command {
  CommandType type = CommandType::kRoomJoin;
  std::string command_id;
  WorkspaceId workspace_id;
  int64_t occurred_at = 0;
  bool occurred_at_missing = false;  // ingest stamps the time before appending

  // room_join, booking
  std::string participant_name;  // trimmed
  std::optional<std::string> participant_email;
  int64_t room_id = 0;  // also room_delete
  std::string room_name;
  std::optional<std::string> room_display_name;
  int64_t booking_page_id = 0;  // also booking_page_delete
  std::string booking_page_title;
  std::string booking_page_slug;
  std::optional<std::string> metadata;  // compact JSON text; nullopt = null or absent
  // A sealed visit (privacy/sealing.h): the participant and metadata above are filled by opening
  // `sealed_data` under key `data_key_id` of `subject`, and are empty when that key was destroyed
  // (`key_gone`: a record of an erased person).
  bool sealed = false;
  std::string sealed_data;  // base64, as in the record
  std::string subject;
  std::string data_key_id;
  bool key_gone = false;
  // The blind index of the participant's normalized email (32 bytes; empty when none): of a
  // sealed visit, or the person a contact_erase names.
  std::string email_index;
  // contact_erase as a producer sends it: the email, which ingest turns into its email_index.
  std::optional<std::string> erase_email;

  // contact_delete, contact_erase (or email_index), api_key_create, api_key_revoke
  int64_t contact_id = 0;
  Actor actor;

  // member_upsert, member_remove, api_key_create
  int64_t user_id = 0;
  Role role = Role::kNone;

  // api_key_create, api_key_revoke
  std::string key_name;
  std::string key_hash;    // hex SHA-256 of the full key
  std::string key_prefix;  // the first characters of the key, shown in listings
  int64_t key_id = 0;

  // webhook_create, and webhook_delete, _update, _rotate_secret, _test, _redeliver (webhook_id)
  std::string webhook_name;  // trimmed
  std::string webhook_url;
  uint8_t webhook_events = 0;  // WebhookEvent bits
  std::string webhook_secret;  // also webhook_rotate_secret: the new one
  int64_t webhook_id = 0;
  bool webhook_active = true;           // webhook_update: false pauses, true resumes
  int64_t webhook_overlap_seconds = 0;  // webhook_rotate_secret: how long the old one signs
  std::string webhook_message_id;       // webhook_redeliver: msg_<position>
};

}  // namespace contacts
