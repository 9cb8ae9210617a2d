// ListCache: a workspace's list order (ids, newest first) and search texts held in memory, so
// a deep page is an index into a vector and a search is a scan of memory, not of RocksDB.
// Entries are invalidated by the writer after each commit that moves a list key of their
// workspace; a reader only keeps what it built if no commit touched the workspace meanwhile
// (it reads the version before taking its RocksDB snapshot). Bounded in bytes. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace contacts {

// One workspace's list as of one RocksDB snapshot.
struct ListSnapshot {
  std::vector<int64_t> ids;        // list order
  std::vector<uint32_t> name_at;   // offsets in texts: name i is [name_at[i], email_at[i])
  std::vector<uint32_t> email_at;  // email i is [email_at[i], name_at[i + 1])
  std::string texts;               // folded names and emails, back to back
  void add(int64_t id, std::string_view folded_name, std::string_view folded_email);
  size_t bytes() const { return ids.size() * 16 + texts.size() + 64; }
  // Index of every entry whose folded name or email contains `folded_query`, in list order.
  std::vector<uint32_t> search(std::string_view folded_query) const;
};

class ListCache {
 public:
  explicit ListCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  struct Lookup {
    std::shared_ptr<const ListSnapshot> snapshot;  // null: none valid
    uint64_t version = 0;                          // pass to store() after building
    bool quiet = false;                            // no commit touched the workspace lately
    bool too_big = false;                          // its list does not fit the budget: read RocksDB
  };
  // The valid snapshot of `ws` if any. Read before taking the RocksDB snapshot to build from.
  Lookup find(int64_t ws, std::chrono::steady_clock::duration quiet_for);
  // Keeps `snapshot` unless a commit touched `ws` since find() returned `version`.
  void store(int64_t ws, uint64_t version, std::shared_ptr<const ListSnapshot> snapshot);
  // After a commit that moved list keys of `ws` (before the commit is reported applied).
  void invalidate(int64_t ws);

 private:
  struct Entry {
    uint64_t version = 0;
    std::chrono::steady_clock::time_point changed_at{};  // of the last change, if version > 0
    std::shared_ptr<const ListSnapshot> snapshot;
    bool too_big = false;  // until the next change of the workspace
  };
  std::mutex mutex_;
  std::unordered_map<int64_t, Entry> entries_;
  size_t bytes_ = 0;
  const size_t max_bytes_;
};

}  // namespace contacts
