#include "webhooks/kafka_change_source.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/log.h"

namespace contacts {

namespace {

constexpr size_t kFetchAhead = 2000;

std::string message_key(int32_t partition, int64_t offset) {
  return std::to_string(partition) + "/" + std::to_string(offset);
}

}  // namespace

Result<std::unique_ptr<KafkaChangeSource>> KafkaChangeSource::open(
    KafkaGroupOptions options, std::function<bool(int64_t)> ready) {
  std::unique_ptr<KafkaChangeSource> source(new KafkaChangeSource());
  source->ready_ = std::move(ready);
  KafkaGroupHandlers handlers;
  auto* raw = source.get();
  // What was fetched for partitions that go to another member is theirs to take now.
  handlers.assigned = [](const std::vector<int32_t>& partitions) {
    log::info("webhooks: assigned partitions " + partition_list(partitions));
  };
  handlers.revoking = [raw](const std::vector<int32_t>& partitions) {
    raw->buffer_.clear();
    raw->paused_ = false;  // the next assignment starts fetching
    log::info("webhooks: revoked partitions " + partition_list(partitions));
  };
  options.pause_assigned = false;
  auto group = KafkaGroup::join(options, std::move(handlers));
  if (!group.ok()) return group.status();
  source->group_ = std::move(*group);
  return source;
}

std::vector<TakenChange> KafkaChangeSource::take(size_t max) {
  // Polled on every call, even with a full buffer (fetching paused then): the group counts a
  // member that stops polling as gone (max.poll.interval.ms).
  if (paused_ && buffer_.size() < kFetchAhead / 2) {
    group_->pause(false);
    paused_ = false;
  }
  auto fetched = group_->poll(0, buffer_.size() < kFetchAhead ? kFetchAhead - buffer_.size() : 1);
  if (fetched.ok())
    for (auto& m : *fetched) {
      auto j = nlohmann::json::parse(m.value, nullptr, false);
      int64_t position = 0;
      if (j.is_object() && j.contains("position") && j["position"].is_number_integer())
        position = j["position"].get<int64_t>();
      buffer_.push_back({std::move(m), position});
    }
  if (!paused_ && buffer_.size() >= kFetchAhead) {
    group_->pause(true);
    paused_ = true;
  }
  std::vector<TakenChange> out;
  for (const auto& b : buffer_) {
    if (out.size() >= max) break;
    // In order: a change whose position the local views have not reached holds back the rest.
    if (b.position > 0 && !ready_(b.position)) break;
    out.push_back({message_key(b.message.partition, b.message.offset), b.message.value});
  }
  return out;
}

Status KafkaChangeSource::taken(const std::vector<TakenChange>& changes) {
  std::map<int32_t, int64_t> next;
  size_t count = 0;
  for (const auto& c : changes) {
    // Only what the last take() returned: the front of the buffer, in order.
    if (buffer_.empty() ||
        message_key(buffer_.front().message.partition, buffer_.front().message.offset) != c.key)
      continue;
    auto& m = buffer_.front().message;
    next[m.partition] = std::max(next[m.partition], m.offset + 1);
    buffer_.pop_front();
    ++count;
  }
  // Only partitions still assigned here: another member may own the others by now.
  const auto assigned = group_->assignment();
  std::vector<std::pair<int32_t, int64_t>> offsets;
  for (const auto& [p, offset] : next)
    if (std::find(assigned.begin(), assigned.end(), p) != assigned.end())
      offsets.emplace_back(p, offset);
  if (count == 0 || offsets.empty()) return {};
  return group_->commit(offsets);
}

}  // namespace contacts
