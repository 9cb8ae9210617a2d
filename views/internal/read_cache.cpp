#include "views/internal/read_cache.h"

#include "views/keys.h"

namespace contacts {

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

bool ReadCache::caches(std::string_view key) {
  return !key.empty() && (key[0] == keys::kContact || key[0] == keys::kEmail || key[0] == keys::kContactCount ||
                          key[0] == keys::kWebhookSet);
}

}  // namespace contacts
