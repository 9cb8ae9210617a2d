// KeyFilter: a Bloom filter over the view keys that the fold looks up and almost never finds
// (a new command's command_id, a new participant's email), so that "absent" is answered
// without a RocksDB read. Sized by configuration, never emptied: a key deleted since it was
// added only costs the read it would have cost anyway.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace contacts {

class KeyFilter {
 public:
  // `bytes` of filter (at least one 64-byte block). At 10 bits per key, 16 MiB holds about
  // 13M keys with about 1% false positives; past that, more keys answer "maybe".
  explicit KeyFilter(size_t bytes);

  // Whether keys like this one are filtered: command-id (dedup) and email-index keys.
  static bool tracks(std::string_view key);

  // Thread-safe, lock-free.
  void add(std::string_view key);
  // False: the key was never added. True: it may have been.
  bool may_contain(std::string_view key) const;
  // Starts loading the memory that may_contain (and add) of `key` will read: a lookup misses
  // the caches, so a run of keys is fetched ahead of their lookups.
  void prefetch(std::string_view key) const;
  // About how many keys it holds at 1% false positives (10 bits a key).
  size_t capacity() const { return blocks_ * kWordsPerBlock * 64 / 10; }

  // Whether every key of the views has been added (the views' keys are added in the
  // background when they open); until then the filter is not to be asked.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  void set_ready() { ready_.store(true, std::memory_order_release); }

 private:
  static constexpr size_t kWordsPerBlock = 8;  // one 64-byte cache line
  static constexpr int kProbes = 6;
  // Unmaps the filter's memory.
  struct Unmap {
    size_t bytes;
    void operator()(std::atomic<uint64_t>* words) const;
  };
  size_t blocks_;
  // Mapped whole, in huge pages where the kernel gives them (see the constructor).
  std::unique_ptr<std::atomic<uint64_t>[], Unmap> words_;
  std::atomic<bool> ready_{false};
};

}  // namespace contacts
