#include "views/internal/list_cache.h"

namespace contacts {

void ListSnapshot::add(int64_t id, std::string_view folded_name, std::string_view folded_email) {
  ids.push_back(id);
  name_at.push_back(static_cast<uint32_t>(texts.size()));
  texts.append(folded_name);
  email_at.push_back(static_cast<uint32_t>(texts.size()));
  texts.append(folded_email);
}

std::vector<uint32_t> ListSnapshot::search(std::string_view query) const {
  std::vector<uint32_t> hits;
  const std::string_view all(texts);
  for (size_t i = 0; i < ids.size(); ++i) {
    size_t end = i + 1 < ids.size() ? name_at[i + 1] : texts.size();
    std::string_view name = all.substr(name_at[i], email_at[i] - name_at[i]);
    std::string_view email = all.substr(email_at[i], end - email_at[i]);
    if (name.find(query) != std::string_view::npos || email.find(query) != std::string_view::npos)
      hits.push_back(static_cast<uint32_t>(i));
  }
  return hits;
}

ListCache::Lookup ListCache::find(int64_t ws, std::chrono::steady_clock::duration quiet_for) {
  std::lock_guard lock(mutex_);
  Entry& e = entries_[ws];  // from now on the writer counts this workspace's changes
  Lookup found;
  found.snapshot = e.snapshot;
  found.version = e.version;
  // Never changed is quiet, however recently the clock started (steady_clock may count from
  // boot: measured against a zero changed_at, a workspace looked busy for a while after one).
  found.quiet = e.version == 0 || std::chrono::steady_clock::now() - e.changed_at >= quiet_for;
  found.too_big = e.too_big;
  return found;
}

void ListCache::store(int64_t ws, uint64_t version, std::shared_ptr<const ListSnapshot> snapshot) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(ws);
  if (it == entries_.end() || it->second.version != version || it->second.snapshot) return;
  if (snapshot->bytes() > max_bytes_) {
    it->second.too_big = true;  // never fits: do not evict the others for it, nor build it again
    return;
  }
  if (bytes_ + snapshot->bytes() > max_bytes_) {
    // Over budget: drop every snapshot (their workspaces build again when read).
    for (auto& [id, e] : entries_) e.snapshot.reset();
    bytes_ = 0;
  }
  bytes_ += snapshot->bytes();
  it->second.snapshot = std::move(snapshot);
}

void ListCache::invalidate(int64_t ws) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(ws);
  if (it == entries_.end()) return;
  ++it->second.version;
  it->second.changed_at = std::chrono::steady_clock::now();
  it->second.too_big = false;
  if (it->second.snapshot) {
    bytes_ -= std::min(bytes_, it->second.snapshot->bytes());
    it->second.snapshot.reset();
  }
}

}  // namespace contacts
