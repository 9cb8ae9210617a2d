#include "views/view_store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "views/fold_version.h"
#include "views/keys.h"

namespace contacts {

std::string encode_counter(int64_t v) {
  std::string s;
  keys::put_u64(s, static_cast<uint64_t>(v));
  return s;
}

int64_t decode_counter(std::string_view bytes) {
  return bytes.size() == 8 ? static_cast<int64_t>(keys::get_u64(bytes, 0)) : 0;
}

namespace {

// The views' format names the version of the fold that wrote them (views/fold_version.h).
const std::string kFormatKey = std::string("\x00format", 7);
constexpr std::string_view kFormatPrefix = "contacts-views-";

// The fold version of the views in `db`; fresh views are stamped with this code's.
Result<int> stored_fold_version(rocksdb::DB* db) {
  std::string stored;
  auto s = db->Get(rocksdb::ReadOptions(), kFormatKey, &stored);
  if (s.ok()) {
    int version = -1;
    if (stored.starts_with(kFormatPrefix)) {
      const char* digits = stored.data() + kFormatPrefix.size();
      const char* end = stored.data() + stored.size();
      auto [at, ec] = std::from_chars(digits, end, version);
      if (ec != std::errc() || at != end || digits == end) version = -1;
    }
    if (version >= 0) return version;
    return Status{Code::kInvalid, "the views were written in format \"" + stored +
                                      "\"; move them aside and run `contacts rebuild`"};
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  if (it->Valid())
    return Status{Code::kInvalid,
                  "the views were written by an older contacts; move them aside and run "
                  "`contacts rebuild`"};
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, kFormatKey, std::string(kFormatPrefix) + std::to_string(fold_version()));
  if (!s.ok()) return Status{Code::kInternal, "write views format: " + s.ToString()};
  return fold_version();
}

}  // namespace

Result<std::unique_ptr<ViewStore>> ViewStore::open(const std::string& path,
                                                   const ViewStoreOptions& options) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = options.write_buffer_bytes;
  o.max_write_buffer_number = 3;
  // Flushes and the first compactions write uncompressed (every byte the fold writes passes
  // through them; compressing it there cost about a tenth of the fold's CPU); the levels
  // below, which hold most of the data once it grows, are compressed.
  // (Levels by number: with dynamic level sizes, index 1 would be the base level, the last one
  // of a small database.)
  o.level_compaction_dynamic_level_bytes = false;
  o.compression_per_level.assign(static_cast<size_t>(o.num_levels), o.compression);
  o.compression_per_level[0] = o.compression_per_level[1] = rocksdb::kNoCompression;
  o.max_background_jobs = 2;
  // No memtable Bloom filter: adding every inserted key to it cost a cache miss per insert,
  // about a seventh of the fold's CPU, and nothing needs it any more (the fold's lookups of
  // new command ids and emails are answered by the key filter, its hot rows by the read cache,
  // and `wrk` on a list page served more requests without it, not fewer). docs/decisions.md.
  // A batch is written in key order, so inserts of one tag+workspace prefix arrive in order:
  // a per-prefix insert hint spares most of the skiplist search.
  o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(9));
  // List-order keys move on every visit and leave tombstones behind; compact files dense
  // with them so list pages do not step over dead keys.
  o.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(4096, 1024));
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Partitioned index and filters: a large file's whole-file filter can outgrow a cache shard
  // and be read back from disk (and checksummed) on every Get; partitions are small blocks
  // that stay cached, and only their top level is pinned.
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(o, path, &raw);
  if (!s.ok()) {
    Code code =
        s.ToString().find("lock") != std::string::npos ? Code::kUnavailable : Code::kInternal;
    return Status{code, "open views " + path + ": " + s.ToString()};
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  auto version = stored_fold_version(db.get());
  if (!version.ok()) return version.status();
  std::unique_ptr<ViewStore> store(new ViewStore(std::move(db), options));
  store->fold_version_ = *version;
  store->filling_ = std::thread([s = store.get()] { s->fill_key_filter(); });
  return store;
}

ViewStore::~ViewStore() {
  closing_ = true;
  if (filling_.joinable()) filling_.join();
  if (db_) db_->Close().PermitUncheckedError();
}

