// The fault-injecting log: scripted failures of the nth call or of every call, heal, stalls at a
// gate until released, and its counts. It wraps a MemoryLog, which shows what reached the log.
#include "bus/fault_injecting_log.h"

#include <doctest/doctest.h>

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

#include "bus/memory_log.h"

namespace contacts {
namespace {

using std::chrono::seconds;

constexpr int64_t kUnknownEnd = std::numeric_limits<int64_t>::max();

struct Wrapped {
  MemoryLog memory{3};
  FaultInjectingLog log{memory};
};

TEST_CASE("a fault-injecting log with nothing scripted passes every call on and counts each kind") {
  Wrapped w;
  REQUIRE(w.log.append({{"1", "a"}, {"2", "b"}}).ok());
  REQUIRE(w.log.append({{"1", "c"}}).ok());
  const Partition p = partition_for("1", 3);
  auto entries = w.log.read(p, Offset(0), 10);
  REQUIRE(entries.ok());
  CHECK(entries->size() == 2);
  CHECK(w.log.end_offset(p).value == 2);
  CHECK(w.log.end_offsets() == w.memory.end_offsets());
  CHECK(w.log.partitions() == 3);
  CHECK(w.log.append_count() == 2);
  CHECK(w.log.calls(LogCall::kAppend) == 2);
  CHECK(w.log.calls(LogCall::kRead) == 1);
  CHECK(w.log.calls(LogCall::kEndOffset) == 2);  // end_offsets is one call
  for (LogCall call : {LogCall::kAppend, LogCall::kRead, LogCall::kEndOffset})
    CHECK(w.log.failures(call) == 0);
}

TEST_CASE(
    "the nth append from now fails with kUnavailable and appends nothing; those around it go "
    "through") {
  Wrapped w;
  REQUIRE(w.log.append({{"1", "before"}}).ok());
  w.log.fail_nth(LogCall::kAppend, 2);
  REQUIRE(w.log.append({{"1", "first"}}).ok());
  auto failed = w.log.append({{"1", "lost"}, {"2", "lost"}, {"3", "lost"}});
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == Code::kUnavailable);
  CHECK(failed.status().message() ==
        "fault injected: append #3 failed (scheduled): nothing of its 3 records was appended");
  CHECK(w.memory.append_count() == 2);  // the wrapped log never saw it
  auto after = w.log.append({{"1", "third"}});
  REQUIRE(after.ok());
  CHECK(after->front().offset.value == 2);  // right after "first": nothing of the failed one
  auto entries = w.memory.read(partition_for("1", 3), Offset(0), 10);
  REQUIRE(entries.ok());
  std::vector<std::string> values;
  for (const auto& e : *entries) values.push_back(e.value);
  CHECK(values == std::vector<std::string>{"before", "first", "third"});
  int64_t total = 0;
  for (Offset end : w.memory.end_offsets()) total += end.value;
  CHECK(total == 3);
  CHECK(w.log.calls(LogCall::kAppend) == 4);
  CHECK(w.log.failures(LogCall::kAppend) == 1);
}

TEST_CASE(
    "the nth read from now fails with kUnavailable; the same read again returns what the log "
    "holds") {
  Wrapped w;
  REQUIRE(w.log.append({{"1", "a"}, {"1", "b"}}).ok());
  const Partition p = partition_for("1", 3);
  w.log.fail_nth(LogCall::kRead, 1);
  auto failed = w.log.read(p, Offset(1), 10);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == Code::kUnavailable);
  CHECK(failed.status().message() == "fault injected: read #1 failed (scheduled) (partition " +
                                         std::to_string(p.value) + " from offset 1)");
  auto retried = w.log.read(p, Offset(1), 10);
  REQUIRE(retried.ok());
  REQUIRE(retried->size() == 1);
  CHECK(retried->front().value == "b");
  CHECK(w.log.failures(LogCall::kRead) == 1);
  CHECK(w.log.failures(LogCall::kAppend) == 0);  // a read's fault is not an append's
}

TEST_CASE("failures scheduled at different times count from when each was scheduled") {
  Wrapped w;
  REQUIRE(w.log.append({{"1", "a"}}).ok());
  w.log.fail_nth(LogCall::kRead, 3);  // read #3
  REQUIRE(w.log.read(Partition(0), Offset(0), 1).ok());
  w.log.fail_nth(LogCall::kRead, 1);  // read #2
  w.log.fail_nth(LogCall::kRead, 3);  // read #4
  std::vector<bool> passed;
  for (int i = 0; i < 4; ++i) passed.push_back(w.log.read(Partition(0), Offset(0), 1).ok());
  CHECK(passed == std::vector<bool>{false, false, false, true});
  CHECK(w.log.failures(LogCall::kRead) == 3);
}

