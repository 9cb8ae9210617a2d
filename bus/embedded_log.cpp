#include "bus/embedded_log.h"

#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <numeric>

#include "core/keys.h"

namespace contacts {

namespace {

const std::string kPartitionsKey = "\xFFpartitions";

std::string record_key(Partition p, Offset o) {
  std::string k;
  keys::put_u32(k, static_cast<uint32_t>(p.value));
  keys::put_u64(k, static_cast<uint64_t>(o.value));
  return k;
}

std::string record_value(const LogRecord& r) {
  std::string v;
  keys::put_u32(v, static_cast<uint32_t>(r.key.size()));
  v.append(r.key);
  v.append(r.value);
  return v;
}

Status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return {Code::kUnavailable, what + ": in use by another process (" + s.ToString() + ")"};
  return {Code::kInternal, what + ": " + s.ToString()};
}

}  // namespace

Result<std::unique_ptr<EmbeddedLog>> EmbeddedLog::open(const std::string& path, int32_t partitions) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 64 << 20;
  // An append puts each partition's records in order at its end: a per-partition insert hint
  // spares the memtable's skiplist a search from the top for each of them.
  options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(4));
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return from_rocks(s, "open log " + path);
  std::unique_ptr<rocksdb::DB> db(raw);

  std::string stored;
  s = db->Get(rocksdb::ReadOptions(), kPartitionsKey, &stored);
  if (s.ok()) {
    partitions = static_cast<int32_t>(keys::get_u32(stored, 0));
  } else if (s.IsNotFound()) {
    if (partitions < 1 || partitions > 4096)
      return Status{Code::kInvalid, "partitions must be between 1 and 4096"};
    std::string v;
    keys::put_u32(v, static_cast<uint32_t>(partitions));
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
    if (it->Valid() && it->key().size() == 12 && keys::get_u32(it->key().ToStringView(), 0) == static_cast<uint32_t>(p))
      ends[static_cast<size_t>(p)] = static_cast<int64_t>(keys::get_u64(it->key().ToStringView(), 4)) + 1;
  }
  return std::unique_ptr<EmbeddedLog>(new EmbeddedLog(std::move(db), partitions, std::move(ends)));
}

EmbeddedLog::EmbeddedLog(std::unique_ptr<rocksdb::DB> db, int32_t partitions, std::vector<int64_t> ends)
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
    // Written partition by partition, each in offset order (see the insert hint in open()).
    std::vector<size_t> order(records.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return positions[a].partition.value < positions[b].partition.value; });
    size_t bytes = 64;
    for (const auto& r : records) bytes += r.key.size() + r.value.size() + 32;
    rocksdb::WriteBatch batch(bytes);
    for (size_t i : order) batch.Put(record_key(positions[i].partition, positions[i].offset), record_value(records[i]));
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

Result<std::vector<LogEntry>> EmbeddedLog::read(Partition partition, Offset from, size_t max_records) {
  std::vector<LogEntry> entries;
  int64_t end = ends_[static_cast<size_t>(partition.value)].load();
  if (from.value >= end) return entries;
  std::string upper = record_key(partition, Offset(end));
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(record_key(partition, from)); it->Valid() && entries.size() < max_records; it->Next()) {
    auto key = it->key().ToStringView();
    auto value = it->value().ToStringView();
    uint32_t key_len = keys::get_u32(value, 0);
    entries.push_back({partition, Offset(static_cast<int64_t>(keys::get_u64(key, 4))),
                       std::string(value.substr(4, key_len)), std::string(value.substr(4 + key_len))});
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

}  // namespace contacts
