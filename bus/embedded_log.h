// EmbeddedLog: the Log kept in its own RocksDB instance (default bus; nothing to install).
// Key = partition(u32 BE) offset(u64 BE); appends are synced to disk before they return.
// The partition count is fixed when the log is created and stored in it.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "bus/log.h"

namespace contacts {

class EmbeddedLog final : public Log {
 public:
  // Opens (or creates with `partitions`) the log at `path`. kUnavailable when another
  // process holds it.
  static Result<std::unique_ptr<EmbeddedLog>> open(const std::string& path, int32_t partitions);
  ~EmbeddedLog() override;

  Result<std::vector<LogPosition>> append(const std::vector<LogRecord>& records) override;
  Result<std::vector<LogEntry>> read(Partition partition, Offset from, size_t max_records) override;
  Offset end_offset(Partition partition) override;
  int32_t partitions() const override { return partitions_; }
  uint64_t wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) override;
  uint64_t append_count() const override { return appends_.load(); }

 private:
  EmbeddedLog(std::unique_ptr<rocksdb::DB> db, int32_t partitions, std::vector<int64_t> ends);

  std::unique_ptr<rocksdb::DB> db_;
  const int32_t partitions_;
  std::mutex append_mutex_;          // orders offset assignment and the write
  std::vector<std::atomic<int64_t>> ends_;  // next offset per partition
  std::atomic<uint64_t> appends_{0};
  std::mutex wait_mutex_;
  std::condition_variable appended_;
};

}  // namespace contacts
