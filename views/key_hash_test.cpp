#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>

#include "core/keys.h"
#include "views/view_batch.h"

namespace contacts {
namespace {

TEST_CASE("KeyHash: every byte of a key of any length counts") {
  KeyHash hash;
  std::mt19937_64 rng(7);
  for (size_t length = 0; length <= 70; ++length) {
    std::string key(length, '\0');
    for (auto& c : key) c = static_cast<char>(rng());
    const size_t base = hash(key);
    CHECK(hash(std::string(key)) == base);  // a copy hashes the same
    // Changing any one byte, in the head, the middle or the overlapping tail, changes it.
    for (size_t at = 0; at < length; ++at)
      for (unsigned flip : {1u, 0x80u, 0xffu}) {
        std::string changed = key;
        changed[at] = static_cast<char>(changed[at] ^ flip);
        INFO("length " << length << ", byte " << at << ", flip " << flip);
        CHECK(hash(changed) != base);
      }
    // A key and the same key one byte longer (zero bytes included) differ.
    CHECK(hash(key + '\0') != base);
  }
}

TEST_CASE("KeyHash: no collisions over a million keys shaped like the fold's") {
  KeyHash hash;
  std::unordered_set<size_t> seen;
  size_t keys_hashed = 0;
  for (int64_t ws = 1; ws <= 10; ++ws)
    for (int64_t i = 0; i < 50000; ++i) {
      // Keys that differ only in their last bytes, or only in a byte inside a 16-byte block.
      seen.insert(hash(keys::contact_key(WorkspaceId(ws), i)));
      seen.insert(hash(keys::dedup_key(WorkspaceId(ws), "c" + std::to_string(i))));
      keys_hashed += 2;
    }
  CHECK(seen.size() == keys_hashed);
}

}  // namespace
}  // namespace contacts
