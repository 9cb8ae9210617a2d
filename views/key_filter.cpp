#include "views/key_filter.h"

#include <algorithm>
#include <functional>

#include "core/keys.h"

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

}  // namespace

KeyFilter::KeyFilter(size_t bytes)
    : blocks_(std::clamp<size_t>(bytes / (kWordsPerBlock * sizeof(uint64_t)), 1, size_t{1} << 32)),
      words_(new std::atomic<uint64_t>[blocks_ * kWordsPerBlock]) {
  for (size_t i = 0; i < blocks_ * kWordsPerBlock; ++i) words_[i].store(0, std::memory_order_relaxed);
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

bool KeyFilter::may_contain(std::string_view key) const {
  Probe p = probe_of(key, blocks_);
  const std::atomic<uint64_t>* block = &words_[p.block * kWordsPerBlock];
  for (int i = 0; i < kProbes; ++i) {
    auto bit = static_cast<unsigned>(p.bits >> (i * 9)) & 511u;
    if (!(block[bit >> 6].load(std::memory_order_relaxed) & (uint64_t{1} << (bit & 63)))) return false;
  }
  return true;
}

}  // namespace contacts
