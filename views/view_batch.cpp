#include "views/view_batch.h"

#include <algorithm>
#include <boost/sort/pdqsort/pdqsort.hpp>
#include <memory>

#include "views/keys.h"

namespace contacts {

// ReadCache is defined here, beside ViewBatch::get and publish_to_cache, its only callers: in one
// translation unit its lookups inline into theirs.
const std::optional<std::string>* ReadCache::find(const std::string& key) {
  if (auto it = young_.find(key); it != young_.end()) return &it->second;
  auto it = old_.find(key);
  if (it == old_.end()) return nullptr;
  // Used again: into the young generation, so it survives the next turn.
  std::optional<std::string> value = std::move(it->second);
  old_.erase(it);
  make_room();
  return &young_.try_emplace(key, std::move(value)).first->second;
}

void ReadCache::store(const std::string& key, std::optional<std::string> value) {
  if (auto it = young_.find(key); it != young_.end()) {
    it->second = std::move(value);
    return;
  }
  old_.erase(key);  // an older value of it
  make_room();
  young_.try_emplace(key, std::move(value));
}

void ReadCache::make_room() {
  if (young_.size() < generation_entries_) return;
  // The old table, emptied, holds the next generation: once both have grown, a turn
  // allocates nothing.
  std::swap(young_, old_);
  young_.clear();
}

void ViewBatch::publish_to_cache() {
  // The batch is spent: its values move into the cache.
  if (cache_)
    for (auto& [key, entry] : overlay_)
      if (entry.cached) cache_->store(key, std::move(entry.value));
  clear();
}

void ViewBatch::clear() {
  behind_ = nullptr;
  overlay_.clear();  // keeps its table
  ordered_.clear();
  ordered_sorted_ = 0;
  written_tags_.reset();
  read_scopes_.clear();
  resource_workspaces_.clear();
}

std::optional<std::string> ViewBatch::get(const std::string& key) {
  // A new command id or email (most lookups of them) is known absent without a read: the
  // filter holds every such key put, pending (this batch's or the one behind) or committed.
  if (filter_ && KeyFilter::tracks(key) && filter_->ready() && !filter_->may_contain(key))
    return std::nullopt;
  if (auto it = overlay_.find(key); it != overlay_.end()) return it->second.value;
  if (behind_) {
    if (auto it = behind_->overlay_.find(key); it != behind_->overlay_.end())
      return it->second.value;
  }
  ReadCache* cache = cache_ && ReadCache::caches(key) ? cache_ : nullptr;
  if (cache) {
    if (const auto* cached = cache->find(key)) return *cached;
  }
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), key, &value);
  // A read that failed is not an absent key: folding on would commit wrong views.
  if (!s.ok() && !s.IsNotFound()) throw ViewReadError("read views: " + s.ToString());
  std::optional<std::string> committed;
  if (s.ok()) committed = std::move(value);
  // What was read is what is committed (only this batch's writer writes these keys, and the
  // key is not pending in this batch or the one behind): the cache keeps it, so a hot row read
  // once is not read again after it left the cache (an email index entry is written only when
  // its contact is created, so it would not come back otherwise). Of note: a workspace's
  // subscription set, read for every change and almost always absent.
  if (cache) cache->store(key, committed);
  return committed;
}

bool ViewBatch::ordered(std::string_view key) {
  if (key.empty()) return true;
  switch (key[0]) {
    case keys::kDedup:
    case keys::kEmail:
    case keys::kContact:
    case keys::kListOrder:
    case keys::kContactCount:
    case keys::kOutbox:
    case keys::kOffset:
      return false;
    default:
      return true;
  }
}

void ViewBatch::track(const std::string& key, Pending& entry) {
  entry.cached = ReadCache::caches(key);
  if (!key.empty()) written_tags_.set(static_cast<unsigned char>(key[0]));
  if (ordered(key)) ordered_.push_back(key);
  if (key.size() < 9) return;
  const auto ws = static_cast<int64_t>(keys::get_u64(key, 1));
  switch (key[0]) {
    case keys::kContact:  // that contact, and its workspace's list
      if (key.size() >= 17)
        read_scopes_.push_back({ws, static_cast<int64_t>(keys::get_u64(key, 9))});
      read_scopes_.push_back({ws, 0});
      break;
    case keys::kListOrder:
    case keys::kContactCount:
      read_scopes_.push_back({ws, 0});
      break;
    case keys::kTimeline:
      if (key.size() >= 17)
        read_scopes_.push_back({ws, static_cast<int64_t>(keys::get_u64(key, 9))});
      break;
    case keys::kRoomDeleted:
    case keys::kPageDeleted:
      resource_workspaces_.push_back(ws);
      break;
    default:
      break;
  }
}

