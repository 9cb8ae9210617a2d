// ViewStore: the RocksDB views the projector writes and the API reads (DESIGN.md section 4).
// Reads are thread-safe and see whole batches only. Writes go through a ViewBatch, which one
// thread (the projector) fills and commits together with the consumed offsets.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <boost/unordered/unordered_flat_map.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/command.h"
#include "core/status.h"
#include "core/types.h"
#include "views/key_filter.h"
#include "views/list_cache.h"
#include "views/records.h"

namespace contacts {

struct ViewStoreOptions {
  size_t block_cache_bytes = 256 << 20;
  size_t write_buffer_bytes = 64 << 20;
  size_t list_cache_bytes = 64 << 20;  // list orders of big workspaces held in memory
  size_t key_filter_bytes = 16 << 20;  // Bloom filter of command ids and emails (KeyFilter)
};

// Workspaces with fewer contacts are listed from RocksDB directly (quick to scan).
inline constexpr int64_t kCachedListMinContacts = 2000;
// A workspace's list order is cached for plain listing once no commit moved it for this
// long (a search caches it at once: it scans the workspace anyway).
inline constexpr std::chrono::milliseconds kListQuietPeriod{1000};

struct ContactPage {
  std::vector<Contact> contacts;
  int64_t total = 0;
};

struct EventPage {
  std::vector<ContactEvent> events;
  int64_t total = 0;
};

// Rows that are served as stored: their JSON text.
struct JsonPage {
  std::vector<std::string> rows;
  int64_t total = 0;
};

struct ApiKeyRow {
  int64_t id = 0;
  WorkspaceId workspace_id;
  Role role = Role::kNone;
  bool is_active = false;
};

// Thrown by ViewBatch::get when RocksDB fails a read (not for a missing key): the fold
// cannot go on with that batch. Caught by the projector, which retries the batch.
class ViewReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The committed values of hot keys (contacts, email index, counters), kept by the one writer
// that owns them so the fold need not read them back from RocksDB. Bounded: it empties itself
// when full. Not thread-safe: one per fold thread.
class ReadCache {
 public:
  explicit ReadCache(size_t max_entries) : max_entries_(max_entries) {}
  // nullptr when the key is not cached; else the committed value (nullopt: absent).
  const std::optional<std::string>* find(const std::string& key) const;
  void store(const std::string& key, std::optional<std::string> value);
  // Whether values of this key are worth caching.
  static bool caches(std::string_view key);

 private:
  size_t max_entries_;
  // Open addressing: a lookup is one probe of a flat array, not a walk of node pointers.
  boost::unordered_flat_map<std::string, std::optional<std::string>> entries_;
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
  // that; the commit reads only its overlay.)
  void read_behind(const ViewBatch* behind) { behind_ = behind; }

  std::optional<std::string> get(const std::string& key);
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
  // memtable follow one another).
  rocksdb::WriteBatch to_write_batch() const;
  // The workspaces whose list order this batch changes, in order (and perhaps one whose list
  // keys came and went within the batch).
  std::vector<int64_t> list_workspaces() const;
  size_t pending() const { return overlay_.size(); }
  // Room for `keys` pending keys, so a big batch does not grow its table again and again.
  void reserve(size_t keys) { overlay_.reserve(keys); }
  // After a successful commit: the cache learns the batch's values of cached keys, which
  // move there (the batch is left empty).
  void publish_to_cache();

