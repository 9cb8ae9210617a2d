#include "core/json_writer.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace contacts {

namespace {

// Whether any of the 8 bytes of `x` needs an escape: a control character (below 0x20), '"' or
// '\\'. Bytes of 0x80 and up (UTF-8) need none. Exact for "any" (the bit tricks of "Bit
// Twiddling Hacks": hasless and haszero).
bool needs_escape(uint64_t x) {
  constexpr uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t v) { return (v - ones) & ~v & highs; };
  const uint64_t below_space = (x - ones * 0x20) & ~x & highs;
  return below_space | has_zero(x ^ (ones * '"')) | has_zero(x ^ (ones * '\\'));
}

}  // namespace

void JsonWriter::string_literal(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out_.push_back('"');
  // Runs of characters that need no escape are appended whole; eight bytes are tested at once.
  size_t run = 0;
  for (size_t i = 0; i < s.size();) {
    if (i + 8 <= s.size()) {
      uint64_t chunk;
      std::memcpy(&chunk, s.data() + i, 8);
      if (!needs_escape(chunk)) {
        i += 8;
        continue;
      }
    }
    const size_t end = std::min(s.size(), i + 8);
    for (; i < end; ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"':
          out_.append("\\\"");
          break;
        case '\\':
          out_.append("\\\\");
          break;
        case '\b':
          out_.append("\\b");
          break;
        case '\f':
          out_.append("\\f");
          break;
        case '\n':
          out_.append("\\n");
          break;
        case '\r':
          out_.append("\\r");
          break;
        case '\t':
          out_.append("\\t");
          break;
        default:
          out_.append("\\u00");
          out_.push_back(hex[c >> 4]);
          out_.push_back(hex[c & 15]);
      }
    }
  }
  out_.append(s.data() + run, s.size() - run);
  out_.push_back('"');
}

}  // namespace contacts