std::pair<ViewBatch::Pending*, bool> ViewBatch::pend(std::string key, std::string value) {
  // Added when it becomes pending: the filter never misses a pending or committed key.
  if (filter_ && KeyFilter::tracks(key)) filter_->add(key);
  // An entry already pending keeps whether it is fresh (try_emplace leaves `key` alone then).
  auto [it, inserted] = overlay_.try_emplace(std::move(key));
  if (inserted) track(it->first, it->second);
  it->second.value = std::move(value);
  return {&it->second, inserted};
}

void ViewBatch::put(std::string key, std::string value) { pend(std::move(key), std::move(value)); }

void ViewBatch::put_new(std::string key, std::string value) {
  if (auto [entry, inserted] = pend(std::move(key), std::move(value)); inserted)
    entry->fresh = true;
}

void ViewBatch::del(const std::string& key) {
  auto it = overlay_.find(key);
  if (it == overlay_.end()) {
    auto added = overlay_.try_emplace(key).first;
    track(added->first, added->second);
  } else if (it->second.fresh) {
    overlay_.erase(it);  // born and gone in this batch: nothing to write
  } else {
    it->second.value = std::nullopt;
  }
}

void ViewBatch::scan(const std::string& prefix,
                     const std::function<bool(std::string_view, std::string_view)>& visit) {
  std::string upper = keys::prefix_end(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  it->Seek(prefix);
  // The pending writes under the prefix: this batch's over the one behind it. (Whether the
  // iterator sees the batch behind as committed or not, its writes shadow the same keys
  // with the same values.)
  std::map<std::string_view, const Pending*> pending;
  for (const ViewBatch* b : {behind_, static_cast<const ViewBatch*>(this)})
    if (b) b->pending_under(prefix, upper, pending);
  auto next = pending.begin();
  // Merge the committed keys with the pending ones; a pending write shadows a committed key.
  while (it->Valid() || next != pending.end()) {
    bool take_pending =
        !it->Valid() || (next != pending.end() && next->first <= it->key().ToStringView());
    if (take_pending) {
      if (it->Valid() && next->first == it->key().ToStringView()) it->Next();
      const auto& [key, entry] = *next++;
      if (entry->value && !visit(key, *entry->value)) return;
    } else {
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) return;
      it->Next();
    }
  }
}

void ViewBatch::pending_under(const std::string& prefix, const std::string& upper,
                              std::map<std::string_view, const Pending*>& out) const {
  auto under = [&](std::string_view key) {
    return key >= prefix && (upper.empty() || key < upper);
  };
  if (!prefix.empty() && ordered(prefix)) {
    auto add = [&](const std::string& key) {
      if (auto e = overlay_.find(key); e != overlay_.end()) out[e->first] = &e->second;
    };
    // The keys appended since the last merge are few between two scans (a scan per contact
    // deletion, thousands of keys per batch): they are searched where they lie, and merged
    // into the sorted part only once they are many.
    constexpr size_t kMergeAfter = 1024;
    if (ordered_.size() - ordered_sorted_ > kMergeAfter) {
      auto middle = ordered_.begin() + static_cast<std::ptrdiff_t>(ordered_sorted_);
      std::sort(middle, ordered_.end());
      std::inplace_merge(ordered_.begin(), middle, ordered_.end());
      ordered_sorted_ = ordered_.size();
    }
    auto sorted_end = ordered_.begin() + static_cast<std::ptrdiff_t>(ordered_sorted_);
    for (auto k = std::lower_bound(ordered_.begin(), sorted_end, prefix);
         k != sorted_end && under(*k); ++k)
      add(*k);
    for (auto k = sorted_end; k != ordered_.end(); ++k)
      if (under(*k)) add(*k);
    return;
  }
  for (const auto& [key, entry] : overlay_)
    if (under(key)) out[key] = &entry;
}

