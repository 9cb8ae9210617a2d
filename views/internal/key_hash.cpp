#include "views/internal/key_hash.h"

#include <chrono>
#include <exception>
#include <random>

namespace contacts {

namespace {

// 64 random bits, once per process (std::random_device; the clock where it has no source).
uint64_t random_bits(uint64_t salt) {
  try {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device() ^ salt;
  } catch (const std::exception&) {
    auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return (now * 0x9E3779B97F4A7C15ull) ^ salt;
  }
}

struct HashSecrets {
  uint64_t seed = random_bits(0x243F6A8885A308D3ull);
  uint64_t secret = random_bits(0x13198A2E03707344ull);
};

const HashSecrets& hash_secrets() {
  static const HashSecrets secrets;
  return secrets;
}

}  // namespace

KeyHash::KeyHash() : seed_(hash_secrets().seed), secret_(hash_secrets().secret) {}

}  // namespace contacts
