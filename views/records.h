// The rows of the view store and their binary codecs (contacts and events are on the
// hot path of both the fold and the reads, so they are not JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  // Whose data keys an erasure destroys (privacy/sealing.h): the hex of the email's blind index,
  // an anonymous subject, or empty (a participant without email, in clear).
  std::string subject;
  // The blind index of the email (32 bytes), the key of its email index entry; empty without one.
  std::string email_index;
  // The keys its sealed records were sealed under, each 32 hex digits, one after the other: what
  // its erasure destroys.
  std::string key_ids;
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

// A page of contacts and how many there are in all (a list, or a search's matches).
struct ContactPage {
  std::vector<Contact> contacts;
  int64_t total = 0;
};

std::string encode(const Contact& contact);
bool decode(std::string_view bytes, Contact& contact);
// The value of a contact's list-order key: its case-folded name and email, all that search
// needs, so list pages and searches step over small values.
std::string encode_search_text(const Contact& contact);
// True when the folded name or email of an encoded search text contains `folded_query`.
// The folded name and email of a search text; false when it is malformed.
bool decode_search_text(std::string_view in, std::string_view& folded_name,
                        std::string_view& folded_email);
bool search_text_contains(std::string_view encoded, std::string_view folded_query);
std::string encode(const ContactEvent& event);
bool decode(std::string_view bytes, ContactEvent& event);

}  // namespace contacts
