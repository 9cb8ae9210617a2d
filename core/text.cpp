#include "core/text.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace contacts {

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    // Eight ASCII bytes at a time (most of a command is ASCII).
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else
      return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
      return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

size_t utf8_length(std::string_view s) {
  size_t count = 0;
  for (unsigned char c : s) count += (c & 0xC0) != 0x80;
  return count;
}

namespace {

// Decodes one code point at `i` of valid UTF-8; advances i.
int32_t next_code_point(std::string_view s, size_t& i) {
  utf8proc_int32_t cp = 0;
  auto len = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                              static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
  if (len <= 0) {
    ++i;
    return -1;
  }
  i += static_cast<size_t>(len);
  return cp;
}

bool is_space(int32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return true;
  if (cp < 0x80) return false;
  auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
         cat == UTF8PROC_CATEGORY_ZP || cp == 0x85 || cp == 0xFEFF;
}

void append_utf8(std::string& out, int32_t cp) {
  utf8proc_uint8_t buf[4];
  auto len = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
}

}  // namespace

bool printable_name(std::string_view s) {
  bool shows = false;
  for (size_t i = 0; i < s.size();) {
    int32_t cp = next_code_point(s, i);
    if (cp < 0) return false;
    if (cp == 0) return false;
    auto category = utf8proc_category(cp);
    shows = shows ||
            (!is_space(cp) && category != UTF8PROC_CATEGORY_CF && category != UTF8PROC_CATEGORY_CC);
  }
  return shows;
}

std::string_view trim(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    size_t i = begin;
    if (!is_space(next_code_point(s, i))) break;
    begin = i;
  }
  // From the end backwards, so a long line is not decoded whole: step back to the start of the
  // last code point; one that does not decode to exactly there is not white space.
  size_t end = s.size();
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
           end - start < 4)
      --start;
    size_t i = start;
    int32_t cp = next_code_point(s, i);
    if (i != end || !is_space(cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

std::string unicode_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      ++i;
      continue;
    }
    int32_t cp = next_code_point(s, i);
    if (cp >= 0) append_utf8(out, utf8proc_tolower(cp));
  }
  return out;
}

namespace {

// casefold of text whose code points are all below U+0100 (ASCII and Latin-1, the bulk of
// names and emails), without utf8proc: such text has no combining marks, so composing changes
// nothing, and folding is lowering but for two letters. nullopt for any other text.
std::optional<std::string> casefold_latin1(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      continue;
    }
    // Two-byte sequences of U+0080..U+00FF lead with 0xC2 or 0xC3.
    if ((c != 0xC2 && c != 0xC3) || i + 1 >= s.size()) return std::nullopt;
    unsigned char next = static_cast<unsigned char>(s[++i]);
    if ((next & 0xC0) != 0x80) return std::nullopt;
    unsigned cp = ((c & 0x1Fu) << 6) | (next & 0x3Fu);
    if (cp == 0xB5) return std::nullopt;  // MICRO SIGN folds to GREEK SMALL LETTER MU
    if (cp == 0xDF) {                     // SHARP S folds to "ss"
      out += "ss";
      continue;
    }
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
      cp += 0x20;  // capital letters, not the multiplication sign
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

}  // namespace

std::string casefold(std::string_view s) {
  if (auto latin1 = casefold_latin1(s)) return std::move(*latin1);
  utf8proc_uint8_t* folded = nullptr;
  auto len = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &folded,
      static_cast<utf8proc_option_t>(UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE | UTF8PROC_STABLE));
  if (len < 0) return unicode_lower(s);
  std::string out(reinterpret_cast<char*>(folded), static_cast<size_t>(len));
  free(folded);
  return out;
}

uint32_t murmur2(std::string_view data) {
  const uint32_t seed = 0x9747b28c, m = 0x5bd1e995;
  const int r = 24;
  size_t length = data.size();
  uint32_t h = seed ^ static_cast<uint32_t>(length);
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t i = 0;
  for (; i + 4 <= length; i += 4) {
    uint32_t k = p[i] | (p[i + 1] << 8) | (p[i + 2] << 16) | (uint32_t{p[i + 3]} << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3:
      h ^= p[i + 2] << 16;
      [[fallthrough]];
    case 2:
      h ^= p[i + 1] << 8;
      [[fallthrough]];
    case 1:
      h ^= p[i];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

std::string base64_encode(std::string_view bytes, bool url_safe, bool pad) {
  const char* alphabet = url_safe
                             ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(alphabet[(v >> shift) & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = p[i] << 16;
    if (rest == 2) v |= p[i + 1] << 8;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=')
      break;
    else
      return false;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return true;
}

bool base64url_decode_canonical(std::string_view text, std::string& out) {
  if (text.size() % 4 == 1 || text.find_first_of("+/=") != std::string_view::npos) return false;
  if (!base64_decode(text, out)) return false;
  // The last character's bits past the final byte must be zero: 2 of them after 2 characters
  // of a group (one byte), 4 after 3 (two bytes).
  if (text.size() % 4 == 0) return true;
  return base64_encode(out, true, false).back() == text.back();
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || authorization[kScheme.size()] != ' ')
    return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if ((authorization[i] | 0x20) != kScheme[i]) return std::nullopt;
  std::string_view token = authorization.substr(kScheme.size());
  token.remove_prefix(std::min(token.find_first_not_of(' '), token.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

std::string normalize_email(std::string_view email) { return unicode_lower(trim(email)); }

std::string hex_decode(std::string_view hex) {
  auto value = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(value(hex[i]) << 4 | value(hex[i + 1])));
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

bool json_depth_within(std::string_view text, int max_depth) {
  // Fewer opening brackets than the limit cannot nest past it (one quick pass, the usual case).
  auto opening =
      std::count_if(text.begin(), text.end(), [](char c) { return c == '{' || c == '['; });
  if (opening <= max_depth) return true;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

namespace {

std::string loose(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '_' && c != '-') out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// Edits (insertions, deletions, substitutions, swaps of neighbours) from a to b: the optimal
// string alignment distance, over bytes.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

bool near_miss(std::string_view name, std::string_view known) {
  if (name == known) return false;
  if (loose(name) == loose(known)) return true;
  // Names far apart in length are not typos of each other (and are not compared).
  const size_t limit = known.size() <= 5 ? 1 : 2;
  const size_t gap =
      name.size() > known.size() ? name.size() - known.size() : known.size() - name.size();
  return gap <= limit && edit_distance(name, known) <= limit;
}

}  // namespace contacts