void ViewStore::fill_key_filter() {
  // Keys written from now on are added by the batches that write them; this adds the ones
  // already there. The filtered tags are adjacent, so one range holds them all.
  static_assert(keys::kEmail == keys::kDedup + 1);
  const std::string lower(1, keys::kDedup), upper(1, static_cast<char>(keys::kEmail + 1));
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;  // a one-off scan: the block cache keeps what the API reads
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  size_t n = 0;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    if ((++n & 4095) == 0 && closing_) return;
    key_filter_.add(it->key().ToStringView());
  }
  // Not ready after a failed scan: the fold then reads RocksDB for these keys, as without it.
  if (!it->status().ok()) {
    log::warn("views: key filter not used", {{"error", it->status().ToString()}});
    return;
  }
  if (n > key_filter_.capacity())
    log::warn(
        "views: the command ids and emails outgrow the key filter at 1% false positives; "
        "raise --key-filter-mb, or the fold reads RocksDB more often",
        {{"keys", n}, {"capacity", key_filter_.capacity()}});
  key_filter_.set_ready();
}

Status ViewStore::compact() {
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  auto s = db_->CompactRange(options, nullptr, nullptr);
  if (!s.ok()) return {Code::kInternal, "compact views: " + s.ToString()};
  return {};
}

Status ViewStore::flush() {
  rocksdb::FlushOptions options;
  options.wait = true;
  auto s = db_->Flush(options);
  if (!s.ok()) return {Code::kInternal, "flush views: " + s.ToString()};
  return {};
}

Status ViewStore::checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return {Code::kInternal, "checkpoint of the views: " + s.ToString()};
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // 0: always flush (the views' one column family switches its memtable between two writes).
  s = checkpoint->CreateCheckpoint(dir, 0);
  if (!s.ok())
    return {Code::kInternal, "checkpoint of the views into " + dir + ": " + s.ToString()};
  return {};
}

Status ViewStore::commit(ViewBatch& batch) {
  rocksdb::WriteBatch& write = batch.to_write_batch();
  // No WAL: a batch holds its views and its offsets, so after a crash the views come back as
  // of some earlier batch (the last flush), still a prefix of the log, and the fold goes on
  // from there. The log is the durable truth; the views need not be.
  rocksdb::WriteOptions options;
  options.disableWAL = true;
  auto s = db_->Write(options, &write);
  if (!s.ok()) return {Code::kInternal, "commit views: " + s.ToString()};
  // Visible now; the read index takes the batch's contacts before it is reported applied,
  // then the responses rendered from what it replaced go, and the authentication rows are read
  // again.
  update_read_index(batch);
  rendered_reads_.changed(batch.read_scopes(), batch.resource_workspaces());
  if (batch.writes(keys::kApiKey) || batch.writes(keys::kApiKeyHash) || batch.writes(keys::kMember))
    auth_rows_.invalidate();
  return {};
}

void ViewStore::update_read_index(const ViewBatch& batch) {
  std::vector<int64_t> tracked;
  for (int64_t ws : batch.contact_workspaces())
    if (read_index_.tracks(ws)) tracked.push_back(ws);  // sorted, as contact_workspaces()
  if (tracked.empty()) return;
  std::map<int64_t, std::vector<ReadIndex::Change>> changes;
  batch.pending_contacts([&](std::string_view key, const std::string* value) {
    const auto ws = static_cast<int64_t>(keys::get_u64(key, 1));
    if (!std::binary_search(tracked.begin(), tracked.end(), ws)) return;
    ReadIndex::Change change;
    change.contact_id = static_cast<int64_t>(keys::get_u64(key, 9));
    if (value) {
      change.row.emplace();
      if (!decode(*value, *change.row)) return;  // the fold writes what decode reads
    }
    changes[ws].push_back(std::move(change));
  });
  for (auto& [ws, list] : changes) read_index_.apply(ws, std::move(list));
}

