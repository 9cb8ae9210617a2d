#include "api/router.h"

#include <algorithm>
#include <cctype>

#include "core/types.h"

namespace contacts {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A decimal integer, optionally signed; nullopt when not one. Saturates far out of range.
std::optional<int64_t> parse_integer(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool negative = text[0] == '-';
  if (negative || text[0] == '+') text.remove_prefix(1);
  if (text.empty() || text.size() > 30) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v < kMaxSafeInteger) v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

Target parse_target(std::string_view target) {
  Target t;
  auto question = target.find('?');
  std::string_view path = target.substr(0, question);
  size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start)
      t.segments.push_back(percent_decode(path.substr(start, slash - start), false));
    start = slash + 1;
  }
  if (question == std::string_view::npos) return t;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true);
    t.query.try_emplace(std::move(key), std::move(value));  // the first occurrence wins
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return t;
}

std::optional<int64_t> parse_id(std::string_view text) {
  // No leading zero: one spelling per id (/workspaces/0002 is not /workspaces/2).
  if (text.empty() || text.size() > 16 || text[0] == '0') return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > kMaxSafeInteger) return std::nullopt;
  return v;
}

Paging parse_paging(const std::map<std::string, std::string>& query) {
  Paging paging;
  if (auto it = query.find("page"); it != query.end()) {
    auto v = parse_integer(it->second);
    paging.page = v ? std::clamp<int64_t>(*v, 1, kMaxPage) : 1;
  }
  if (auto it = query.find("limit"); it != query.end()) {
    auto v = parse_integer(it->second);
    paging.limit = v ? std::clamp<int64_t>(*v, 1, kMaxPageLimit) : kDefaultPageLimit;
  }
  return paging;
}

}  // namespace contacts
