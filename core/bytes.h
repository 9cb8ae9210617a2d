// Order-preserving byte encodings for RocksDB keys: big-endian integers sort bytewise in
// numeric order. Used by every store (the log, the views, the delivery store). Inline: keys
// are built and read several times per command, a word at a time.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace contacts::bytes {

// Big-endian byte order of `v`.
template <typename T>
inline T big_endian(T v) {
  if constexpr (std::endian::native == std::endian::little) {
    if constexpr (sizeof(T) == 8)
      return __builtin_bswap64(v);
    else
      return __builtin_bswap32(v);
  }
  return v;
}

inline void put_u64(std::string& out, uint64_t v) {
  uint64_t be = big_endian(v);
  out.append(reinterpret_cast<const char*>(&be), sizeof be);
}

inline void put_u32(std::string& out, uint32_t v) {
  uint32_t be = big_endian(v);
  out.append(reinterpret_cast<const char*>(&be), sizeof be);
}

inline uint64_t get_u64(std::string_view in, size_t at) {
  uint64_t v;
  std::memcpy(&v, in.data() + at, sizeof v);
  return big_endian(v);
}

inline uint32_t get_u32(std::string_view in, size_t at) {
  uint32_t v;
  std::memcpy(&v, in.data() + at, sizeof v);
  return big_endian(v);
}

// Stored inverted, a field sorts newest (largest) first.
inline uint64_t inverted(int64_t v) { return ~static_cast<uint64_t>(v); }

// Smallest key greater than every key starting with `prefix` (for iterate_upper_bound).
std::string prefix_end(std::string_view prefix);

}  // namespace contacts::bytes