TEST_CASE(
    "a log failed outright fails every call until healed; its end offsets are unknown meanwhile") {
  Wrapped w;
  REQUIRE(w.log.append({{"1", "a"}}).ok());
  w.log.fail_all();
  auto append = w.log.append({{"1", "b"}});
  REQUIRE_FALSE(append.ok());
  CHECK(append.status().code() == Code::kUnavailable);
  CHECK(
      append.status().message() ==
      "fault injected: append #2 failed (the log is down): nothing of its 1 records was appended");
  auto read = w.log.read(Partition(0), Offset(0), 10);
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().code() == Code::kUnavailable);
  CHECK(w.log.end_offset(Partition(0)).value == kUnknownEnd);
  CHECK(w.log.end_offsets() == std::vector<Offset>(3, Offset(kUnknownEnd)));
  CHECK(w.log.partitions() == 3);  // needs no broker
  CHECK(w.memory.append_count() == 1);

  w.log.heal();
  REQUIRE(w.log.append({{"1", "c"}}).ok());
  REQUIRE(w.log.read(Partition(0), Offset(0), 10).ok());
  CHECK(w.log.end_offset(partition_for("1", 3)).value == 2);
  CHECK(w.log.failures(LogCall::kAppend) == 1);
  CHECK(w.log.failures(LogCall::kRead) == 1);
  CHECK(w.log.failures(LogCall::kEndOffset) == 2);
}

TEST_CASE(
    "one kind failed outright leaves the other kinds passing; heal also drops scheduled failures") {
  Wrapped w;
  w.log.fail_all(LogCall::kRead);
  w.log.fail_nth(LogCall::kAppend, 2);
  REQUIRE(w.log.append({{"1", "a"}}).ok());
  CHECK_FALSE(w.log.read(Partition(0), Offset(0), 1).ok());
  CHECK(w.log.end_offset(partition_for("1", 3)).value == 1);
  w.log.heal();
  CHECK(w.log.append({{"1", "b"}}).ok());  // was to be append #2
  CHECK(w.log.read(Partition(0), Offset(0), 1).ok());
}

TEST_CASE(
    "a stalled append waits at the gate without reaching the log, and goes on when released") {
  Wrapped w;
  w.log.stall(LogCall::kAppend);
  Result<std::vector<LogPosition>> appended = Status{Code::kInternal, "not yet"};
  std::thread appender([&] { appended = w.log.append({{"1", "a"}}); });
  REQUIRE(w.log.wait_stalled(LogCall::kAppend, 1, seconds(30)));
  CHECK(w.log.stalled(LogCall::kAppend) == 1);
  CHECK(w.memory.append_count() == 0);  // it has not reached the wrapped log
  // Other kinds of call pass while appends are stalled.
  REQUIRE(w.log.read(Partition(0), Offset(0), 1).ok());
  CHECK(w.log.end_offset(Partition(0)).value == 0);
  w.log.release(LogCall::kAppend);
  appender.join();
  REQUIRE(appended.ok());
  CHECK(appended->front().offset.value == 0);
  CHECK(w.memory.append_count() == 1);
  CHECK(w.log.stalled(LogCall::kAppend) == 0);
  REQUIRE(w.log.append({{"1", "b"}}).ok());  // the gate stays open after a release
}

TEST_CASE("a stalled read fails if the log went down while it waited") {
  Wrapped w;
  REQUIRE(w.log.append({{"1", "a"}}).ok());
  w.log.stall(LogCall::kRead);
  Result<std::vector<LogEntry>> read = Status{Code::kInternal, "not yet"};
  std::thread reader([&] { read = w.log.read(partition_for("1", 3), Offset(0), 10); });
  REQUIRE(w.log.wait_stalled(LogCall::kRead, 1, seconds(30)));
  w.log.fail_all(LogCall::kRead);
  w.log.release(LogCall::kRead);
  reader.join();
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().code() == Code::kUnavailable);
}

TEST_CASE("a release lets every waiting call go, even if the gate closes again before they wake") {
  Wrapped w;
  w.log.stall(LogCall::kAppend);
  constexpr int kAppenders = 3;
  std::vector<std::thread> appenders;
  std::atomic<int> ok{0};
  for (int i = 0; i < kAppenders; ++i)
    appenders.emplace_back([&] { ok += w.log.append({{"1", "x"}}).ok() ? 1 : 0; });
  REQUIRE(w.log.wait_stalled(LogCall::kAppend, kAppenders, seconds(30)));
  w.log.release(LogCall::kAppend);
  w.log.stall(LogCall::kAppend);  // closes for later calls only
  for (auto& a : appenders) a.join();
  CHECK(ok.load() == kAppenders);
  CHECK(w.memory.end_offset(partition_for("1", 3)).value == kAppenders);
  CHECK(w.log.calls(LogCall::kAppend) == kAppenders);
  w.log.release(LogCall::kAppend);
}

}  // namespace
}  // namespace contacts
