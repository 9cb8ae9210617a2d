#include "bus/embedded_log.h"

#include <rocksdb/slice_transform.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <string_view>

#include "core/bytes.h"

namespace contacts {

namespace {

const std::string kPartitionsKey = "\xFFpartitions";

std::string record_key(Partition p, Offset o) {
  std::string k;
  k.reserve(kRecordKeyBytes + 1);
  bytes::put_u32(k, static_cast<uint32_t>(p.value));
  bytes::put_u64(k, static_cast<uint64_t>(o.value));
  return k;
}

// The key of a chunk of `p` whose first record has offset `first`. It sorts after a single
// record's key of the same offset and before the next offset's.
std::string chunk_key(Partition p, Offset first) {
  std::string k = record_key(p, first);
  k.push_back(kChunkMark);
  return k;
}

// One log key and its value: a chunk (records from the key's offset on) or, as earlier
// releases wrote, a single record. Calls visit(offset, key, value) for each record in order
// until it returns false. False when the value is not well formed.
template <typename Visit>
bool each_record(std::string_view log_key, std::string_view value, Visit visit) {
  if (log_key.size() < kRecordKeyBytes) return false;
  int64_t offset = static_cast<int64_t>(bytes::get_u64(log_key, 4));
  size_t at = 0;
  auto take = [&](std::string_view& out) {
    if (value.size() - at < 4) return false;
    uint32_t n = bytes::get_u32(value, at);
    at += 4;
    if (value.size() - at < n) return false;
    out = value.substr(at, n);
    at += n;
    return true;
  };
  if (log_key.size() == kRecordKeyBytes) {  // a single record: key length, key, value
    std::string_view key;
    if (!take(key)) return false;
    visit(offset, key, value.substr(at));
    return true;
  }
  if (log_key.size() != kRecordKeyBytes + 1 || log_key.back() != kChunkMark || value.size() < 4)
    return false;
  uint32_t count = bytes::get_u32(value, 0);
  at = 4;
  for (uint32_t i = 0; i < count; ++i, ++offset) {
    std::string_view key, record;
    if (!take(key) || !take(record)) return false;
    if (!visit(offset, key, record)) return true;
  }
  return at == value.size();
}

// The offset after the last record of the log key `log_key` (value `value`).
std::optional<int64_t> end_of(std::string_view log_key, std::string_view value) {
  int64_t first = static_cast<int64_t>(bytes::get_u64(log_key, 4));
  if (log_key.size() == kRecordKeyBytes) return first + 1;
  if (log_key.size() != kRecordKeyBytes + 1 || value.size() < 4) return std::nullopt;
  return first + bytes::get_u32(value, 0);
}

Status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return {Code::kUnavailable, what + ": in use by another process (" + s.ToString() + ")"};
  return {Code::kInternal, what + ": " + s.ToString()};
}

}  // namespace

Result<std::unique_ptr<EmbeddedLog>> EmbeddedLog::open(const std::string& path,
                                                       int32_t partitions) {
  return open(path, partitions, false);
}

Status EmbeddedLog::checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return from_rocks(s, "checkpoint of the log");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // No flush: appends are synced to the WAL, which the checkpoint copies.
  s = checkpoint->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max());
  if (!s.ok()) return from_rocks(s, "checkpoint of the log into " + dir);
  return {};
}

Result<std::unique_ptr<EmbeddedLog>> EmbeddedLog::open_read_only(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path + "/CURRENT", ec))
    return Status{Code::kNotFound, "no log at " + path};
  return open(path, 0, true);
}

