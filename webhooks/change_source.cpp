#include "webhooks/change_source.h"

namespace contacts {

std::vector<TakenChange> OutboxSource::take(size_t max) {
  std::vector<TakenChange> out;
  auto views = views_.get();
  if (!views) return out;  // being rebuilt: nothing to take yet
  for (auto& entry : views->outbox(max))
    out.push_back({std::to_string(entry.position_id), std::move(entry.change_event)});
  return out;
}

Status OutboxSource::taken(const std::vector<TakenChange>& changes) {
  std::vector<int64_t> positions;
  positions.reserve(changes.size());
  for (const auto& c : changes) positions.push_back(std::stoll(c.key));  // take() wrote them
  auto views = views_.get();
  if (!views) return {};
  return views->remove_outbox(positions);
}

}  // namespace contacts
