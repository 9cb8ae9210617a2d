// The embedded log: positions of an append, order within a partition, reopening.
#include "bus/embedded_log.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <map>
#include <string>
#include <vector>

#include "bus/log_testing.h"
#include "core/bytes.h"
#include "tests/temp_dir.h"

namespace contacts {
namespace {

TEST_CASE(
    "an append interleaving partitions gives each record the next offset of its partition, in "
    "record order") {
  TempDir dir("embedded_log_test");
  constexpr int32_t kPartitions = 4;
  std::map<int32_t, std::vector<std::string>> expected;  // partition -> values in offset order
  std::vector<std::string> all;
  {
    auto log = EmbeddedLog::open(dir.path() + "/log", kPartitions);
    REQUIRE(log.ok());
    for (int round = 0; round < 2; ++round) {
      std::vector<LogRecord> records;
      for (int i = 0; i < 50; ++i) {
        std::string key = std::to_string(i % 7 + 1);
        records.push_back({key, "r" + std::to_string(round) + "-" + std::to_string(i)});
      }
      auto positions = (*log)->append(records);
      REQUIRE(positions.ok());
      REQUIRE(positions->size() == records.size());
      for (size_t i = 0; i < records.size(); ++i) {
        const LogPosition& at = (*positions)[i];
        CHECK(at.partition.value == partition_for(records[i].key, kPartitions).value);
        auto& values = expected[at.partition.value];
        CHECK(at.offset.value ==
              static_cast<int64_t>(values.size()));  // the partition's next offset
        values.push_back(records[i].value);
      }
    }
  }
  // Reopened: each partition reads back its records in the order they were appended.
  auto log = EmbeddedLog::open(dir.path() + "/log", kPartitions);
  REQUIRE(log.ok());
  CHECK(expected.size() > 1);
  for (const auto& [p, values] : expected) {
    CHECK((*log)->end_offset(Partition(p)).value == static_cast<int64_t>(values.size()));
    auto entries = (*log)->read(Partition(p), Offset(0), 1000);
    REQUIRE(entries.ok());
    std::vector<std::string> read;
    for (const auto& e : *entries) {
      CHECK(e.offset.value == static_cast<int64_t>(read.size()));
      CHECK(partition_for(e.key, kPartitions).value == p);
      read.push_back(e.value);
    }
    CHECK(read == values);
  }
}

using log_testing::read_all;

TEST_CASE(
    "a partition written in many chunks reads back from any offset, in reads of any size, before "
    "and after reopening") {
  TempDir dir("embedded_log_test");
  constexpr int32_t kPartitions = 3;
  const std::string key = "42";
  const Partition p = partition_for(key, kPartitions);
  std::vector<std::string> values;
  auto append = [&](Log& log, size_t n) {
    std::vector<LogRecord> records;
    for (size_t i = 0; i < n; ++i) {
      records.push_back({key, "v" + std::to_string(values.size() + records.size())});
      records.push_back({"7", "other"});  // interleaved with another workspace
    }
    REQUIRE(log.append(records).ok());
    for (const auto& r : records)
      if (r.key == key) values.push_back(r.value);
  };
  {
    auto log = EmbeddedLog::open(dir.path() + "/log", kPartitions);
    REQUIRE(log.ok());
    append(**log, 2 * kChunkRecords + 17);  // three chunks in one append
    append(**log, 1);
    append(**log, kChunkRecords);
  }
  auto log = EmbeddedLog::open(dir.path() + "/log", kPartitions);
  REQUIRE(log.ok());
  CHECK((*log)->end_offset(p).value == static_cast<int64_t>(values.size()));
  for (int64_t from :
       {int64_t{0}, int64_t{1}, static_cast<int64_t>(kChunkRecords) - 1,
        static_cast<int64_t>(kChunkRecords), static_cast<int64_t>(kChunkRecords) + 1,
        static_cast<int64_t>(2 * kChunkRecords + 17), static_cast<int64_t>(values.size()) - 1,
        static_cast<int64_t>(values.size())}) {
    for (size_t step : {size_t{1}, size_t{7}, size_t{1000}, size_t{5000}}) {
      if (step == 1 && from < static_cast<int64_t>(kChunkRecords))
        continue;  // slow and nothing new
      INFO("from " << from << " step " << step);
      CHECK(read_all(**log, p, from, step) ==
            std::vector<std::string>(values.begin() + from, values.end()));
    }
  }
  append(**log, 3);  // appends go on after the reopened end
  CHECK(read_all(**log, p, 0, 4096) == values);
  auto from_before =
      (*log)->read(p, Offset(-5), 3);  // a read from before the start reads from the start
  REQUIRE(from_before.ok());
  REQUIRE(from_before->size() == 3);
  CHECK(from_before->front().offset.value == 0);
  CHECK(from_before->front().value == values.front());
}

TEST_CASE(
    "a log of one record per key, as earlier releases wrote it, reads back and takes appends after "
    "its end") {
  TempDir dir("embedded_log_test");
  constexpr int32_t kPartitions = 2;
  const std::string key = "5";
  const Partition p = partition_for(key, kPartitions);
  std::vector<std::string> values;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.path() + "/log", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string partitions;
    bytes::put_u32(partitions, kPartitions);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "\xFFpartitions", partitions).ok());
    for (int64_t offset = 0; offset < 30; ++offset) {
      std::string log_key, value;
      bytes::put_u32(log_key, static_cast<uint32_t>(p.value));
      bytes::put_u64(log_key, static_cast<uint64_t>(offset));
      bytes::put_u32(value, static_cast<uint32_t>(key.size()));
      values.push_back("old" + std::to_string(offset));
      value += key + values.back();
      REQUIRE(db->Put(rocksdb::WriteOptions(), log_key, value).ok());
    }
  }
  auto log = EmbeddedLog::open(dir.path() + "/log", kPartitions);
  REQUIRE(log.ok());
  CHECK((*log)->partitions() == kPartitions);
  CHECK((*log)->end_offset(p).value == 30);
  std::vector<LogRecord> records;
  for (int i = 0; i < 40; ++i) records.push_back({key, "new" + std::to_string(i)});
  auto positions = (*log)->append(records);
  REQUIRE(positions.ok());
  CHECK(positions->front().offset.value == 30);
  for (const auto& r : records) values.push_back(r.value);
  for (int64_t from : {0, 29, 30, 31, 69})
    for (size_t step : {size_t{1}, size_t{3}, size_t{100}}) {
      INFO("from " << from << " step " << step);
      CHECK(read_all(**log, p, from, step) ==
            std::vector<std::string>(values.begin() + from, values.end()));
    }
  auto entries = (*log)->read(p, Offset(0), 1);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 1);
  CHECK(entries->front().key == key);
}

