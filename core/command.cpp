#include "core/command.h"

#include <array>
#include <utility>

namespace contacts {

namespace {
constexpr std::array<std::pair<CommandType, std::string_view>, 16> kTypeNames{{
    {CommandType::kRoomJoin, "room_join"},
    {CommandType::kBooking, "booking"},
    {CommandType::kContactDelete, "contact_delete"},
    {CommandType::kMemberUpsert, "member_upsert"},
    {CommandType::kMemberRemove, "member_remove"},
    {CommandType::kRoomDelete, "room_delete"},
    {CommandType::kBookingPageDelete, "booking_page_delete"},
    {CommandType::kApiKeyCreate, "api_key_create"},
    {CommandType::kApiKeyRevoke, "api_key_revoke"},
    {CommandType::kWebhookCreate, "webhook_create"},
    {CommandType::kWebhookDelete, "webhook_delete"},
    {CommandType::kContactErase, "contact_erase"},
    {CommandType::kWebhookUpdate, "webhook_update"},
    {CommandType::kWebhookRotateSecret, "webhook_rotate_secret"},
    {CommandType::kWebhookTest, "webhook_test"},
    {CommandType::kWebhookRedeliver, "webhook_redeliver"},
}};
constexpr std::array<std::pair<WebhookEvent, std::string_view>, 3> kEventNames{{
    {kContactCreated, "contact.created"},
    {kContactUpdated, "contact.updated"},
    {kContactDeleted, "contact.deleted"},
}};
}  // namespace

std::string_view to_string(CommandType type) {
  for (const auto& [t, name] : kTypeNames)
    if (t == type) return name;
  return "unknown";
}

std::optional<CommandType> command_type_from(std::string_view name) {
  for (const auto& [t, n] : kTypeNames)
    if (n == name) return t;
  return std::nullopt;
}

std::string_view to_string(WebhookEvent event) {
  for (const auto& [e, name] : kEventNames)
    if (e == event) return name;
  return "unknown";
}

std::optional<WebhookEvent> webhook_event_from(std::string_view name) {
  for (const auto& [e, n] : kEventNames)
    if (n == name) return e;
  return std::nullopt;
}

std::vector<std::string_view> webhook_event_names(uint8_t events) {
  std::vector<std::string_view> names;
  for (const auto& [e, n] : kEventNames)
    if (events & e) names.push_back(n);
  return names;
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kOwner:
      return "owner";
    case Role::kAdmin:
      return "admin";
    case Role::kMember:
      return "member";
    case Role::kNone:
      break;
  }
  return "none";
}

std::optional<Role> role_from(std::string_view name) {
  if (name == "owner") return Role::kOwner;
  if (name == "admin") return Role::kAdmin;
  if (name == "member") return Role::kMember;
  return std::nullopt;
}

}  // namespace contacts
