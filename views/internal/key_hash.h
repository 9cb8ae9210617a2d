// KeyHash: the hash of view keys in the fold's tables (ViewBatch's overlay, ReadCache). Internal
// to views/: nothing outside it names a view key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace contacts {

// Hashes view keys for the fold's tables. Every put, read and cache store hashes a key of 5 to
// 60 bytes: boost::hash of a string takes 4 bytes a step through a chain of multiplies, and
// std::hash (out of line) finishes with a byte at a time. This takes 16 bytes a step, one
// 64x64->128-bit multiply each, and reads the tail as the last 16 bytes (overlapping), so no
// step loops over bytes. It is keyed by two secrets drawn at random once per process: keys hold
// client text (command ids, emails), and with known constants a client could craft keys whose
// product is zero, so that they share a hash and turn the tables' probes into scans. (The
// tables mix the result again: boost's open addressing applies its own mixing to a hash that
// does not declare itself avalanching.)
class KeyHash {
 public:
  // Keyed by the process's secrets.
  KeyHash();
  // Keyed by the given ones (tests).
  KeyHash(uint64_t seed, uint64_t secret) : seed_(seed), secret_(secret) {}

  size_t operator()(std::string_view key) const noexcept {
    const char* p = key.data();
    const size_t n = key.size();
    uint64_t h = seed_ ^ n;
    if (n >= 16) {
      for (size_t at = 0; at + 16 < n; at += 16) h = step(h, word(p + at), word(p + at + 8));
      return step(h, word(p + n - 16), word(p + n - 8));
    }
    uint64_t a = 0, b = 0;
    if (n >= 8) {
      a = word(p);
      b = word(p + n - 8);
    } else if (n >= 4) {
      a = half(p);
      b = half(p + n - 4);
    } else if (n > 0) {
      a = (uint64_t{static_cast<unsigned char>(p[0])} << 16) |
          (uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
          static_cast<unsigned char>(p[n - 1]);
    }
    return step(h, a, b);
  }

 private:
  // One 16-byte block (a, b) into the state h: the 128-bit product of the block's words, each
  // masked by a secret (the state), its halves xored. A product of zero leaves the state as it
  // was rather than resetting it.
  uint64_t step(uint64_t h, uint64_t a, uint64_t b) const {
    unsigned __int128 r = static_cast<unsigned __int128>(a ^ secret_) * (b ^ h);
    return (static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64)) ^ h;
  }
  static uint64_t word(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static uint64_t half(const char* p) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
  }
  uint64_t seed_, secret_;
};

}  // namespace contacts
