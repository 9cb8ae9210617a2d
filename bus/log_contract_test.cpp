// The Log contract, pinned once and run against every implementation that has no broker: the
// embedded log, the memory log, and a fault-injecting log with nothing scripted (it must be
// invisible). Placement, order, reads of any size, end offsets, append counts, all-or-none.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bus/embedded_log.h"
#include "bus/fault_injecting_log.h"
#include "bus/log.h"
#include "bus/log_testing.h"
#include "bus/memory_log.h"
#include "tests/temp_dir.h"

namespace contacts {
namespace {

// Each maker opens fresh logs and owns what they need; it outlives them.
struct MemoryLogs {
  static constexpr int kAppendsPerThread = 200;
  std::unique_ptr<Log> make(int32_t partitions) { return std::make_unique<MemoryLog>(partitions); }
};

struct EmbeddedLogs {
  static constexpr int kAppendsPerThread = 25;  // each append is synced to disk
  TempDir dir{"log_contract_test"};
  int opened = 0;
  std::unique_ptr<Log> make(int32_t partitions) {
    auto log = EmbeddedLog::open(dir.path() + "/log" + std::to_string(opened++), partitions);
    REQUIRE_MESSAGE(log.ok(), log.status().message());
    return std::move(*log);
  }
};

struct UnscriptedFaultInjectingLogs {
  static constexpr int kAppendsPerThread = 200;
  std::vector<std::unique_ptr<MemoryLog>> wrapped;
  std::unique_ptr<Log> make(int32_t partitions) {
    wrapped.push_back(std::make_unique<MemoryLog>(partitions));
    return std::make_unique<FaultInjectingLog>(*wrapped.back());
  }
};

#define LOG_IMPLEMENTATIONS MemoryLogs, EmbeddedLogs, UnscriptedFaultInjectingLogs

using log_testing::read_all;

TEST_CASE_TEMPLATE(
    "a log gives each appended record the next offset of its key's partition, in record order",
    Logs, LOG_IMPLEMENTATIONS) {
  Logs logs;
  constexpr int32_t kPartitions = 4;
  auto log = logs.make(kPartitions);
  CHECK(log->partitions() == kPartitions);
  std::map<int32_t, std::vector<std::string>> expected;  // partition -> values in offset order
  for (int round = 0; round < 3; ++round) {
    std::vector<LogRecord> records;
    for (int i = 0; i < 40; ++i)
      records.push_back(
          {std::to_string(i % 7 + 1), "r" + std::to_string(round) + "-" + std::to_string(i)});
    auto positions = log->append(records);
    REQUIRE(positions.ok());
    REQUIRE(positions->size() == records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      const LogPosition& at = (*positions)[i];
      CHECK(at.partition.value ==
            partition_for(records[i].key, kPartitions).value);  // the caller's placement
      auto& values = expected[at.partition.value];
      CHECK(at.offset.value == static_cast<int64_t>(values.size()));
      values.push_back(records[i].value);
    }
  }
  CHECK(expected.size() > 1);
  for (const auto& [p, values] : expected) {
    CHECK(read_all(*log, Partition(p), 0, 1000) == values);
    auto entries = log->read(Partition(p), Offset(0), 1000);
    REQUIRE(entries.ok());
    for (const auto& e : *entries) CHECK(partition_for(e.key, kPartitions).value == p);
  }
}

TEST_CASE_TEMPLATE(
    "a log reads back from any offset in reads of any size; from before the start reads from the "
    "start",
    Logs, LOG_IMPLEMENTATIONS) {
  Logs logs;
  auto log = logs.make(3);
  const std::string key = "42";
  const Partition p = partition_for(key, 3);
  std::vector<std::string> values;
  for (int append = 0; append < 5; ++append) {
    std::vector<LogRecord> records;
    for (int i = 0; i < 9; ++i) {
      records.push_back({key, "v" + std::to_string(values.size())});
      values.push_back(records.back().value);
      records.push_back({"7", "other"});  // another workspace, interleaved
    }
    REQUIRE(log->append(records).ok());
  }
  const int64_t end = static_cast<int64_t>(values.size());
  for (int64_t from : {int64_t{0}, int64_t{1}, int64_t{8}, int64_t{9}, int64_t{10}, end - 1, end}) {
    for (size_t step : {size_t{1}, size_t{4}, size_t{9}, size_t{1000}}) {
      INFO("from " << from << " step " << step);
      CHECK(read_all(*log, p, from, step) ==
            std::vector<std::string>(values.begin() + from, values.end()));
    }
  }
  auto before_start = log->read(p, Offset(-5), 2);
  REQUIRE(before_start.ok());
  REQUIRE(before_start->size() == 2);
  CHECK(before_start->front().offset.value == 0);
  CHECK(before_start->front().value == values.front());
  auto past_end = log->read(p, Offset(end + 10), 10);
  REQUIRE(past_end.ok());
  CHECK(past_end->empty());
  auto none = log->read(p, Offset(0), 0);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE_TEMPLATE("a log keeps keys and values byte for byte, empty and binary ones included",
                   Logs, LOG_IMPLEMENTATIONS) {
  Logs logs;
  auto log = logs.make(2);
  const std::vector<LogRecord> records = {{"1", ""},
                                          {"1", std::string("a\0b\xff", 4)},
                                          {"", "no key"},
                                          {"1", std::string(100000, 'x')}};
  auto positions = log->append(records);
  REQUIRE(positions.ok());
  for (size_t i = 0; i < records.size(); ++i) {
    auto entries = log->read((*positions)[i].partition, (*positions)[i].offset, 1);
    REQUIRE(entries.ok());
    REQUIRE(entries->size() == 1);
    CHECK(entries->front().key == records[i].key);
    CHECK(entries->front().value == records[i].value);
  }
}

TEST_CASE_TEMPLATE(
    "a log's end offsets are the offsets its next appends get, partition by partition", Logs,
    LOG_IMPLEMENTATIONS) {
  Logs logs;
  constexpr int32_t kPartitions = 3;
  auto log = logs.make(kPartitions);
  CHECK(log->end_offsets() == std::vector<Offset>(kPartitions, Offset(0)));
  std::vector<LogRecord> records;
  for (int ws = 1; ws <= 10; ++ws)
    for (int i = 0; i < ws; ++i) records.push_back({std::to_string(ws), "x"});
  REQUIRE(log->append(records).ok());
  std::vector<Offset> expected(kPartitions, Offset(0));
  for (const auto& r : records)
    ++expected[static_cast<size_t>(partition_for(r.key, kPartitions).value)].value;
  CHECK(log->end_offsets() == expected);
  for (int32_t p = 0; p < kPartitions; ++p)
    CHECK(log->end_offset(Partition(p)) == expected[static_cast<size_t>(p)]);
  for (int ws = 1; ws <= 10; ++ws) {
    auto next = log->append({{std::to_string(ws), "y"}});
    REQUIRE(next.ok());
    Offset& end = expected[static_cast<size_t>(next->front().partition.value)];
    CHECK(next->front().offset == end);
    ++end.value;
  }
  CHECK(log->end_offsets() == expected);
}

TEST_CASE_TEMPLATE(
    "a log counts its appends; wait_for_append returns the count once it moves past what was seen",
    Logs, LOG_IMPLEMENTATIONS) {
  Logs logs;
  auto log = logs.make(2);
  const uint64_t start = log->append_count();
  REQUIRE(log->append({{"1", "a"}, {"2", "b"}}).ok());
  REQUIRE(log->append({{"1", "c"}}).ok());
  CHECK(log->append_count() == start + 2);  // appends, not records
  // Already past what the caller saw: at once.
  CHECK(log->wait_for_append(start, std::chrono::hours(1)) == start + 2);
  // Nothing new: the timeout passes and the count is as it was.
  CHECK(log->wait_for_append(start + 2, std::chrono::milliseconds(1)) == start + 2);
  // Woken by an append on another thread (a lost wake-up shows as this test taking 30 s).
  uint64_t woken_with = 0;
  std::thread waiter(
      [&] { woken_with = log->wait_for_append(start + 2, std::chrono::seconds(30)); });
  REQUIRE(log->append({{"2", "d"}}).ok());
  waiter.join();
  CHECK(woken_with == start + 3);
}

TEST_CASE_TEMPLATE(
    "concurrent appends are each all or none: consecutive offsets, and readers never see part of "
    "one",
    Logs, LOG_IMPLEMENTATIONS) {
  Logs logs;
  auto log = logs.make(3);
  constexpr int kThreads = 4;
  constexpr size_t kRecordsPerAppend = 5;
  const std::string key = "9";  // every thread appends to the same partition
  const Partition p = partition_for(key, 3);
  std::atomic<int> broken_positions{0}, partial_views{0}, failed_appends{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> appenders;
  for (int t = 0; t < kThreads; ++t)
    appenders.emplace_back([&, t] {
      for (int a = 0; a < Logs::kAppendsPerThread; ++a) {
        std::vector<LogRecord> records;
        for (size_t r = 0; r < kRecordsPerAppend; ++r)
          records.push_back(
              {key, std::to_string(t) + "-" + std::to_string(a) + "-" + std::to_string(r)});
        auto positions = log->append(records);
        if (!positions.ok()) {
          ++failed_appends;
          continue;
        }
        const int64_t first = positions->front().offset.value;
        for (size_t r = 1; r < positions->size(); ++r)
          if ((*positions)[r].offset.value != first + static_cast<int64_t>(r)) ++broken_positions;
      }
    });
  std::thread reader([&] {
    while (!done.load()) {
      if (log->end_offset(p).value % static_cast<int64_t>(kRecordsPerAppend) != 0) ++partial_views;
      auto entries = log->read(p, Offset(0), 1 << 20);
      if (entries.ok() && entries->size() % kRecordsPerAppend != 0) ++partial_views;
    }
  });
  for (auto& a : appenders) a.join();
  done = true;
  reader.join();
  CHECK(failed_appends.load() == 0);
  CHECK(broken_positions.load() == 0);
  CHECK(partial_views.load() == 0);
  // Each append's records sit together, in the order given.
  auto entries = log->read(p, Offset(0), 1 << 20);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == kThreads * Logs::kAppendsPerThread * kRecordsPerAppend);
  for (size_t i = 0; i < entries->size(); i += kRecordsPerAppend) {
    const std::string& first = (*entries)[i].value;
    const std::string append = first.substr(0, first.rfind('-') + 1);
    for (size_t r = 0; r < kRecordsPerAppend; ++r)
      CHECK((*entries)[i + r].value == append + std::to_string(r));
  }
}

}  // namespace
}  // namespace contacts