namespace {

// Up to 8 bytes of `key` from `at`, big-endian, zero-padded: comparing two of these orders
// keys as their bytes do, up to a tie.
uint64_t key_word(const std::string& key, size_t at) {
  if (at + 8 <= key.size()) return keys::get_u64(key, at);
  uint64_t word = 0;
  for (size_t i = 0; i < 8; ++i)
    word = (word << 8) | (at + i < key.size() ? static_cast<unsigned char>(key[at + i]) : 0u);
  return word;
}

}  // namespace

rocksdb::WriteBatch& ViewBatch::to_write_batch() {
  // The entries in key order. Most comparisons are settled by the first 24 bytes, held
  // beside the entry; the keys themselves are read only on a tie.
  struct Ref {
    uint64_t head, next, third;
    const std::pair<const std::string, Pending>* entry;
  };
  std::vector<Ref> refs;
  refs.reserve(overlay_.size());
  for (const auto& e : overlay_) refs.push_back({0, 0, 0, &e});
  // The keys and values live apart from the table, in no order: each is fetched a few
  // entries ahead of its use, so the passes below do not wait for memory on every key.
  constexpr size_t kAhead = 8;
  const size_t n = refs.size();
  // Sized up front: growing the batch's buffer would copy it again and again. (Clear keeps
  // the buffer a batch used before; a bigger batch than any before gets a bigger one.)
  size_t bytes = 64;
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) __builtin_prefetch(refs[i + kAhead].entry->first.data());
    const auto& [key, entry] = *refs[i].entry;
    refs[i].head = key_word(key, 0);
    refs[i].next = key_word(key, 8);
    refs[i].third = key_word(key, 16);
    bytes += 2 * key.size() + (entry.value ? entry.value->size() : 0) + 16;
  }
  if (bytes > written_reserved_) {
    written_ = rocksdb::WriteBatch(bytes);
    written_reserved_ = bytes;
  } else {
    written_.Clear();
  }
  // Pattern-defeating quicksort, branchless partitioning: the outcome of comparing these keys
  // is unpredictable, and std::sort's branches mispredicted on it (the sort's share of the
  // profile fell by about a fifth).
  boost::sort::pdqsort_branchless(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
    if (a.head != b.head) return a.head < b.head;
    if (a.next != b.next) return a.next < b.next;
    if (a.third != b.third) return a.third < b.third;
    return a.entry->first < b.entry->first;
  });
  rocksdb::WriteBatch& batch = written_;
  for (size_t i = 0; i < n; ++i) {
    if (i + 2 * kAhead < n) __builtin_prefetch(refs[i + 2 * kAhead].entry);
    if (i + kAhead < n) {
      const auto& [key, entry] = *refs[i + kAhead].entry;
      __builtin_prefetch(key.data());
      if (entry.value) __builtin_prefetch(entry.value->data());
    }
    const auto& [key, entry] = *refs[i].entry;
    // List-order keys move on every visit. Writing each committed one as SingleDelete (before
    // any re-Put) keeps it "put once between single deletes", so a flush or compaction drops
    // the pair instead of keeping a tombstone for list pages to step over.
    bool list_order = static_cast<char>(refs[i].head >> 56) == keys::kListOrder;
    if (list_order && !entry.fresh) batch.SingleDelete(key).PermitUncheckedError();
    if (entry.value)
      batch.Put(key, *entry.value).PermitUncheckedError();
    else if (!list_order)
      batch.Delete(key).PermitUncheckedError();
  }
  return written_;
}

void ViewBatch::pending_contacts(
    const std::function<void(std::string_view key, const std::string* value)>& visit) const {
  for (const auto& [key, entry] : overlay_)
    if (key.size() == 17 && key[0] == keys::kContact)
      visit(key, entry.value ? &*entry.value : nullptr);
}

std::vector<int64_t> ViewBatch::contact_workspaces() const {
  std::vector<int64_t> out;
  for (const ReadScope& scope : read_scopes_)
    if (scope.contact == 0) out.push_back(scope.ws);  // a list: contact rows, order or count
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace contacts
