// ViewBatch: the pending writes of one batch of the fold, read through on top of the committed
// views, and ReadCache, the committed values of hot keys a fold thread keeps (DESIGN.md
// section 4). ViewStore (view_store.h) begins and commits batches.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <bitset>
#include <boost/unordered/unordered_flat_map.hpp>
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

#include "views/internal/key_filter.h"
#include "views/internal/key_hash.h"
#include "views/internal/read_cache.h"
#include "views/internal/rendered_reads.h"

namespace contacts {

// Thrown by ViewBatch::get when RocksDB fails a read (not for a missing key): the fold
// cannot go on with that batch. Caught by the projector, which retries the batch.
class ViewReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
  // that. The commit reads its overlay and read scopes and writes its `written_`, which
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
  // The workspaces whose contacts (rows, list order or count) this batch changes, in order (and
  // perhaps one whose keys came and went within the batch).
  std::vector<int64_t> contact_workspaces() const;
  // The reads this batch changes (RenderedReads, views/internal/rendered_reads.h): the scopes
  // of the contacts it writes and of their workspaces' lists (repeats allowed), and the
  // workspaces whose every scope it changes (a room or booking page deleted).
  const std::vector<ReadScope>& read_scopes() const { return read_scopes_; }
  const std::vector<int64_t>& resource_workspaces() const { return resource_workspaces_; }
  // Calls `visit` with each contact row this batch writes: its key, and its value (nullptr:
  // deleted).
  void pending_contacts(
      const std::function<void(std::string_view key, const std::string* value)>& visit) const;
  size_t pending() const { return overlay_.size(); }
  // Whether this batch writes or deletes a key of `tag` (views/keys.h).
  bool writes(char tag) const { return written_tags_[static_cast<unsigned char>(tag)]; }
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
    bool cached =
        false;  // of a tag the ReadCache keeps (so publish_to_cache need not read the key)
  };
  boost::unordered_flat_map<std::string, Pending, KeyHash> overlay_;
  // The keys of tags that scans read (a contact's timeline, on its deletion) that became
  // pending: sorted up to `ordered_sorted_`, appended after it (a scan reads the appended ones
  // where they lie, and sorts them in once they are many). They may repeat, or be no longer
  // pending. A scan of another tag walks the whole overlay.
  mutable std::vector<std::string> ordered_;
  mutable size_t ordered_sorted_ = 0;
  std::bitset<256> written_tags_;             // the first bytes of the pending keys
  std::vector<ReadScope> read_scopes_;        // may repeat
  std::vector<int64_t> resource_workspaces_;  // may repeat
  rocksdb::WriteBatch written_;               // to_write_batch's buffer
  size_t written_reserved_ = 0;               // the bytes reserved in it
  // Whether pending keys like `key` are kept in `ordered_`: every tag but the hot ones that
  // no scan of a batch reads.
  static bool ordered(std::string_view key);
  // Notes a key that became pending (ordered keys, tags, the reads it changes, whether it is
  // cached).
  void track(const std::string& key, Pending& entry);
  // Puts into the overlay (and the key filter): the pending entry, and whether it is new.
  std::pair<Pending*, bool> pend(std::string key, std::string value);
  // The pending entries under [prefix, upper), in key order.
  void pending_under(const std::string& prefix, const std::string& upper,
                     std::map<std::string_view, const Pending*>& out) const;
};

}  // namespace contacts
