// EmbeddedLog: the Log kept in its own RocksDB instance (default bus; nothing to install).
// An append writes each partition's records as chunks of consecutive offsets: key =
// partition(u32 BE) first offset(u64 BE) 'c', value = record count(u32 BE), then per record
// key length(u32 BE) key value length(u32 BE) value. (Logs of earlier releases hold one record
// per key: partition offset, value = key length, key, value; both are read.) Appends are
// synced to disk before they return. The partition count is fixed when the log is created
// and stored in it. Dead letters (DeadLetterQueue) are kept in the same instance under their own
// first byte (kDeadLetterMark), keyed by their source position: put twice, kept once.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "bus/dead_letters.h"
#include "bus/log.h"
#include "core/metrics.h"

namespace contacts {

// Bytes of a single record's key (partition, offset); a chunk's key has one more, kChunkMark.
inline constexpr size_t kRecordKeyBytes = 12;
inline constexpr char kChunkMark = 'c';
// Records an append puts in one chunk at most.
inline constexpr size_t kChunkRecords = 1024;
// The first byte of a dead letter's key (after every partition's records, before metadata).
inline constexpr char kDeadLetterMark = '\xFE';

class EmbeddedLog final : public Log, public DeadLetterQueue {
 public:
  // Opens (or creates with `partitions`) the log at `path`. kUnavailable when another
  // process holds it.
  static Result<std::unique_ptr<EmbeddedLog>> open(const std::string& path, int32_t partitions);
  // Opens an existing log to read, beside the process that holds it (RocksDB's read-only mode:
  // what was durable at this moment). Appends and puts fail. kNotFound when there is no log.
  static Result<std::unique_ptr<EmbeddedLog>> open_read_only(const std::string& path);
  ~EmbeddedLog() override;

  Result<std::vector<LogPosition>> append(const std::vector<LogRecord>& records) override;
  Result<std::vector<LogEntry>> read(Partition partition, Offset from, size_t max_records) override;
  Offset end_offset(Partition partition) override;
  int32_t partitions() const override { return partitions_; }
  uint64_t wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) override;
  uint64_t append_count() const override { return appends_.load(); }

  // Writes a RocksDB checkpoint of the log into `dir` (which must not exist): hard links to
  // its files on the same filesystem, copies otherwise, and a copy of its synced WAL. Every
  // record appended before the call is in it; appends go on meanwhile.
  Status checkpoint(const std::string& dir) const;

  Status put(const LogEntry& entry, const std::string& reason) override;
  Result<std::vector<DeadLetter>> list() override;

  // What RocksDB reports of its size (/metrics).
  StoreSizes sizes() const { return store_sizes(*db_); }

 private:
  static Result<std::unique_ptr<EmbeddedLog>> open(const std::string& path, int32_t partitions,
                                                   bool read_only);
  EmbeddedLog(std::unique_ptr<rocksdb::DB> db, int32_t partitions, std::vector<int64_t> ends);

  std::unique_ptr<rocksdb::DB> db_;
  const int32_t partitions_;
  std::mutex append_mutex_;                 // orders offset assignment and the write
  std::vector<std::atomic<int64_t>> ends_;  // next offset per partition
  std::atomic<uint64_t> appends_{0};
  std::mutex wait_mutex_;
  std::condition_variable appended_;
};

}  // namespace contacts
