// ReadIndex: the contacts of big workspaces held in memory for reads, so a list page is a
// descent of a tree and a search looks only at the contacts that can match, never at RocksDB.
//
// A workspace's index (WorkspaceIndex) holds each contact's listed fields, the list order in an
// order-statistics tree (newest `last_seen_at` first, then the higher id: a page at any depth is
// found in O(log n)) and an n-gram index of the case-folded names and emails: for every 1-, 2-
// and 3-byte sequence within one name or one email, the contacts that hold it (pg_trgm keeps
// trigrams alone). A query of up to 3 bytes is one gram: its contacts are the answer and their
// count the total. A longer one takes the contacts holding its two rarest trigrams and checks
// each with the same byte substring test as the scan (views/records.h), so results equal the
// scan's. A page of matches is found by walking the list order when they are dense, by ordering
// the matches when they are few.
//
// It is built from the views on a workspace's first read and kept current by ViewStore::commit:
// the contact rows a batch wrote are applied right after the batch is written and before it is
// reported applied, so a read sees whole batches and its own writes. Each index is kept twice
// (left-right): a commit applies its batch to the copy no reader uses, points readers at it,
// waits for the last reader of the other copy to leave, and applies the batch there too; reads
// never wait for a commit (at the cost of twice the memory and of applying every batch twice).
// Commits that land while an index is being built are queued and applied when it is ready.
// Bounded in bytes: past the budget the least recently read workspaces are dropped (they build
// again when read), and a workspace that alone does not fit is read from RocksDB. Thread-safe.
#pragma once

#include <pthread.h>

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "views/records.h"

namespace contacts {

// One workspace's contacts. Not thread-safe (ReadIndex locks it), but for concurrent page()s.
class WorkspaceIndex {
 public:
  explicit WorkspaceIndex(int64_t workspace_id) : workspace_id_(workspace_id) {}

  // Adds `contact` or replaces the one of its id.
  void upsert(const Contact& contact);
  void erase(int64_t contact_id);
  // Ranks [skip, skip + limit) of the contacts whose folded name or email contains
  // `folded_query` (every contact when it is empty), in list order, and how many there are.
  ContactPage page(std::string_view folded_query, int64_t skip, int64_t limit) const;
  size_t size() const { return order_.size(); }
  // Whether `text` is anywhere in the names and emails it holds, live or dead (tests of erasure).
  bool holds_text(std::string_view text) const { return texts_.find(text) != std::string::npos; }
  // About what it holds in memory.
  size_t bytes() const;
  // Rebuilds itself without the contacts replaced or erased once they are half of its slots.
  void compact_if_sparse();

 private:
  struct Slot {
    int64_t id = 0;
    int64_t event_count = 0;
    int64_t last_seen_at = 0;
    int64_t created_at = 0;
    int64_t updated_at = 0;
    size_t text_at = 0;  // in texts_: name, email, folded name, folded email, back to back
    uint32_t name_size = 0;
    uint32_t email_size = 0;
    uint32_t folded_name_size = 0;
    uint32_t folded_email_size = 0;
    bool has_email = false;
    bool alive = true;
  };
  struct OrderKey {
    int64_t last_seen_at;
    int64_t id;
  };
  struct NewestFirst {
    bool operator()(const OrderKey& a, const OrderKey& b) const {
      return a.last_seen_at != b.last_seen_at ? a.last_seen_at > b.last_seen_at : a.id > b.id;
    }
  };
  using OrderTree = __gnu_pbds::tree<OrderKey, uint32_t, NewestFirst, __gnu_pbds::rb_tree_tag,
                                     __gnu_pbds::tree_order_statistics_node_update>;
  // The slots holding a gram, ascending (slots are only appended), dead ones included.
  struct Posting {
    std::vector<uint32_t> slots;
    uint32_t dead = 0;  // how many of `slots` are dead
  };

  std::string_view folded_name(const Slot& s) const;
  std::string_view folded_email(const Slot& s) const;
  bool matches(const Slot& s, std::string_view folded_query) const;
  // The distinct grams of a slot's folded name and email.
  std::vector<uint32_t> grams_of(const Slot& s) const;
  uint32_t add_slot(const Contact& contact);
  void kill(uint32_t slot);
  Contact row(const Slot& s) const;
  // Ranks [skip, skip + limit) of `hits` (live matching slots) in list order.
  void page_of_hits(std::vector<uint32_t>& hits, int64_t skip, int64_t limit,
                    ContactPage& out) const;
  // Ranks [skip, skip + limit) of the matches, found by walking the list order from its start;
  // false (and `out` without contacts) past `max_steps` contacts.
  bool walk(std::string_view folded_query, int64_t skip, int64_t limit, ContactPage& out,
            int64_t max_steps) const;

