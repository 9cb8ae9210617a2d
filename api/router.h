// Request-line parsing for the API: path segments, query parameters, id and paging rules.
// Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace contacts {

inline constexpr int64_t kDefaultPageLimit = 50;
inline constexpr int64_t kMaxPageLimit = 100;
inline constexpr int64_t kMaxPage = 1'000'000'000;

struct Target {
  std::vector<std::string> segments;  // percent-decoded path segments
  std::map<std::string, std::string> query;
};

Target parse_target(std::string_view target);
std::string percent_decode(std::string_view text, bool plus_is_space);
// Encodes everything but unreserved characters (for building query strings).
std::string percent_encode(std::string_view text);

// A positive id below 2^53 written in decimal digits only.
std::optional<int64_t> parse_id(std::string_view text);

struct Paging {
  int64_t page = 1;
  int64_t limit = kDefaultPageLimit;
};
// page: missing, non-numeric or < 1 -> 1. limit: missing or non-numeric -> 50, clamped to 1..100.
Paging parse_paging(const std::map<std::string, std::string>& query);

}  // namespace contacts
