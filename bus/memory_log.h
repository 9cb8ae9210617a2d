// MemoryLog: the Log kept in memory, for tests (and a FaultInjectingLog to wrap) that need no
// disk. The whole Log contract: thread-safe; an append is all-or-none and readers see all of it
// or none of it; its records get the next offsets of their partitions, in the order given.
//
//   MemoryLog log(3);
//   auto positions = log.append({{"2", command_json}});  // partition_for("2", 3), offset 0
//   auto entries = log.read(positions->front().partition, Offset(0), 100);
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "bus/log.h"

namespace contacts {

// As many partitions as an EmbeddedLog may have.
inline constexpr int32_t kMaxMemoryLogPartitions = 4096;

class MemoryLog final : public Log {
 public:
  // An empty log of `partitions` partitions (1 to kMaxMemoryLogPartitions; std::invalid_argument
  // otherwise: a test's misconfiguration).
  explicit MemoryLog(int32_t partitions);

  // Never fails. An empty `records` appends nothing and does not count as an append
  // (wait_for_append is not woken by it).
  Result<std::vector<LogPosition>> append(const std::vector<LogRecord>& records) override;
  // Appends `records` to `partition` whatever their keys, as a producer with another partitioner
  // would (Kafka producers choose their partitions). kInvalid for a partition the log lacks.
  Result<std::vector<LogPosition>> append_to(Partition partition,
                                             const std::vector<LogRecord>& records);
  // kInvalid for a partition the log does not have; a `from` before 0 reads from 0.
  Result<std::vector<LogEntry>> read(Partition partition, Offset from, size_t max_records) override;
  // 0 for a partition the log does not have.
  Offset end_offset(Partition partition) override;
  std::vector<Offset> end_offsets() override;
  int32_t partitions() const override { return partitions_; }
  uint64_t wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) override;
  uint64_t append_count() const override { return appends_.load(); }

 private:
  // Appends records[i] to placed[i].
  Result<std::vector<LogPosition>> append_placed(const std::vector<LogRecord>& records,
                                                 const std::vector<Partition>& placed);

  const int32_t partitions_;
  mutable std::mutex mutex_;  // guards records_ and orders appends_ with appended_
  std::vector<std::vector<LogRecord>> records_;  // per partition, indexed by offset
  std::atomic<uint64_t> appends_{0};
  std::condition_variable appended_;
};

}  // namespace contacts
