// AuthRows: the committed rows every API request reads before its answer (an API key by its
// hash, the key itself, a user's membership), kept in memory for the readers of a ViewStore.
// Internal to views/: ViewStore reads through it and empties it when a commit writes a row of
// its tags.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "views/internal/key_hash.h"
#include "views/keys.h"

namespace contacts {

// Thread-safe. Only rows that exist are kept (an unknown token costs a RocksDB read, not an
// entry), at most `max_entries`: a full cache is emptied and fills again.
//
// A reader that missed reads RocksDB and then stores what it read, with the generation it
// saw before reading. A commit writes RocksDB and then calls invalidate(), which bumps the
// generation: a value read before the write but stored after the commit carries an old
// generation and is refused, so the cache never keeps a row older than RocksDB's.
class AuthRows {
 public:
  explicit AuthRows(size_t max_entries) : max_entries_(max_entries) {}

  static bool caches(std::string_view key) {
    return !key.empty() &&
           (key[0] == keys::kApiKey || key[0] == keys::kApiKeyHash || key[0] == keys::kMember);
  }

  // The cached value of `key`, or nullopt; `generation` is set for a later store().
  std::optional<std::string> find(const std::string& key, uint64_t& generation) const {
    std::lock_guard lock(mutex_);
    generation = generation_;
    auto it = rows_.find(key);
    if (it == rows_.end()) return std::nullopt;
    return it->second;
  }
  void store(const std::string& key, std::string value, uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (generation != generation_ || max_entries_ == 0) return;
    if (rows_.size() >= max_entries_) rows_.clear();
    rows_.insert_or_assign(key, std::move(value));
  }
  // After a commit that wrote a row of these tags (the write is visible already).
  void invalidate() {
    std::lock_guard lock(mutex_);
    ++generation_;
    rows_.clear();
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return rows_.size();
  }

 private:
  const size_t max_entries_;
  mutable std::mutex mutex_;
  uint64_t generation_ = 0;
  boost::unordered_flat_map<std::string, std::string, KeyHash> rows_;
};

}  // namespace contacts