void ViewStore::add_metrics(Exposition& metrics) const {
  add_store_sizes(metrics, "views", sizes());
  const ReadIndex::Stats index = read_index_.stats();
  const RenderedReads::Stats responses = rendered_reads_.stats();
  struct Figure {
    bool counter;
    const char* name;
    const char* help;
    double value;
  };
  const Figure figures[] = {
      {false, "contacts_read_index_bytes",
       "About how many bytes the read index of big workspaces holds in memory.",
       static_cast<double>(index.bytes)},
      {false, "contacts_read_index_limit_bytes",
       "The budget of the read index (--read-index-mb); past it the least recently read "
       "workspaces are dropped.",
       static_cast<double>(index.max_bytes)},
      {false, "contacts_read_index_workspaces", "Workspaces the read index holds.",
       static_cast<double>(index.workspaces)},
      {false, "contacts_read_index_contacts", "Contacts the read index holds.",
       static_cast<double>(index.contacts)},
      {true, "contacts_read_index_builds_total",
       "Workspace indexes built (on a big workspace's first read).",
       static_cast<double>(index.builds)},
      {true, "contacts_read_index_evictions_total",
       "Workspace indexes dropped to stay within the budget.",
       static_cast<double>(index.evictions)},
      {false, "contacts_response_cache_bytes",
       "About how many bytes the rendered responses kept in memory take.",
       static_cast<double>(responses.bytes)},
      {false, "contacts_response_cache_limit_bytes",
       "The budget of the rendered responses (--response-cache-mb); past it they are all "
       "dropped.",
       static_cast<double>(responses.max_bytes)},
      {false, "contacts_response_cache_responses", "Rendered responses kept.",
       static_cast<double>(responses.responses)},
      {true, "contacts_response_cache_hits_total",
       "Reads of contacts answered with a response kept since an earlier read.",
       static_cast<double>(responses.hits)},
      {true, "contacts_response_cache_misses_total", "Reads of contacts rendered from the views.",
       static_cast<double>(responses.misses)},
      {false, "contacts_auth_rows",
       "API keys and memberships kept in memory for authentication (at most 4096).",
       static_cast<double>(auth_rows_.size())},
  };
  for (const Figure& f : figures) {
    if (f.counter)
      metrics.counter(f.name, f.help, f.value);
    else
      metrics.gauge(f.name, f.help, f.value);
  }
}

std::optional<std::string> ViewStore::get(const std::string& key,
                                          const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  if (db_->Get(ro, key, &value).ok()) return value;
  return std::nullopt;
}

int64_t ViewStore::counter(const std::string& key, const rocksdb::Snapshot* snapshot) const {
  auto v = get(key, snapshot);
  return v ? decode_counter(*v) : 0;
}

std::optional<Contact> ViewStore::contact(WorkspaceId ws, int64_t contact_id) const {
  auto v = get(keys::contact_key(ws, contact_id));
  Contact c;
  if (!v || !decode(*v, c)) return std::nullopt;
  return c;
}

