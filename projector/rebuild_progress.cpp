#include "projector/rebuild_progress.h"

#include <nlohmann/json.hpp>

namespace contacts {

std::string_view rebuild_phase_name(RebuildPhase phase) {
  switch (phase) {
    case RebuildPhase::kIdle:
      return "idle";
    case RebuildPhase::kFolding:
      return "folding";
    case RebuildPhase::kSwapping:
      return "swapping";
    case RebuildPhase::kDone:
      return "done";
    case RebuildPhase::kFailed:
      return "failed";
    case RebuildPhase::kCancelled:
      break;
  }
  return "cancelled";
}

std::string RebuildProgress::to_json() const {
  nlohmann::json j = {{"phase", rebuild_phase_name(phase)},
                      {"before_serving", before_serving},
                      {"folded", folded},
                      {"target", target},
                      {"seconds", seconds},
                      {"rate", rate}};
  if (!reason.empty()) j["reason"] = reason;
  if (!error.empty()) j["error"] = error;
  if (phase == RebuildPhase::kFolding && rate > 0)
    j["eta_seconds"] = static_cast<double>(target > folded ? target - folded : 0) / rate;
  return j.dump();
}

void RebuildProgress::add_to(Exposition& metrics) const {
  metrics.gauge("contacts_rebuild_records_folded",
                "Records the running (or last) rebuild's fresh views have folded.",
                static_cast<double>(folded));
  metrics.gauge("contacts_rebuild_records_target",
                "Records in the log at the rebuild's last look: what it folds up to.",
                static_cast<double>(target));
  for (auto p : {RebuildPhase::kIdle, RebuildPhase::kFolding, RebuildPhase::kSwapping,
                 RebuildPhase::kDone, RebuildPhase::kFailed, RebuildPhase::kCancelled})
    metrics.gauge("contacts_rebuild_phase", "1 for the phase the rebuild is in, 0 for the others.",
                  p == phase ? 1 : 0, {{"phase", std::string(rebuild_phase_name(p))}});
}

}  // namespace contacts