Result<std::unique_ptr<EmbeddedLog>> EmbeddedLog::open(const std::string& path, int32_t partitions,
                                                       bool read_only) {
  rocksdb::Options options;
  options.create_if_missing = !read_only;
  options.write_buffer_size = 64 << 20;
  // An append puts each partition's records in order at its end: a per-partition insert hint
  // spares the memtable's skiplist a search from the top for each of them.
  options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(4));
  rocksdb::DB* raw = nullptr;
  auto s = read_only ? rocksdb::DB::OpenForReadOnly(options, path, &raw)
                     : rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return from_rocks(s, "open log " + path);
  std::unique_ptr<rocksdb::DB> db(raw);

  std::string stored;
  s = db->Get(rocksdb::ReadOptions(), kPartitionsKey, &stored);
  if (s.ok()) {
    partitions = static_cast<int32_t>(bytes::get_u32(stored, 0));
  } else if (s.IsNotFound() && read_only) {
    return Status{Code::kNotFound, "no log at " + path};
  } else if (s.IsNotFound()) {
    if (partitions < 1 || partitions > 4096)
      return Status{Code::kInvalid, "partitions must be between 1 and 4096"};
    std::string v;
    bytes::put_u32(v, static_cast<uint32_t>(partitions));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, kPartitionsKey, v);
    if (!s.ok()) return from_rocks(s, "write log metadata");
  } else {
    return from_rocks(s, "read log metadata");
  }

  std::vector<int64_t> ends(static_cast<size_t>(partitions), 0);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (int32_t p = 0; p < partitions; ++p) {
    it->SeekForPrev(record_key(Partition(p), Offset(INT64_MAX)));
    if (!it->Valid() || it->key().size() < kRecordKeyBytes ||
        bytes::get_u32(it->key().ToStringView(), 0) != static_cast<uint32_t>(p))
      continue;
    auto end = end_of(it->key().ToStringView(), it->value().ToStringView());
    if (!end)
      return Status{
          Code::kInternal,
          "open log " + path + ": malformed entry at the end of partition " + std::to_string(p)};
    ends[static_cast<size_t>(p)] = *end;
  }
  if (!it->status().ok()) return from_rocks(it->status(), "open log " + path);
  return std::unique_ptr<EmbeddedLog>(new EmbeddedLog(std::move(db), partitions, std::move(ends)));
}

EmbeddedLog::EmbeddedLog(std::unique_ptr<rocksdb::DB> db, int32_t partitions,
                         std::vector<int64_t> ends)
    : db_(std::move(db)), partitions_(partitions), ends_(ends.size()) {
  for (size_t i = 0; i < ends.size(); ++i) ends_[i].store(ends[i]);
}

EmbeddedLog::~EmbeddedLog() {
  if (db_) db_->Close().PermitUncheckedError();
}

Result<std::vector<LogPosition>> EmbeddedLog::append(const std::vector<LogRecord>& records) {
  std::vector<LogPosition> positions;
  positions.reserve(records.size());
  {
    std::lock_guard lock(append_mutex_);
    std::vector<int64_t> next(ends_.size());
    for (size_t i = 0; i < ends_.size(); ++i) next[i] = ends_[i].load();
    for (const auto& r : records) {
      Partition p = partition_for(r.key, partitions_);
      positions.push_back({p, Offset(next[static_cast<size_t>(p.value)]++)});
    }
    // Each partition's records go in chunks of consecutive offsets, one log key per chunk:
    // a few keys per append rather than one per record.
    std::vector<size_t> order(records.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return positions[a].partition.value < positions[b].partition.value;
    });
    size_t bytes = 64;
    for (const auto& r : records) bytes += r.key.size() + r.value.size() + 8;
    rocksdb::WriteBatch batch(bytes + 32 * (records.size() / kChunkRecords + ends_.size()));
    std::string chunk;
    for (size_t from = 0; from < order.size();) {
      const Partition p = positions[order[from]].partition;
      size_t to = from;
      while (to < order.size() && to - from < kChunkRecords &&
             positions[order[to]].partition.value == p.value)
        ++to;
      size_t chunk_bytes = 4;
      for (size_t i = from; i < to; ++i)
        chunk_bytes += 8 + records[order[i]].key.size() + records[order[i]].value.size();
      chunk.clear();
      chunk.reserve(chunk_bytes);
      bytes::put_u32(chunk, static_cast<uint32_t>(to - from));
      for (size_t i = from; i < to; ++i) {
        const LogRecord& r = records[order[i]];
        bytes::put_u32(chunk, static_cast<uint32_t>(r.key.size()));
        chunk.append(r.key);
        bytes::put_u32(chunk, static_cast<uint32_t>(r.value.size()));
        chunk.append(r.value);
      }
      batch.Put(chunk_key(p, positions[order[from]].offset), chunk).PermitUncheckedError();
      from = to;
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Write(wo, &batch);
    if (!s.ok()) return from_rocks(s, "append");
    for (size_t i = 0; i < ends_.size(); ++i) ends_[i].store(next[i]);
  }
  {
    std::lock_guard lock(wait_mutex_);
    appends_.fetch_add(1);
  }
  appended_.notify_all();
  return positions;
}

