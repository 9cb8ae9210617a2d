#include "core/command.h"

#include <array>
#include <utility>

namespace contacts {

namespace {
constexpr std::array<std::pair<CommandType, std::string_view>, 9> kTypeNames{{
    {CommandType::kRoomJoin, "room_join"},
    {CommandType::kBooking, "booking"},
    {CommandType::kContactDelete, "contact_delete"},
    {CommandType::kMemberUpsert, "member_upsert"},
    {CommandType::kMemberRemove, "member_remove"},
    {CommandType::kRoomDelete, "room_delete"},
    {CommandType::kBookingPageDelete, "booking_page_delete"},
    {CommandType::kApiKeyCreate, "api_key_create"},
    {CommandType::kApiKeyRevoke, "api_key_revoke"},
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

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kOwner: return "owner";
    case Role::kAdmin: return "admin";
    case Role::kMember: return "member";
    case Role::kNone: break;
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
