// Rebuild with the node stopped: folds the whole log into the data directory's next view set
// (views/view_sets.h) and makes it live (DESIGN.md section 5). Changes of positions the live
// views had already applied (or, on Kafka, that the writer group committed as published) are
// not queued again; what the live outbox still holds is carried over. Runs on the calling
// thread; the live views must not be open elsewhere (a running node rebuilds itself:
// projector/live_fold.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bus/log.h"
#include "core/status.h"
#include "privacy/key_store.h"
#include "projector/outbox.h"
#include "views/view_sets.h"
#include "views/view_store.h"

namespace contacts {

struct RebuildOptions {
  std::string data_dir;  // whose live views to replace (need not hold any)
  ViewStoreOptions views;
  // Per partition, an offset below which no change is queued, beyond what the live views had
  // applied (on Kafka: the writer group's committed offsets). Empty: none.
  std::vector<int64_t> quiet_floor;
  ChangeScope scope = ChangeScope::kSubscribed;
  // Forward misplaced records past the quiet boundary (Projector::set_forward_misplaced): the
  // live views had not got to them, so nobody forwarded them yet. A copy forwarded twice (a
  // writer that also reaches them) is folded once.
  bool forward_misplaced = true;
  // Opens sealed records (none: sealing off); past the quiet boundary, the keys of contacts the
  // rebuild deletes are destroyed (nobody folded those deletes yet).
  KeyStore* keys = nullptr;
  // Called after each step with records applied and the log's total.
  std::function<void(uint64_t applied, uint64_t total)> progress;
};

struct Rebuilt {
  uint64_t records = 0;  // in the log, folded
  std::string path;      // of the views now live
};

// Rebuilds and swaps.
Result<Rebuilt> rebuild_views(Log& log, const RebuildOptions& options);

}  // namespace contacts
