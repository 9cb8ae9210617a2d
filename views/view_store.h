// ViewStore: the RocksDB views the projector writes and the API reads (DESIGN.md section 4).
// Reads are thread-safe and see whole batches only. Writes go through a ViewBatch, which one
// thread (the projector) fills and commits together with the consumed offsets.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/command.h"
#include "core/metrics.h"
#include "core/status.h"
#include "core/types.h"
#include "views/internal/auth_rows.h"
#include "views/internal/key_filter.h"
#include "views/internal/read_index.h"
#include "views/internal/rendered_reads.h"
#include "views/records.h"
#include "views/tables.h"
#include "views/view_batch.h"

namespace contacts {

inline constexpr size_t kDefaultReadIndexBytes = size_t{2048} << 20;
inline constexpr size_t kDefaultResponseCacheBytes = size_t{64} << 20;

struct ViewStoreOptions {
  size_t block_cache_bytes = 256 << 20;
  size_t write_buffer_bytes = 64 << 20;
  // The read index of big workspaces (views/internal/read_index.h): their contacts, list
  // order and search grams held in memory.
  size_t read_index_bytes = kDefaultReadIndexBytes;
  size_t key_filter_bytes = 16 << 20;  // Bloom filter of command ids and emails (KeyFilter)
  // Responses rendered from the contacts (views/internal/rendered_reads.h), kept until a
  // commit changes them.
  size_t response_cache_bytes = kDefaultResponseCacheBytes;
};

// Workspaces with fewer contacts are listed from RocksDB directly (quick to scan); bigger ones
// are read from the read index, built on their first list or search.
inline constexpr int64_t kIndexedMinContacts = 2000;
// The API keys and memberships kept in memory for authentication (views/internal/auth_rows.h):
// a few hundred bytes each, emptied by any commit that writes one.
inline constexpr size_t kAuthRowsMaxEntries = 4096;

struct EventPage {
  std::vector<ContactEvent> events;
  int64_t total = 0;
};

struct AuditPage {
  std::vector<AuditEntry> entries;
  int64_t total = 0;
};

// A change the projector queued in the outbox (projector/outbox.h): its position id (its key)
// and the change event.
struct OutboxEntry {
  int64_t position_id = 0;
  std::string change_event;
};

class ViewStore {
 public:
  static Result<std::unique_ptr<ViewStore>> open(const std::string& path,
                                                 const ViewStoreOptions& options);
  ~ViewStore();

  std::optional<Contact> contact(WorkspaceId ws, int64_t contact_id) const;
  // `folded_query` empty lists all; otherwise a case-folded substring of name or email.
  ContactPage list(WorkspaceId ws, int64_t page, int64_t limit,
                   std::string_view folded_query) const;
  EventPage timeline(const Contact& contact, int64_t page, int64_t limit) const;
  Role member_role(WorkspaceId ws, int64_t user_id) const;
  std::optional<ApiKey> api_key_by_hash(std::string_view sha256_hex) const;
  std::optional<ApiKey> api_key(WorkspaceId ws, int64_t key_id) const;
  // Oldest first.
  std::vector<ApiKey> api_keys(WorkspaceId ws) const;
  AuditPage audit(WorkspaceId ws, int64_t page, int64_t limit) const;
  // Oldest first, secrets included.
  std::vector<Webhook> webhooks(WorkspaceId ws) const;
  std::optional<Webhook> webhook(WorkspaceId ws, int64_t webhook_id) const;

  // The outbox: changes the projector queued for subscriptions, oldest position first. The
  // dispatcher (or the change publisher) takes them, then removes them. `after`: only entries
  // of later positions (to page through).
  std::vector<OutboxEntry> outbox(size_t max, int64_t after = 0) const;
  Status remove_outbox(const std::vector<int64_t>& position_ids);
  // The next offset of `partition` that the views have not applied.
  Offset applied(Partition partition) const;

  // The version of the fold that wrote these views (views/fold_version.h): this code's for
  // views it created, whatever is stored for others (the caller decides whether to serve them).
  int fold_version() const { return fold_version_; }

  // Compacts every level (what background compaction reaches in time): for benchmarks of the
  // steady state and for operators after a bulk load.
  Status compact();
  // Writes what the memtables hold to disk and waits: commits skip the WAL, so a set that must
  // come back whole after a crash (a rebuild's, before it goes live) is flushed first.
  Status flush();
  // What RocksDB reports of its size, and what the read index holds (/metrics).
  StoreSizes sizes() const { return store_sizes(*db_); }
  ReadIndex::Stats read_index_stats() const { return read_index_.stats(); }
  // Responses api/ rendered from these views' contacts, lists and timelines, kept until a
  // commit changes what they show (each commit tells it, after the read index).
  RenderedReads& rendered_reads() const { return rendered_reads_; }
  void add_metrics(Exposition& metrics) const;

  // Writes a RocksDB checkpoint of the views into `dir` (which must not exist): hard links to
  // their files on the same filesystem, copies otherwise. Commits skip the WAL, so the
  // memtables are flushed first, in one cut between commits: the copy holds whole batches, with
  // the offsets they applied. Commits go on meanwhile.
  Status checkpoint(const std::string& dir);

  ViewBatch begin_batch(ReadCache* cache = nullptr) {
    return ViewBatch(db_.get(), cache, &key_filter_);
  }
  Status commit(ViewBatch& batch);

  // Whether the key filter holds every key the views held when they opened (it is filled in
  // the background; batch reads go to RocksDB until then).
  bool key_filter_ready() const { return key_filter_.ready(); }

 private:
  ViewStore(std::unique_ptr<rocksdb::DB> db, const ViewStoreOptions& options)
      : db_(std::move(db)),
        read_index_(options.read_index_bytes),
        rendered_reads_(options.response_cache_bytes),
        key_filter_(options.key_filter_bytes) {}
  // Adds every filtered key of the views to the key filter, then marks it ready.
  void fill_key_filter();
  ContactPage page_of(WorkspaceId ws, const std::vector<int64_t>& ids, int64_t total,
                      const rocksdb::Snapshot* snapshot) const;
  // The read index of `ws` as of a snapshot taken now.
  std::unique_ptr<WorkspaceIndex> build_index(WorkspaceId ws) const;
  // After a commit: the batch's contact rows of the workspaces the read index holds.
  void update_read_index(const ViewBatch& batch);
  // Every value under `prefix`, in key order.
  std::vector<std::string> values_under(const std::string& prefix) const;
  std::optional<std::string> get(const std::string& key,
                                 const rocksdb::Snapshot* snapshot = nullptr) const;
  int64_t counter(const std::string& key, const rocksdb::Snapshot* snapshot) const;
  // get() of a row AuthRows keeps, through it.
  std::optional<std::string> auth_get(const std::string& key) const;

  std::unique_ptr<rocksdb::DB> db_;
  mutable ReadIndex read_index_;
  mutable AuthRows auth_rows_{kAuthRowsMaxEntries};
  mutable RenderedReads rendered_reads_;
  KeyFilter key_filter_;
  int fold_version_ = 0;
  std::atomic<bool> closing_{false};
  std::thread filling_;
};

// Counters stored as u64 big-endian.
std::string encode_counter(int64_t v);
int64_t decode_counter(std::string_view bytes);

}  // namespace contacts
