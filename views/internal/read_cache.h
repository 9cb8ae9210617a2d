// ReadCache: the committed values of hot view keys a fold thread keeps (defined in
// view_batch.cpp). Internal to views/: the projector owns one per fold thread and hands it to
// the batches it begins.
#pragma once

#include <algorithm>
#include <boost/unordered/unordered_flat_map.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "views/internal/key_hash.h"
#include "views/keys.h"

namespace contacts {

// The committed values of hot keys (contacts, email index entries, contact counts, webhook
// subscription sets), kept by the one writer that owns them so the fold need not read them
// back from RocksDB. It is right only while nothing else writes those keys: each belongs to
// one workspace, hence to one partition and one fold thread, whose batches update the cache
// when they commit. Bounded, in two generations of half the entries each (at least one): a
// lookup tries the young one, then the old one (a hit there moves the entry into the young
// one); when the young one is full it becomes the old one and the old one is dropped. So what
// was used since the last turn survives the next one, and a hot row outlives any number of
// rows seen once. A lookup may turn the generations too. Not thread-safe: one per fold thread.
class ReadCache {
 public:
  explicit ReadCache(size_t max_entries)
      : generation_entries_(std::max<size_t>(1, max_entries / 2)) {}
  // nullptr when the key is not cached; else the committed value (nullopt: absent). The
  // pointer is good until the next call.
  const std::optional<std::string>* find(const std::string& key);
  void store(const std::string& key, std::optional<std::string> value);
  // Whether values of this key are worth caching: contacts, email index entries, contact
  // counts and webhook subscription sets (views/keys.h tags).
  static bool caches(std::string_view key) {
    return !key.empty() && (key[0] == keys::kContact || key[0] == keys::kEmail ||
                            key[0] == keys::kContactCount || key[0] == keys::kWebhookSet);
  }
  size_t size() const { return young_.size() + old_.size(); }

 private:
  using Map = boost::unordered_flat_map<std::string, std::optional<std::string>, KeyHash>;
  // Turns the generations when the young one is full.
  void make_room();
  size_t generation_entries_;
  // Open addressing: a lookup is one probe of a flat array, not a walk of node pointers. A key
  // is in one of them at most.
  Map young_, old_;
};

}  // namespace contacts
