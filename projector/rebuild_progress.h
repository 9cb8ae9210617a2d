// RebuildProgress: what a rebuild while serving has done (projector/live_fold.h), as /readyz,
// /metrics and the control socket show it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/metrics.h"

namespace contacts {

enum class RebuildPhase { kIdle, kFolding, kSwapping, kDone, kFailed, kCancelled };
std::string_view rebuild_phase_name(RebuildPhase phase);

// What a rebuild has done (the last one, when none runs).
struct RebuildProgress {
  RebuildPhase phase = RebuildPhase::kIdle;
  bool before_serving = false;  // the old views could not be served
  std::string reason;           // why it runs
  std::string error;            // kFailed: why
  uint64_t folded = 0;          // records the fresh views have folded
  uint64_t target = 0;          // records in the log, at the last look
  double seconds = 0;           // since it started
  double rate = 0;              // records folded a second (this run)

  // {"phase": ..., "folded": ..., "target": ..., "rate": ..., "eta_seconds": ..., ...}
  std::string to_json() const;
  // Adds contacts_rebuild_records_folded, _target and contacts_rebuild_phase to `metrics`.
  void add_to(Exposition& metrics) const;
};

}  // namespace contacts
