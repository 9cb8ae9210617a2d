// RenderedReads: responses rendered from a ViewStore's contacts (list pages, searches, a
// contact, its timeline pages), kept until a commit changes what they show. Internal to
// views/: ViewStore owns one and tells it what each commit changed; api/ renders and keeps.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "views/internal/key_hash.h"

namespace contacts {

// What one commit can change together: a workspace's list and searches (contact 0), or one
// contact's row and timeline.
struct ReadScope {
  int64_t ws = 0;
  int64_t contact = 0;  // 0: the list
  bool operator==(const ReadScope&) const = default;
};

// A rendered response and a tag its renderer derived from it (api/: the entity tag).
struct RenderedRead {
  std::string body;
  std::string tag;
};

// Thread-safe. Each scope has a generation, taken from one counter that only grows, and the
// responses rendered in it. find() tells a reader the generation it reads in; keep() takes a
// response only if its scope still has that generation. A commit writes RocksDB (and the read
// index), then calls changed(): each changed scope drops its responses, so a deleted person's
// rendered name and email go from memory with the commit, and gets a new generation, so a
// response rendered from what the commit replaced is refused when it is kept.
//
// Bounded by `max_bytes` (responses, their requests and the scopes' entries): past it, every
// scope is dropped (a scope no longer known refuses what a reader keeps in it). 0: nothing is
// kept.
class RenderedReads {
 public:
  explicit RenderedReads(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The response kept for `request` (a canonical name of the read) in `scope`, or null; sets
  // `generation` for keep().
  std::shared_ptr<const RenderedRead> find(ReadScope scope, const std::string& request,
                                           uint64_t& generation);
  void keep(ReadScope scope, std::string request, RenderedRead response, uint64_t generation);
  // After a commit: the scopes it changed (repeats allowed), and the workspaces all of whose
  // scopes it changed (a room or booking page deleted: timelines show it).
  void changed(const std::vector<ReadScope>& scopes, const std::vector<int64_t>& workspaces);

  struct Stats {
    size_t bytes = 0, max_bytes = 0, responses = 0;
    uint64_t hits = 0, misses = 0;
  };
  Stats stats() const;

 private:
  struct ScopeHash {
    size_t operator()(const ReadScope& s) const {
      return static_cast<size_t>((static_cast<uint64_t>(s.ws) * 0x9E3779B97F4A7C15ULL) ^
                                 (static_cast<uint64_t>(s.contact) * 0xC2B2AE3D27D4EB4FULL));
    }
  };
  struct Scope {
    uint64_t generation = 0;
    size_t bytes = 0;
    boost::unordered_flat_map<std::string, std::shared_ptr<const RenderedRead>, KeyHash> responses;
  };
  // A scope's entry, its request and its response, about.
  static constexpr size_t kScopeBytes = 96;
  static size_t bytes_of(const std::string& request, const RenderedRead& response) {
    return 64 + request.size() + response.body.size() + response.tag.size();
  }
  void drop(Scope& scope);  // its responses; under mutex_

  const size_t max_bytes_;
  mutable std::mutex mutex_;
  uint64_t next_generation_ = 0;
  size_t bytes_ = 0, responses_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  boost::unordered_flat_map<ReadScope, Scope, ScopeHash> scopes_;
};

}  // namespace contacts