  int64_t workspace_id_;
  std::vector<Slot> slots_;
  std::string texts_;
  boost::unordered_flat_map<int64_t, uint32_t> by_id_;
  OrderTree order_;
  boost::unordered_flat_map<uint32_t, Posting> grams_;
  size_t posting_entries_ = 0;
  size_t dead_slots_ = 0;

  // The totals of queries of 4 bytes or more once counted (a query every contact matches checks
  // every contact: 12 ms at 1M), kept exact by add_slot and kill, which test each new or dying
  // slot against them (upserts that keep the text touch no slot). At most kMaxCounted; page()s
  // of one copy run at once, hence the lock; the changes run with no page() (ReadIndex).
  static constexpr size_t kMaxCounted = 16;
  struct Counted {  // copied with its index (ReadIndex keeps two copies)
    Counted() = default;
    Counted(const Counted& other) : totals(other.copy()) {}
    Counted& operator=(const Counted& other) {
      if (this != &other) totals = other.copy();
      return *this;
    }
    boost::unordered_flat_map<std::string, int64_t> copy() const {
      std::lock_guard lock(mutex);
      return totals;
    }
    mutable std::mutex mutex;
    boost::unordered_flat_map<std::string, int64_t> totals;
  };
  std::optional<int64_t> counted(std::string_view folded_query) const;
  void count(std::string_view folded_query, int64_t total) const;
  void recount(const Slot& s, int64_t delta);  // a slot born (+1) or dying (-1)
  mutable Counted counted_;
};

// The indexes of big workspaces, within a budget of bytes. Thread-safe.
class ReadIndex {
 public:
  explicit ReadIndex(size_t max_bytes) : max_bytes_(max_bytes) {}

  // A contact row a commit wrote (nullopt: deleted).
  struct Change {
    int64_t contact_id = 0;
    std::optional<Contact> row;
  };

  // Reads a page of `ws` from its index; nothing when it has none ready.
  std::optional<ContactPage> page(int64_t ws, std::string_view folded_query, int64_t skip,
                                  int64_t limit);
  // Whether a build of `ws` should start now (none is ready or being built, and it was not
  // found too big for the budget at a size of at least `contacts`). When true, the caller
  // builds one from a snapshot it takes after this call and hands it to finish_build: commits
  // from this call on are queued for it.
  bool begin_build(int64_t ws, int64_t contacts);
  void finish_build(int64_t ws, std::unique_ptr<WorkspaceIndex> built);
  // Whether commits must report the contact rows of `ws` (it has an index, ready or building).
  bool tracks(int64_t ws) const;
  // After a commit, before it is reported applied: the contact rows it wrote in `ws`.
  void apply(int64_t ws, std::vector<Change> changes);

  struct Stats {
    size_t bytes = 0;
    size_t max_bytes = 0;
    size_t workspaces = 0;
    size_t contacts = 0;
    uint64_t builds = 0;
    uint64_t evictions = 0;
  };
  Stats stats() const;

 private:
  // One workspace's index, kept twice (left-right): readers read the copy `current` names
  // while a commit applies its batch to the other, then to the first once its readers left.
  struct Entry {
    std::mutex write;  // one writer at a time: commits, the build's end, a drop
    std::unique_ptr<WorkspaceIndex> copies[2];
    std::atomic<int> current{0};
    std::atomic<bool> ready{false};  // built, and not dropped
    struct alignas(64) Readers {
      std::atomic<int64_t> count{0};
    };
    Readers readers[2];
    std::vector<Change> queued;  // while building
    bool dropped = false;
    size_t bytes = 0;  // both copies; accounted in bytes_ (under ReadIndex::mutex_)
    std::atomic<uint64_t> last_read{0};
  };
  std::shared_ptr<Entry> entry(int64_t ws) const;
  // Drops the least recently read indexes but `keep` (just grown) until the total fits, and
  // `keep` itself when it alone does not (under mutex_).
  void fit_budget(int64_t keep_ws, const std::shared_ptr<Entry>& keep);
  void account(int64_t ws, const std::shared_ptr<Entry>& e, size_t bytes);

  mutable std::mutex mutex_;
  std::unordered_map<int64_t, std::shared_ptr<Entry>> entries_;
  std::unordered_map<int64_t, int64_t> too_big_;  // workspace -> its contacts when found too big
  size_t bytes_ = 0;
  const size_t max_bytes_;
  std::atomic<uint64_t> clock_{0};
  uint64_t builds_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace contacts