namespace {

// Iterates the keys under `prefix` as of `snapshot`.
template <typename Visit>
// Visits the keys under `prefix` in order, from `from` when it is given (and under the prefix).
void scan_prefix(rocksdb::DB* db, const rocksdb::Snapshot* snapshot, const std::string& prefix,
                 Visit visit, const std::string& from = {}) {
  std::string upper = keys::prefix_end(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.iterate_upper_bound = &upper_slice;
  ro.verify_checksums = false;  // the blocks are checksummed when they enter the cache
  ro.adaptive_readahead = true;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  for (it->Seek(from > prefix ? from : prefix); it->Valid(); it->Next())
    if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
}

// Releases a snapshot when it goes out of scope.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

int64_t first_index(int64_t page, int64_t limit) { return (page - 1) * limit; }

}  // namespace

ContactPage ViewStore::page_of(WorkspaceId ws, const std::vector<int64_t>& ids, int64_t total,
                               const rocksdb::Snapshot* snapshot) const {
  ContactPage result;
  result.total = total;
  // One batched lookup for the page's rows.
  std::vector<std::string> key_texts;
  key_texts.reserve(ids.size());
  for (int64_t id : ids) key_texts.push_back(keys::contact_key(ws, id));
  std::vector<rocksdb::Slice> row_keys(key_texts.begin(), key_texts.end());
  std::vector<rocksdb::PinnableSlice> rows(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  db_->MultiGet(ro, db_->DefaultColumnFamily(), row_keys.size(), row_keys.data(), rows.data(),
                statuses.data());
  for (size_t i = 0; i < ids.size(); ++i) {
    Contact c;
    if (statuses[i].ok() && decode(rows[i].ToStringView(), c))
      result.contacts.push_back(std::move(c));
  }
  return result;
}

std::unique_ptr<WorkspaceIndex> ViewStore::build_index(WorkspaceId ws) const {
  ScopedSnapshot snapshot(db_.get());
  auto index = std::make_unique<WorkspaceIndex>(ws.value);
  std::string prefix = keys::contact_key(ws, 0);
  prefix.resize(prefix.size() - 8);
  scan_prefix(db_.get(), snapshot.get(), prefix, [&](std::string_view, std::string_view value) {
    Contact c;
    if (decode(value, c)) index->upsert(c);
    return true;
  });
  return index;
}

ContactPage ViewStore::list(WorkspaceId ws, int64_t page, int64_t limit,
                            std::string_view folded_query) const {
  const int64_t skip = first_index(page, limit);
  if (auto found = read_index_.page(ws.value, folded_query, skip, limit)) return std::move(*found);
  const int64_t contacts = counter(keys::contact_count_key(ws), nullptr);
  // The first read of a big workspace builds its index (from a snapshot taken after
  // begin_build: commits from then on are queued for it); reads meanwhile go to RocksDB.
  if (contacts >= kIndexedMinContacts && read_index_.begin_build(ws.value, contacts)) {
    read_index_.finish_build(ws.value, build_index(ws));
    if (auto found = read_index_.page(ws.value, folded_query, skip, limit))
      return std::move(*found);
  }

  ScopedSnapshot snapshot(db_.get());
  int64_t seen = 0;
  int64_t total = 0;
  std::vector<int64_t> ids;
  // A list key ends with the inverted contact id; its value is the search text.
  auto take = [&](std::string_view key) {
    if (seen >= skip && static_cast<int64_t>(ids.size()) < limit)
      ids.push_back(static_cast<int64_t>(~keys::get_u64(key, key.size() - 8)));
    ++seen;
  };
  if (folded_query.empty()) {
    total = counter(keys::contact_count_key(ws), snapshot.get());
    if (skip < total) {
      scan_prefix(db_.get(), snapshot.get(), keys::list_prefix(ws),
                  [&](std::string_view key, std::string_view) {
                    take(key);
                    return static_cast<int64_t>(ids.size()) < limit;
                  });
    }
  } else {
    scan_prefix(db_.get(), snapshot.get(), keys::list_prefix(ws),
                [&](std::string_view key, std::string_view value) {
                  if (search_text_contains(value, folded_query)) take(key);
                  return true;
                });
    total = seen;
  }
  return page_of(ws, ids, total, snapshot.get());
}

EventPage ViewStore::timeline(const Contact& contact, int64_t page, int64_t limit) const {
  EventPage result;
  result.total = contact.event_count;
  const int64_t skip = first_index(page, limit);
  if (skip >= result.total) return result;
  WorkspaceId ws(contact.workspace_id);
  ScopedSnapshot snapshot(db_.get());
  int64_t seen = 0;
  scan_prefix(db_.get(), snapshot.get(), keys::timeline_prefix(ws, contact.id),
              [&](std::string_view, std::string_view value) {
                if (seen++ < skip) return true;
                ContactEvent e;
                if (decode(value, e)) result.events.push_back(std::move(e));
                return static_cast<int64_t>(result.events.size()) < limit;
              });
  // An event of a room (or booking page) deleted at a later position shows a null id. A
  // workspace deletes few of them: its markers are read in one scan per tag, unless there are
  // more than kMaxScannedMarkers, when each resource of the page is looked up.
  constexpr size_t kMaxScannedMarkers = 256;
  std::map<std::string, int64_t> deleted_at;
  bool scanned[2] = {false, false};
  for (keys::Tag tag : {keys::kRoomDeleted, keys::kPageDeleted}) {
    std::string prefix = keys::deleted_resource_key(tag, ws, 0);
    prefix.resize(prefix.size() - 8);
    std::map<std::string, int64_t> found;
    bool whole = true;
    scan_prefix(db_.get(), snapshot.get(), prefix, [&](std::string_view key, std::string_view v) {
      if (found.size() == kMaxScannedMarkers) return whole = false;
      found.emplace(std::string(key), decode_counter(v));
      return true;
    });
    if (!whole) continue;
    scanned[tag == keys::kPageDeleted] = true;
    deleted_at.merge(found);
  }
  auto deleted_after = [&](keys::Tag tag, int64_t resource, int64_t event_id) {
    std::string key = keys::deleted_resource_key(tag, ws, resource);
    auto it = deleted_at.find(key);
    if (it == deleted_at.end()) {
      if (scanned[tag == keys::kPageDeleted]) return false;  // never deleted
      it = deleted_at.emplace(key, counter(key, snapshot.get())).first;
    }
    return event_id < it->second;
  };
  for (auto& e : result.events) {
    if (e.room_id && deleted_after(keys::kRoomDeleted, *e.room_id, e.id)) e.room_id.reset();
    if (e.booking_page_id && deleted_after(keys::kPageDeleted, *e.booking_page_id, e.id))
      e.booking_page_id.reset();
  }
  return result;
}

std::optional<std::string> ViewStore::auth_get(const std::string& key) const {
  uint64_t generation = 0;
  if (auto cached = auth_rows_.find(key, generation)) return cached;
  auto v = get(key);
  if (v) auth_rows_.store(key, *v, generation);
  return v;
}

Role ViewStore::member_role(WorkspaceId ws, int64_t user_id) const {
  auto v = auth_get(keys::member_key(ws, user_id));
  if (!v) return Role::kNone;
  return role_from(*v).value_or(Role::kNone);
}

std::optional<ApiKey> ViewStore::api_key_by_hash(std::string_view sha256_hex) const {
  auto v = auth_get(keys::api_key_hash_key(sha256_hex));
  auto ref = v ? decode_api_key_ref(*v) : std::nullopt;
  if (!ref) return std::nullopt;
  return api_key(ref->workspace_id, ref->key_id);
}

std::optional<ApiKey> ViewStore::api_key(WorkspaceId ws, int64_t key_id) const {
  auto v = auth_get(keys::api_key_key(ws, key_id));
  if (!v) return std::nullopt;
  return decode_api_key(ws, *v);
}

std::vector<std::string> ViewStore::values_under(const std::string& prefix) const {
  std::vector<std::string> rows;
  scan_prefix(db_.get(), nullptr, prefix, [&](std::string_view, std::string_view value) {
    rows.emplace_back(value);
    return true;
  });
  return rows;
}

std::vector<ApiKey> ViewStore::api_keys(WorkspaceId ws) const {
  std::vector<ApiKey> out;
  for (const auto& text : values_under(keys::api_key_prefix(ws)))
    if (auto key = decode_api_key(ws, text)) out.push_back(std::move(*key));
  return out;
}

AuditPage ViewStore::audit(WorkspaceId ws, int64_t page, int64_t limit) const {
  ScopedSnapshot snapshot(db_.get());
  AuditPage result;
  result.total = counter(keys::audit_count_key(ws), snapshot.get());
  const int64_t skip = first_index(page, limit);
  int64_t seen = 0;
  if (skip >= result.total) return result;
  scan_prefix(db_.get(), snapshot.get(), keys::audit_prefix(ws),
              [&](std::string_view, std::string_view value) {
                if (seen++ < skip) return true;
                if (auto entry = decode_audit_entry(ws, value))
                  result.entries.push_back(std::move(*entry));
                return static_cast<int64_t>(result.entries.size()) < limit;
              });
  return result;
}

std::vector<Webhook> ViewStore::webhooks(WorkspaceId ws) const {
  std::vector<Webhook> out;
  for (const auto& text : values_under(keys::webhook_prefix(ws)))
    if (auto webhook = decode_webhook(ws, text)) out.push_back(std::move(*webhook));
  return out;
}

std::optional<Webhook> ViewStore::webhook(WorkspaceId ws, int64_t webhook_id) const {
  auto v = get(keys::webhook_key(ws, webhook_id));
  if (!v) return std::nullopt;
  return decode_webhook(ws, *v);
}

std::vector<OutboxEntry> ViewStore::outbox(size_t max, int64_t after) const {
  std::vector<OutboxEntry> entries;
  if (max == 0) return entries;
  const std::string after_key = after > 0 ? keys::outbox_key(after) : std::string();
  scan_prefix(
      db_.get(), nullptr, keys::outbox_prefix(),
      [&](std::string_view key, std::string_view value) {
        if (!after_key.empty() && key <= after_key) return true;
        entries.push_back({static_cast<int64_t>(keys::get_u64(key, 1)), std::string(value)});
        return entries.size() < max;
      },
      after_key);
  return entries;
}

Status ViewStore::remove_outbox(const std::vector<int64_t>& position_ids) {
  rocksdb::WriteBatch batch;
  for (int64_t id : position_ids) batch.Delete(keys::outbox_key(id)).PermitUncheckedError();
  // Like the views: an entry whose removal a crash loses comes back, and the dispatcher,
  // which keeps a record per delivery, takes it once.
  rocksdb::WriteOptions options;
  options.disableWAL = true;
  auto s = db_->Write(options, &batch);
  if (!s.ok()) return {Code::kInternal, "remove outbox entries: " + s.ToString()};
  return {};
}

Offset ViewStore::applied(Partition partition) const {
  auto v = get(keys::offset_key(partition));
  return Offset(v ? decode_counter(*v) : 0);
}

}  // namespace contacts
