// The rows of the view store and their binary codecs (contacts and events are on the
// hot path of both the fold and the reads, so they are not JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/command.h"

namespace contacts {

struct Contact {
  int64_t id = 0;
  int64_t workspace_id = 0;
  std::string name;
  std::optional<std::string> email;  // normalized
  int64_t event_count = 0;
  int64_t last_seen_at = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Which command the name came from: the latest occurred_at, ties to the later position.
  int64_t name_at = 0;
  int64_t name_position = 0;
  // Case-folded name and email, for search.
  std::string folded_name;
  std::string folded_email;
};

struct ContactEvent {
  int64_t id = 0;
  int64_t contact_id = 0;
  int64_t workspace_id = 0;
  CommandType event_type = CommandType::kRoomJoin;
  std::optional<int64_t> room_id;
  std::optional<std::string> room_name;
  std::optional<std::string> room_display_name;
  std::optional<int64_t> booking_page_id;
  std::optional<std::string> booking_page_title;
  std::optional<std::string> booking_page_slug;
  std::optional<std::string> metadata;
  int64_t created_at = 0;
};

std::string encode(const Contact& contact);
bool decode(std::string_view bytes, Contact& contact);
// True when the encoded contact's case-folded name or email contains `folded_query`; reads
// the encoding in place, without decoding (search scans every contact of a workspace).
bool folded_contains(std::string_view encoded_contact, std::string_view folded_query);
std::string encode(const ContactEvent& event);
bool decode(std::string_view bytes, ContactEvent& event);

}  // namespace contacts