TEST_CASE("dead letters are kept once per source position, listed beside the writer, and kept") {
  TempDir dir("embedded_log_test");
  const std::string path = dir.path() + "/log";
  auto log = EmbeddedLog::open(path, 4);
  REQUIRE(log.ok());
  auto positions = (*log)->append({{"2", "{not json"}, {"3", "{\"type\":\"nope\"}"}});
  REQUIRE(positions.ok());
  const LogEntry first{(*positions)[0].partition, (*positions)[0].offset, "2", "{not json"};
  const LogEntry second{(*positions)[1].partition, (*positions)[1].offset, "3",
                        "{\"type\":\"nope\"}"};
  REQUIRE((*log)->put(first, "malformed JSON").ok());
  REQUIRE((*log)->put(second, "unknown command type \"nope\"").ok());
  REQUIRE((*log)->put(first, "malformed JSON").ok());  // a batch folded again puts it again

  auto check = [&](DeadLetterQueue& queue) {
    auto letters = queue.list();
    REQUIRE(letters.ok());
    REQUIRE(letters->size() == 2);
    std::map<std::string, DeadLetter> by_key;
    for (const auto& l : *letters) by_key[l.key] = l;
    CHECK(by_key["2"].value == "{not json");
    CHECK(by_key["2"].reason == "malformed JSON");
    CHECK(position_name(by_key["2"].source) == position_name({first.partition, first.offset}));
    CHECK(by_key["3"].reason == "unknown command type \"nope\"");
  };
  check(**log);
  {
    // Beside the process that holds the log: read-only, and it cannot write.
    auto beside = EmbeddedLog::open_read_only(path);
    REQUIRE(beside.ok());
    check(**beside);
    CHECK((*beside)->end_offset((*positions)[0].partition).value >= 1);
    CHECK_FALSE((*beside)->append({{"2", "x"}}).ok());
  }
  log->reset();
  auto reopened = EmbeddedLog::open(path, 4);
  REQUIRE(reopened.ok());
  check(**reopened);
  // The records themselves are untouched by their dead letters.
  auto read = (*reopened)->read(first.partition, first.offset, 1);
  REQUIRE(read.ok());
  CHECK(read->at(0).value == "{not json");
  CHECK(EmbeddedLog::open_read_only(dir.path() + "/none").status().code() == Code::kNotFound);
}

TEST_CASE("positions are named partition/offset and parsed back, nothing else") {
  CHECK(position_name({Partition(3), Offset(17)}) == "3/17");
  auto parsed = parse_position("3/17");
  REQUIRE(parsed);
  CHECK(parsed->partition.value == 3);
  CHECK(parsed->offset.value == 17);
  for (const char* bad : {"", "3", "3/", "/17", "-1/2", "3/x", "3/17/1", " 3/17", "3/17 "})
    CHECK_FALSE(parse_position(bad));
}

TEST_CASE(
    "a checkpoint of the log holds every record appended before it, and the log appends on "
    "after it") {
  TempDir dir("embedded_log_test");
  auto log = EmbeddedLog::open(dir.path() + "/log", 2);
  REQUIRE(log.ok());
  REQUIRE((*log)->append({{"1", "a"}, {"2", "b"}, {"1", "c"}}).ok());
  REQUIRE((*log)->checkpoint(dir.path() + "/copy").ok());
  REQUIRE((*log)->append({{"1", "d"}}).ok());
  auto copy = EmbeddedLog::open_read_only(dir.path() + "/copy");
  REQUIRE(copy.ok());
  CHECK((*copy)->partitions() == 2);
  const Partition p = partition_for("1", 2);
  const bool shared = partition_for("2", 2) == p;  // "b" then sits between "a" and "c"
  CHECK((*log)->end_offset(p).value == (shared ? 4 : 3));
  CHECK((*copy)->end_offset(p).value == (shared ? 3 : 2));
  auto entries = (*copy)->read(p, Offset(0), 10);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == (shared ? 3u : 2u));
  CHECK(entries->front().value == "a");
  CHECK(entries->back().value == "c");
  if (partition_for("2", 2) != p) CHECK((*copy)->end_offset(partition_for("2", 2)).value == 1);
  CHECK_FALSE((*log)->checkpoint(dir.path() + "/copy").ok());  // never into one that exists
}

}  // namespace
}  // namespace contacts
