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

void RebuildProgress::render_metrics(std::string& out) const {
  out += "# TYPE contacts_rebuild_records_folded gauge\ncontacts_rebuild_records_folded " +
         std::to_string(folded) + "\n";
  out += "# TYPE contacts_rebuild_records_target gauge\ncontacts_rebuild_records_target " +
         std::to_string(target) + "\n";
  out += "# TYPE contacts_rebuild_phase gauge\n";
  for (auto p : {RebuildPhase::kIdle, RebuildPhase::kFolding, RebuildPhase::kSwapping,
                 RebuildPhase::kDone, RebuildPhase::kFailed, RebuildPhase::kCancelled})
    out += "contacts_rebuild_phase{phase=\"" + std::string(rebuild_phase_name(p)) + "\"} " +
           (p == phase ? "1" : "0") + "\n";
}

}  // namespace contacts
