#include "http/etag.h"

#include <array>

// Header-only: XXH3 inlined here, no library to link or ship.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace contacts {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// etagc of RFC 9110 section 8.8.3: %x21 / %x23-7E / obs-text.
bool is_etagc(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte == 0x21 || (byte >= 0x23 && byte != 0x7f);
}

// A tag without its weakness indicator: the weak comparison looks at this part only.
std::string_view opaque(std::string_view tag) {
  return tag.starts_with("W/") ? tag.substr(2) : tag;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The fields of a 200 a 304 keeps (RFC 9110 section 15.4.5); the others describe the body.
constexpr std::array kNotModifiedFields = {http::field::etag, http::field::cache_control,
                                           http::field::vary, http::field::content_location,
                                           http::field::date, http::field::expires};

}  // namespace

std::string entity_tag(std::string_view body) {
  static constexpr char kDigits[] = "0123456789abcdef";
  uint64_t hash = XXH3_64bits(body.data(), body.size());
  std::string tag(18, '"');
  for (size_t i = 16; i >= 1; --i, hash >>= 4) tag[i] = kDigits[hash & 0xf];
  return tag;
}

bool none_match(std::string_view field, std::string_view tag) {
  field = trimmed(field);
  if (field == "*") return true;
  const std::string_view wanted = opaque(tag);
  bool matched = false;
  size_t at = 0;
  for (;;) {
    // Empty list elements and the spaces around elements (RFC 9110 section 5.6.1).
    while (at < field.size() && (is_space(field[at]) || field[at] == ',')) ++at;
    if (at == field.size()) return matched;
    const size_t start = at;
    if (field.substr(at, 2) == "W/") at += 2;
    if (at == field.size() || field[at] != '"') return false;
    size_t close = at + 1;
    while (close < field.size() && is_etagc(field[close])) ++close;
    if (close == field.size() || field[close] != '"') return false;
    if (opaque(field.substr(start, close + 1 - start)) == wanted) matched = true;
    at = close + 1;
    while (at < field.size() && is_space(field[at])) ++at;
    if (at < field.size() && field[at] != ',') return false;
  }
}

HttpResponse conditional(const http::request_header<>& request, HttpResponse response) {
  const bool read = request.method() == http::verb::get || request.method() == http::verb::head;
  if (!read || response.result() != http::status::ok) return response;
  // A response may carry its tag already (one kept with the bytes it was computed from).
  std::string tag(response[http::field::etag]);
  if (tag.empty()) {
    tag = entity_tag(response.body());
    response.set(http::field::etag, tag);
  }
  auto [first, last] = request.equal_range(http::field::if_none_match);
  if (first == last) return response;
  // Several fields are one list (RFC 9110 section 5.3).
  std::string field(first->value());
  for (auto it = std::next(first); it != last; ++it) field.append(", ").append(it->value());
  if (!none_match(field, tag)) return response;
  HttpResponse not_modified{http::status::not_modified, response.version()};
  for (http::field name : kNotModifiedFields)
    for (auto [it, end] = response.equal_range(name); it != end; ++it)
      not_modified.insert(name, it->value());
  not_modified.keep_alive(response.keep_alive());
  return not_modified;
}

}  // namespace contacts
