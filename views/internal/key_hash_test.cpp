#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>

#include "views/keys.h"
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

TEST_CASE(
    "KeyHash is keyed: other secrets give other hashes, and a block that multiplies to zero keeps "
    "the state") {
  const KeyHash one(1, 2), other(3, 4);
  for (int64_t i = 0; i < 1000; ++i) {
    std::string key = keys::dedup_key(WorkspaceId(5), "command-" + std::to_string(i));
    CHECK(one(key) != other(key));
  }
  // With the secrets known (here), a 16-byte block whose first word equals the secret makes
  // that block's product zero whatever its second word is. The state then stays as it was:
  // the bytes before the block still count.
  const uint64_t secret = 0x0123456789abcdefull;
  const KeyHash known(42, secret);
  auto key_with = [&](char head, uint64_t second_word) {
    std::string key(16, head);  // a first block, then the crafted one
    key.append(reinterpret_cast<const char*>(&secret), 8);
    key.append(reinterpret_cast<const char*>(&second_word), 8);
    key.append("a 16-byte tail..",
               16);  // its own block: the tail read does not overlap the crafted one
    return key;
  };
  CHECK(known(key_with('a', 7)) != known(key_with('b', 7)));
  // (The crafted block's second word does not count: what the secrets being random prevents.)
  CHECK(known(key_with('a', 7)) == known(key_with('a', 8)));
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