 private:
  rocksdb::DB* db_;
  ReadCache* cache_;
  KeyFilter* filter_;
  const ViewBatch* behind_ = nullptr;
  struct Pending {
    std::optional<std::string> value;  // nullopt: deleted
    bool fresh = false;                // not in the committed views
  };
  boost::unordered_flat_map<std::string, Pending> overlay_;
  // The keys of tags that scans read (a contact's timeline, on its deletion) that became
  // pending: sorted up to `ordered_sorted_`, appended after it (a scan sorts them in). They
  // may repeat, or be no longer pending. A scan of another tag walks the whole overlay.
  mutable std::vector<std::string> ordered_;
  mutable size_t ordered_sorted_ = 0;
  std::vector<int64_t> list_workspaces_;  // unsorted, may repeat
  // Whether pending keys like `key` are kept in `ordered_`: every tag but the hot ones that
  // no scan of a batch reads.
  static bool ordered(std::string_view key);
  // Notes a key that became pending (ordered keys, list workspaces).
  void track(const std::string& key);
  // Puts into the overlay (and the key filter): the pending entry, and whether it is new.
  std::pair<Pending*, bool> pend(std::string key, std::string value);
  // The pending entries under [prefix, upper), in key order.
  void pending_under(const std::string& prefix, const std::string& upper,
                     std::map<std::string_view, const Pending*>& out) const;
};

class ViewStore {
 public:
  static Result<std::unique_ptr<ViewStore>> open(const std::string& path, const ViewStoreOptions& options);
  ~ViewStore();

  std::optional<Contact> contact(WorkspaceId ws, int64_t contact_id) const;
  // `folded_query` empty lists all; otherwise a case-folded substring of name or email.
  ContactPage list(WorkspaceId ws, int64_t page, int64_t limit, std::string_view folded_query) const;
  EventPage timeline(const Contact& contact, int64_t page, int64_t limit) const;
  Role member_role(WorkspaceId ws, int64_t user_id) const;
  std::optional<ApiKeyRow> api_key_by_hash(std::string_view sha256_hex) const;
  std::optional<ApiKeyRow> api_key(WorkspaceId ws, int64_t key_id) const;
  std::vector<std::string> api_keys_json(WorkspaceId ws) const;
  std::optional<std::string> api_key_json(WorkspaceId ws, int64_t key_id) const;
  JsonPage audit(WorkspaceId ws, int64_t page, int64_t limit) const;
  // Webhook rows as stored (JSON, secret included), oldest first.
  std::vector<std::string> webhooks_json(WorkspaceId ws) const;
  std::optional<std::string> webhook_json(WorkspaceId ws, int64_t webhook_id) const;

  // The outbox: changes the projector queued for subscriptions, oldest position first
  // (key, JSON). The dispatcher takes them into its own store, then removes them.
  // `after`: only keys after it (to page through).
  std::vector<std::pair<std::string, std::string>> outbox(size_t max, const std::string& after = {}) const;
  Status remove_outbox(const std::vector<std::string>& keys);
  // The next offset of `partition` that the views have not applied.
  Offset applied(Partition partition) const;

  // Compacts every level (what background compaction reaches in time): for benchmarks of the
  // steady state and for operators after a bulk load.
  Status compact();

  ViewBatch begin_batch(ReadCache* cache = nullptr) { return ViewBatch(db_.get(), cache, &key_filter_); }
  Status commit(ViewBatch& batch);

  // Whether the key filter holds every key the views held when they opened (it is filled in
  // the background; batch reads go to RocksDB until then).
  bool key_filter_ready() const { return key_filter_.ready(); }

 private:
  ViewStore(std::unique_ptr<rocksdb::DB> db, const ViewStoreOptions& options)
      : db_(std::move(db)), list_cache_(options.list_cache_bytes), key_filter_(options.key_filter_bytes) {}
  // Adds every filtered key of the views to the key filter, then marks it ready.
  void fill_key_filter();
  ContactPage page_of(WorkspaceId ws, const std::vector<int64_t>& ids, int64_t total,
                      const rocksdb::Snapshot* snapshot) const;
  std::shared_ptr<const ListSnapshot> build_list(WorkspaceId ws, const rocksdb::Snapshot* snapshot) const;
  // Every value under `prefix`, in key order.
  std::vector<std::string> values_under(const std::string& prefix) const;
  std::optional<std::string> get(const std::string& key, const rocksdb::Snapshot* snapshot = nullptr) const;
  int64_t counter(const std::string& key, const rocksdb::Snapshot* snapshot) const;

  std::unique_ptr<rocksdb::DB> db_;
  mutable ListCache list_cache_;
  KeyFilter key_filter_;
  std::atomic<bool> closing_{false};
  std::thread filling_;
};

// Counters stored as u64 big-endian.
std::string encode_counter(int64_t v);
int64_t decode_counter(std::string_view bytes);

}  // namespace contacts
