// ViewBatch: the pending writes of one batch of the fold, read through on top of the committed
// views, and ReadCache, the committed values of hot keys a fold thread keeps (DESIGN.md
// section 4). ViewStore (view_store.h) begins and commits batches.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "views/key_filter.h"

namespace contacts {

// Thrown by ViewBatch::get when RocksDB fails a read (not for a missing key): the fold
// cannot go on with that batch. Caught by the projector, which retries the batch.
class ViewReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
          (uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) | static_cast<unsigned char>(p[n - 1]);
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
  explicit ReadCache(size_t max_entries) : generation_entries_(std::max<size_t>(1, max_entries / 2)) {}
  // nullptr when the key is not cached; else the committed value (nullopt: absent). The
  // pointer is good until the next call.
  const std::optional<std::string>* find(const std::string& key);
  void store(const std::string& key, std::optional<std::string> value);
  // Whether values of this key are worth caching.
  static bool caches(std::string_view key);
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

// Pending writes of one batch; reads through it see the batch on top of the committed views.
// The pending writes are an overlay, so a key written twice is written once. The overlay is a
// hash table (a lookup is a probe, not a walk of a tree of 20k keys); the batch is put in key
// order when it is written, and the keys that prefix scans look for are also kept in order.
class ViewBatch {
 public:
  explicit ViewBatch(rocksdb::DB* db, ReadCache* cache = nullptr, KeyFilter* filter = nullptr)
      : db_(db), cache_(cache), filter_(filter) {}

  // Reads see `behind` (an earlier batch still being committed, or nullptr) between this
  // batch and the committed views, so a batch can be folded while the one before it commits.
  // `behind` must outlive this batch's reads and nothing may write to it meanwhile. (A scan
  // through it sorts its index of scanned keys, `ordered_`: only this batch's thread touches
  // that. The commit reads its overlay and list workspaces and writes its `written_`, which
  // reads through it never touch.)
  void read_behind(const ViewBatch* behind) { behind_ = behind; }

  std::optional<std::string> get(const std::string& key);
  // A hint that `key` will be read soon: starts fetching what answering it takes first (for
  // command-id and email keys, their block of the key filter).
  void prefetch(std::string_view key) const {
    if (filter_ && KeyFilter::tracks(key)) filter_->prefetch(key);
  }
  // Keys and values are taken by value: pass temporaries (or std::move) and they are not copied.
  void put(std::string key, std::string value);
  // Like put, for a key the caller knows is not in the committed views. Deleting it later in
  // the same batch then leaves no tombstone (list-order keys move on every visit).
  void put_new(std::string key, std::string value);
  void del(const std::string& key);
  // Calls `visit` on each key starting with `prefix` in order, batch included, until it
  // returns false. `visit` must not write to the batch (its keys are views into it).
  void scan(const std::string& prefix,
            const std::function<bool(std::string_view key, std::string_view value)>& visit);
  // The RocksDB batch of every pending write, in key order (so inserts into RocksDB's
  // memtable follow one another). Built in a buffer this batch keeps from one use to the
  // next, so its memory is not faulted in again for every batch; good until the next call.
  rocksdb::WriteBatch& to_write_batch();
  // The workspaces whose list order this batch changes, in order (and perhaps one whose list
  // keys came and went within the batch).
  std::vector<int64_t> list_workspaces() const;
  size_t pending() const { return overlay_.size(); }
  // Room for `keys` pending keys, so a big batch does not grow its table again and again.
  void reserve(size_t keys) { overlay_.reserve(keys); }
  // After a successful commit: the cache learns the batch's values of cached keys, which
  // move there (the batch is left empty, as by clear()).
  void publish_to_cache();
  // Drops every pending write and the batch behind, keeping the memory for the next use (a
  // fold thread reuses its batches: the table of a batch of thousands of keys, reserved anew
  // for every batch, was faulted in again each time).
  void clear();

 private:
  rocksdb::DB* db_;
  ReadCache* cache_;
  KeyFilter* filter_;
  const ViewBatch* behind_ = nullptr;
  struct Pending {
    std::optional<std::string> value;  // nullopt: deleted
    bool fresh = false;                // not in the committed views
    bool cached = false;               // of a tag the ReadCache keeps (so publish_to_cache need not read the key)
  };
  boost::unordered_flat_map<std::string, Pending, KeyHash> overlay_;
  // The keys of tags that scans read (a contact's timeline, on its deletion) that became
  // pending: sorted up to `ordered_sorted_`, appended after it (a scan reads the appended ones
  // where they lie, and sorts them in once they are many). They may repeat, or be no longer
  // pending. A scan of another tag walks the whole overlay.
  mutable std::vector<std::string> ordered_;
  mutable size_t ordered_sorted_ = 0;
  std::vector<int64_t> list_workspaces_;  // unsorted, may repeat
  rocksdb::WriteBatch written_;           // to_write_batch's buffer
  size_t written_reserved_ = 0;           // the bytes reserved in it
  // Whether pending keys like `key` are kept in `ordered_`: every tag but the hot ones that
  // no scan of a batch reads.
  static bool ordered(std::string_view key);
  // Notes a key that became pending (ordered keys, list workspaces, whether it is cached).
  void track(const std::string& key, Pending& entry);
  // Puts into the overlay (and the key filter): the pending entry, and whether it is new.
  std::pair<Pending*, bool> pend(std::string key, std::string value);
  // The pending entries under [prefix, upper), in key order.
  void pending_under(const std::string& prefix, const std::string& upper,
                     std::map<std::string_view, const Pending*>& out) const;
};

}  // namespace contacts
