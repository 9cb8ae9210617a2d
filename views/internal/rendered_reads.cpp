#include "views/internal/rendered_reads.h"

#include <algorithm>

namespace contacts {

std::shared_ptr<const RenderedRead> RenderedReads::find(ReadScope scope, const std::string& request,
                                                        uint64_t& generation) {
  std::lock_guard lock(mutex_);
  generation = 0;
  if (max_bytes_ == 0) return nullptr;
  auto it = scopes_.find(scope);
  if (it == scopes_.end()) {
    if (bytes_ + kScopeBytes > max_bytes_) {
      scopes_.clear();
      bytes_ = responses_ = 0;
    }
    it = scopes_.emplace(scope, Scope{++next_generation_, 0, {}}).first;
    bytes_ += kScopeBytes;
  }
  generation = it->second.generation;
  auto found = it->second.responses.find(request);
  if (found == it->second.responses.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  return found->second;
}

void RenderedReads::keep(ReadScope scope, std::string request, RenderedRead response,
                         uint64_t generation) {
  const size_t bytes = bytes_of(request, response);
  auto kept = std::make_shared<const RenderedRead>(std::move(response));  // outside the lock
  std::lock_guard lock(mutex_);
  auto it = scopes_.find(scope);
  // Rendered from what a commit has replaced since, or in a scope dropped since.
  if (it == scopes_.end() || it->second.generation != generation) return;
  if (bytes_ + bytes > max_bytes_) {
    scopes_.clear();  // the reader's scope too: what it rendered is not kept
    bytes_ = responses_ = 0;
    return;
  }
  auto [entry, inserted] = it->second.responses.try_emplace(std::move(request), std::move(kept));
  if (!inserted) return;  // another reader kept the same bytes first
  it->second.bytes += bytes;
  bytes_ += bytes;
  ++responses_;
}

void RenderedReads::drop(Scope& scope) {
  bytes_ -= scope.bytes;
  responses_ -= scope.responses.size();
  scope.bytes = 0;
  scope.responses.clear();
  scope.generation = ++next_generation_;
}

void RenderedReads::changed(const std::vector<ReadScope>& scopes,
                            const std::vector<int64_t>& workspaces) {
  {
    std::lock_guard lock(mutex_);
    if (scopes_.empty()) return;  // nothing kept: a node that is not read
  }
  // A batch of thousands of visits names each scope a few times: they are made unique before
  // the lock, which readers wait for, is taken, and it is held for the smaller side.
  std::vector<ReadScope> unique(scopes);
  auto order = [](const ReadScope& a, const ReadScope& b) {
    return a.ws != b.ws ? a.ws < b.ws : a.contact < b.contact;
  };
  std::sort(unique.begin(), unique.end(), order);
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  std::lock_guard lock(mutex_);
  if (scopes_.size() < unique.size()) {
    for (auto& [scope, entry] : scopes_)
      if (std::binary_search(unique.begin(), unique.end(), scope, order)) drop(entry);
  } else {
    for (const ReadScope& scope : unique)
      if (auto it = scopes_.find(scope); it != scopes_.end()) drop(it->second);
  }
  if (workspaces.empty()) return;
  for (auto& [scope, entry] : scopes_)  // rare (deleted rooms and pages): a walk of them all
    for (int64_t ws : workspaces)
      if (scope.ws == ws) drop(entry);
}

RenderedReads::Stats RenderedReads::stats() const {
  std::lock_guard lock(mutex_);
  return {bytes_, max_bytes_, responses_, hits_, misses_};
}

}  // namespace contacts
