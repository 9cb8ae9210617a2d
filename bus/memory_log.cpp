#include "bus/memory_log.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace contacts {

MemoryLog::MemoryLog(int32_t partitions) : partitions_(partitions) {
  if (partitions < 1 || partitions > kMaxMemoryLogPartitions)
    throw std::invalid_argument("MemoryLog: partitions must be between 1 and " +
                                std::to_string(kMaxMemoryLogPartitions) + ", not " +
                                std::to_string(partitions));
  records_.resize(static_cast<size_t>(partitions));
}

Result<std::vector<LogPosition>> MemoryLog::append(const std::vector<LogRecord>& records) {
  std::vector<Partition> placed;
  placed.reserve(records.size());
  for (const auto& r : records) placed.push_back(partition_for(r.key, partitions_));
  return append_placed(records, placed);
}

Result<std::vector<LogPosition>> MemoryLog::append_to(Partition partition,
                                                      const std::vector<LogRecord>& records) {
  if (partition.value < 0 || partition.value >= partitions_)
    return Status{Code::kInvalid, "no such partition"};
  return append_placed(records, std::vector<Partition>(records.size(), partition));
}

Result<std::vector<LogPosition>> MemoryLog::append_placed(const std::vector<LogRecord>& records,
                                                          const std::vector<Partition>& placed) {
  std::vector<LogPosition> positions;
  if (records.empty()) return positions;
  // Copied and grouped by partition before the lock: what can throw (allocation) happens before
  // anything is appended, so an append that throws leaves the log as it was.
  std::vector<std::vector<LogRecord>> added(records_.size());
  for (size_t i = 0; i < records.size(); ++i)
    added[static_cast<size_t>(placed[i].value)].push_back(records[i]);
  positions.reserve(records.size());
  {
    std::lock_guard lock(mutex_);
    for (size_t p = 0; p < added.size(); ++p) {
      // Doubling, as push_back would: reserving just enough makes many small appends quadratic.
      const size_t needed = records_[p].size() + added[p].size();
      if (needed > records_[p].capacity())
        records_[p].reserve(std::max(needed, 2 * records_[p].capacity()));
    }
    std::vector<int64_t> next(records_.size());
    for (size_t p = 0; p < records_.size(); ++p) next[p] = static_cast<int64_t>(records_[p].size());
    for (Partition p : placed)
      positions.push_back({p, Offset(next[static_cast<size_t>(p.value)]++)});
    // Nothing below throws: the room is reserved and a string's move does not allocate.
    for (size_t p = 0; p < added.size(); ++p)
      for (auto& r : added[p]) records_[p].push_back(std::move(r));
    appends_.fetch_add(1);
  }
  appended_.notify_all();
  return positions;
}

Result<std::vector<LogEntry>> MemoryLog::read(Partition partition, Offset from,
                                              size_t max_records) {
  if (partition.value < 0 || partition.value >= partitions_)
    return Status{Code::kInvalid,
                  "read: the log has no partition " + std::to_string(partition.value)};
  std::vector<LogEntry> entries;
  const int64_t start = std::max<int64_t>(from.value, 0);
  std::lock_guard lock(mutex_);
  const auto& records = records_[static_cast<size_t>(partition.value)];
  const int64_t end = static_cast<int64_t>(records.size());
  for (int64_t at = start; at < end && entries.size() < max_records; ++at) {
    const LogRecord& r = records[static_cast<size_t>(at)];
    entries.push_back({partition, Offset(at), r.key, r.value});
  }
  return entries;
}

Offset MemoryLog::end_offset(Partition partition) {
  if (partition.value < 0 || partition.value >= partitions_) return Offset(0);
  std::lock_guard lock(mutex_);
  return Offset(static_cast<int64_t>(records_[static_cast<size_t>(partition.value)].size()));
}

std::vector<Offset> MemoryLog::end_offsets() {
  std::vector<Offset> ends;
  ends.reserve(records_.size());
  std::lock_guard lock(mutex_);  // one instant for every partition
  for (const auto& records : records_) ends.emplace_back(static_cast<int64_t>(records.size()));
  return ends;
}

uint64_t MemoryLog::wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  appended_.wait_for(lock, timeout, [&] { return appends_.load() != seen_appends; });
  return appends_.load();
}

}  // namespace contacts
