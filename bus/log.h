// Log: the durable, ordered, partitioned command log that both buses implement.
// Records of one key (a workspace id) land in one partition, in append order.
// Implementations are thread-safe: many appenders, one or more readers.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/types.h"

namespace contacts {

struct LogRecord {
  std::string key;    // the workspace id as a decimal string
  std::string value;  // the command's JSON
};

struct LogPosition {
  Partition partition;
  Offset offset;
};

struct LogEntry {
  Partition partition;
  Offset offset;
  std::string key;
  std::string value;
};

// An append under way (Log::start_append, ChangeTopic::start_publish). Destroying it without
// wait() still waits for the records' outcome (nothing outlives it on the way).
class PendingAppend {
 public:
  virtual ~PendingAppend() = default;
  // Returns once the records are durable (their positions, in the order given), or failed.
  virtual Result<std::vector<LogPosition>> wait() = 0;
};

// A PendingAppend that has its outcome already: what a synchronous adapter returns.
class DoneAppend final : public PendingAppend {
 public:
  explicit DoneAppend(Result<std::vector<LogPosition>> outcome) : outcome_(std::move(outcome)) {}
  Result<std::vector<LogPosition>> wait() override { return outcome_; }

 private:
  Result<std::vector<LogPosition>> outcome_;
};

class Log {
 public:
  virtual ~Log() = default;

  // Appends all records or none; returns when they are durable, with their positions
  // in the order given.
  virtual Result<std::vector<LogPosition>> append(const std::vector<LogRecord>& records) = 0;
  // Starts appending and returns; wait() says when the records are durable. Appends started one
  // after another keep that order in each partition. By default the append happens here, whole.
  virtual std::unique_ptr<PendingAppend> start_append(const std::vector<LogRecord>& records) {
    return std::make_unique<DoneAppend>(append(records));
  }

  // Up to `max_records` entries of `partition` starting at `from`, in offset order.
  virtual Result<std::vector<LogEntry>> read(Partition partition, Offset from,
                                             size_t max_records) = 0;

  // The offset the next append to `partition` will get.
  virtual Offset end_offset(Partition partition) = 0;
  // end_offset of every partition, in partition order, asked all at once. An unknown end
  // (brokers unreachable) is INT64_MAX.
  virtual std::vector<Offset> end_offsets() {
    std::vector<Offset> ends;
    for (int32_t p = 0; p < partitions(); ++p) ends.push_back(end_offset(Partition(p)));
    return ends;
  }

  virtual int32_t partitions() const = 0;

  // A Log that appends and asks for ends through this one but reads with a cursor of its own, so
  // that two readers at different offsets (a rebuild beside the live fold) do not move each
  // other's fetch; it must not outlive this one. Null when reads need no cursor (each call
  // positions itself): use this log.
  virtual std::unique_ptr<Log> with_own_reader() { return nullptr; }

  // Blocks until something is appended after `seen_appends` (see append_count) or
  // the timeout passes; returns the current append count.
  virtual uint64_t wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) = 0;
  virtual uint64_t append_count() const = 0;
};

// The partition of a workspace's records: Kafka's murmur2 of the key, as its default
// partitioner computes it, so both buses agree.
Partition partition_for(std::string_view key, int32_t partitions);

}  // namespace contacts