Result<std::vector<LogEntry>> EmbeddedLog::read(Partition partition, Offset from,
                                                size_t max_records) {
  std::vector<LogEntry> entries;
  if (from.value < 0) from = Offset(0);
  int64_t end = ends_[static_cast<size_t>(partition.value)].load();
  if (from.value >= end) return entries;
  std::string upper = record_key(partition, Offset(end));
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  // The log key holding `from` is the last one at or before it: a chunk may begin earlier.
  it->SeekForPrev(chunk_key(partition, from));
  if (!it->Valid() ||
      bytes::get_u32(it->key().ToStringView(), 0) != static_cast<uint32_t>(partition.value))
    it->Seek(record_key(partition, from));
  for (; it->Valid() && entries.size() < max_records; it->Next()) {
    bool well_formed = each_record(
        it->key().ToStringView(), it->value().ToStringView(),
        [&](int64_t offset, std::string_view key, std::string_view value) {
          if (offset < from.value) return true;
          if (entries.size() >= max_records) return false;
          entries.push_back({partition, Offset(offset), std::string(key), std::string(value)});
          return true;
        });
    if (!well_formed)
      return Status{Code::kInternal,
                    "read log: malformed entry in partition " + std::to_string(partition.value)};
  }
  if (!it->status().ok()) return from_rocks(it->status(), "read log");
  return entries;
}

Offset EmbeddedLog::end_offset(Partition partition) {
  return Offset(ends_[static_cast<size_t>(partition.value)].load());
}

uint64_t EmbeddedLog::wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) {
  std::unique_lock lock(wait_mutex_);
  appended_.wait_for(lock, timeout, [&] { return appends_.load() != seen_appends; });
  return appends_.load();
}

namespace {

std::string dead_letter_key(LogPosition source) {
  std::string k(1, kDeadLetterMark);
  bytes::put_u32(k, static_cast<uint32_t>(source.partition.value));
  bytes::put_u64(k, static_cast<uint64_t>(source.offset.value));
  return k;
}

// The dead letter `put` stored under `key`; nullopt when the entry is not well formed.
std::optional<DeadLetter> decode_dead_letter(std::string_view key, std::string_view value) {
  if (key.size() != 1 + kRecordKeyBytes || value.size() < 4) return std::nullopt;
  DeadLetter letter;
  letter.source = {Partition(static_cast<int32_t>(bytes::get_u32(key, 1))),
                   Offset(static_cast<int64_t>(bytes::get_u64(key, 5)))};
  const size_t reason = bytes::get_u32(value, 0);
  if (value.size() < 8 + reason) return std::nullopt;
  letter.reason = value.substr(4, reason);
  const size_t key_size = bytes::get_u32(value, 4 + reason);
  if (value.size() < 8 + reason + key_size) return std::nullopt;
  letter.key = value.substr(8 + reason, key_size);
  letter.value = value.substr(8 + reason + key_size);
  return letter;
}

}  // namespace

Status EmbeddedLog::put(const LogEntry& entry, const std::string& reason) {
  // Value: reason length (u32 BE), reason, key length (u32 BE), key, then the record's value.
  std::string v;
  v.reserve(8 + reason.size() + entry.key.size() + entry.value.size());
  bytes::put_u32(v, static_cast<uint32_t>(reason.size()));
  v.append(reason);
  bytes::put_u32(v, static_cast<uint32_t>(entry.key.size()));
  v.append(entry.key);
  v.append(entry.value);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto s = db_->Put(wo, dead_letter_key({entry.partition, entry.offset}), v);
  return s.ok() ? Status{} : from_rocks(s, "keep dead letter");
}

Result<std::vector<DeadLetter>> EmbeddedLog::list() {
  std::vector<DeadLetter> letters;
  const std::string lower(1, kDeadLetterMark);
  const std::string upper(1, static_cast<char>(kDeadLetterMark + 1));
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    auto letter = decode_dead_letter(it->key().ToStringView(), it->value().ToStringView());
    if (!letter) return Status{Code::kInternal, "read dead letters: malformed entry"};
    letters.push_back(std::move(*letter));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "read dead letters");
  return letters;
}

}  // namespace contacts
