#include "views/internal/key_filter.h"

#include <sys/mman.h>

#include <algorithm>
#include <functional>
#include <new>

#include "views/keys.h"

namespace contacts {

namespace {

// The block a key lives in, and its probes within the block's 512 bits (9 bits each).
struct Probe {
  size_t block;
  uint64_t bits;
};

Probe probe_of(std::string_view key, size_t blocks) {
  uint64_t h = std::hash<std::string_view>{}(key);
  // The high half picks the block (multiply-shift: no modulo); a remix of the whole hash gives
  // the probes.
  auto block = static_cast<size_t>(((h >> 32) * static_cast<uint64_t>(blocks)) >> 32);
  uint64_t bits = (h ^ (h >> 29)) * 0x9E3779B97F4A7C15ull;
  return {block, bits};
}

constexpr size_t kHugePage = size_t{2} << 20;

// `bytes` of zeroed memory, mapped at a huge-page boundary and in whole huge pages. Every
// lookup of the filter lands on a random block of it: in 4 KiB pages, 16 MiB is 4,096 pages,
// more than the TLB holds, so nearly every lookup missed it too and walked the page tables
// (the two lookups a command makes were about a sixteenth of the fold's CPU). In 2 MiB pages it
// is 8. Where the kernel has no huge pages (or transparent huge pages are off), the mapping is
// in small pages as before.
std::atomic<uint64_t>* map_words(size_t bytes) {
  size_t mapped = bytes + kHugePage;
  void* raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  // Trim to a huge-page boundary at both ends.
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  uintptr_t end = aligned + bytes, mapped_end = start + mapped;
  if (mapped_end > end) ::munmap(reinterpret_cast<void*>(end), mapped_end - end);
  ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // a hint: failing is fine
  // Zero-filled by the kernel; std::atomic<uint64_t> of zero is all-zero bytes.
  return reinterpret_cast<std::atomic<uint64_t>*>(aligned);
}

// What the filter of `blocks` blocks maps: whole huge pages.
size_t mapped_bytes(size_t blocks, size_t words_per_block) {
  size_t bytes = blocks * words_per_block * sizeof(uint64_t);
  return (bytes + kHugePage - 1) & ~(kHugePage - 1);
}

}  // namespace

void KeyFilter::Unmap::operator()(std::atomic<uint64_t>* words) const { ::munmap(words, bytes); }

KeyFilter::KeyFilter(size_t bytes)
    : blocks_(std::clamp<size_t>(bytes / (kWordsPerBlock * sizeof(uint64_t)), 1, size_t{1} << 32)),
      words_(map_words(mapped_bytes(blocks_, kWordsPerBlock)),
             Unmap{mapped_bytes(blocks_, kWordsPerBlock)}) {
  static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t) &&
                std::atomic<uint64_t>::is_always_lock_free);
}

bool KeyFilter::tracks(std::string_view key) {
  return !key.empty() && (key[0] == keys::kDedup || key[0] == keys::kEmail);
}

void KeyFilter::add(std::string_view key) {
  Probe p = probe_of(key, blocks_);
  std::atomic<uint64_t>* block = &words_[p.block * kWordsPerBlock];
  for (int i = 0; i < kProbes; ++i) {
    auto bit = static_cast<unsigned>(p.bits >> (i * 9)) & 511u;
    block[bit >> 6].fetch_or(uint64_t{1} << (bit & 63), std::memory_order_relaxed);
  }
}

void KeyFilter::prefetch(std::string_view key) const {
  __builtin_prefetch(&words_[probe_of(key, blocks_).block * kWordsPerBlock]);
}

bool KeyFilter::may_contain(std::string_view key) const {
  Probe p = probe_of(key, blocks_);
  const std::atomic<uint64_t>* block = &words_[p.block * kWordsPerBlock];
  for (int i = 0; i < kProbes; ++i) {
    auto bit = static_cast<unsigned>(p.bits >> (i * 9)) & 511u;
    if (!(block[bit >> 6].load(std::memory_order_relaxed) & (uint64_t{1} << (bit & 63))))
      return false;
  }
  return true;
}

}  // namespace contacts
