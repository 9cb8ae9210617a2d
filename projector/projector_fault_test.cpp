// The projector's crash and restart cases, against a FaultInjectingLog over a MemoryLog: a read
// that fails mid-step, a projector and its views destroyed at any point and reopened. Whatever
// happens, the views match a prefix of the log exactly, and in the end the fold of the whole log:
// nothing lost, nothing counted twice (DESIGN.md section 5).
#include <doctest/doctest.h>

#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bus/fault_injecting_log.h"
#include "bus/memory_log.h"
#include "projector/fold_fixture.h"
#include "projector/projector.h"
#include "tests/temp_dir.h"

namespace contacts {
namespace {

using fold_testing::visit;
using nlohmann::json;

constexpr int32_t kLogPartitions = 3;
constexpr int kWorkspaces = 6;
constexpr int kPeople = 12;  // per workspace; the last one has no email
// Small batches, so that a step is many batches and many reads.
constexpr size_t kBatchRecords = 64;

// The projector logs each dead letter to stderr as it folds it: hundreds of lines here, none of
// them news. Swapped while no fold thread runs (at the start and end of a test).
class QuietStderr {
 public:
  QuietStderr() : saved_(std::cerr.rdbuf(sink_.rdbuf())) {}
  ~QuietStderr() { std::cerr.rdbuf(saved_); }

 private:
  std::ostringstream sink_;
  std::streambuf* saved_;
};

struct Workload {
  size_t records = 0;
  size_t dead_letters = 0;
};

json booking_in(WorkspaceId ws, const std::string& command_id, int64_t at, const std::string& name,
                const json& email) {
  return {{"type", "booking"},
          {"command_id", command_id},
          {"workspace_id", ws.value},
          {"occurred_at", at},
          {"participant", {{"name", name}, {"email", email}}},
          {"booking_page", {{"id", 3}, {"title", "Intro"}, {"slug", "intro"}}}};
}

// Appends `visits` visits and bookings in workspaces 1..kWorkspaces, out of time order and with
// names that change; with dead letters (not JSON; no participant), repeated command ids, then
// the delete of workspace 1's first contact and more visits of that person (a new contact).
Workload append_workload(Log& log, int visits) {
  Workload workload;
  std::vector<LogRecord> records;
  for (int i = 0; i < visits; ++i) {
    const WorkspaceId ws(i % kWorkspaces + 1);
    const std::string key = std::to_string(ws.value);
    const int person = (i / kWorkspaces) % kPeople;
    const json email =
        person == kPeople - 1 ? json(nullptr) : json("p" + std::to_string(person) + "@x");
    const std::string name = "Person " + std::to_string(person) + (i % 3 == 0 ? " Jr" : "");
    const int64_t at = 1000 + (i * 7919) % 1000;
    if (i % 101 == 50) {
      records.push_back({key, "{not json"});
      ++workload.dead_letters;
    } else if (i % 101 == 80) {
      records.push_back({key, json{{"type", "room_join"},
                                   {"command_id", "bad" + std::to_string(i)},
                                   {"workspace_id", ws.value},
                                   {"occurred_at", at}}
                                  .dump()});
      ++workload.dead_letters;
    } else if (i % 97 == 96) {
      records.push_back(
          {key,
           visit("c" + std::to_string(i - kWorkspaces), at, "Duplicate", "dup@x", 5, ws).dump()});
    } else if (i % 5 == 0) {
      records.push_back({key, booking_in(ws, "c" + std::to_string(i), at, name, email).dump()});
    } else {
      records.push_back(
          {key, visit("c" + std::to_string(i), at, name, email, 5 + i % 4, ws).dump()});
    }
  }
  auto positions = log.append(records);
  REQUIRE(positions.ok());
  // Record 0 (workspace 1) created p0@x's contact: its id is its position's.
  const LogPosition& first = positions->front();
  const int64_t first_contact = id_from_position(first.partition, first.offset, kLogPartitions);
  const json erase = {{"type", "contact_delete"},    {"command_id", "del-1"},
                      {"workspace_id", 1},           {"occurred_at", 1500},
                      {"contact_id", first_contact}, {"actor", {{"user_id", 7}}}};
  REQUIRE(log.append({{"1", erase.dump()}}).ok());
  std::vector<LogRecord> after;
  for (int i = 0; i < 5; ++i)
    after.push_back(
        {"1",
         visit("after" + std::to_string(i), 3000 + i, "Back", "p0@x", 5, WorkspaceId(1)).dump()});
  REQUIRE(log.append(after).ok());
  workload.records = records.size() + 1 + after.size();
  return workload;
}

std::unique_ptr<ViewStore> open_views(const std::string& path) {
  auto views = ViewStore::open(path, ViewStoreOptions{8 << 20, 4 << 20});
  REQUIRE_MESSAGE(views.ok(), views.status().message());
  return std::move(*views);
}

// What the views hold of every workspace: its total, then a line per contact in list order (id,
// email, name, event count, times) with its events (id, type, time, room).
std::vector<std::string> describe(const ViewStore& views) {
  std::vector<std::string> lines;
  for (int ws = 1; ws <= kWorkspaces; ++ws) {
    auto page = views.list(WorkspaceId(ws), 1, 1000, "");
    lines.push_back("workspace " + std::to_string(ws) + ": " + std::to_string(page.total) +
                    " contacts");
    for (const Contact& c : page.contacts) {
      std::string line =
          std::to_string(c.id) + " " + c.email.value_or("-") + " '" + c.name + "' events " +
          std::to_string(c.event_count) + " seen " + std::to_string(c.last_seen_at) + " created " +
          std::to_string(c.created_at) + " updated " + std::to_string(c.updated_at) + ":";
      auto events = views.timeline(c, 1, 1000);
      for (const ContactEvent& e : events.events)
        line += " " + std::to_string(e.id) + "/" + std::to_string(static_cast<int>(e.event_type)) +
                "@" + std::to_string(e.created_at) + "r" + std::to_string(e.room_id.value_or(0));
      lines.push_back(line);
    }
  }
  return lines;
}

// The views an uninterrupted fold of the first ends[p] records of each partition p of `log`
// gives (the whole log when `ends` is empty).
std::vector<std::string> folded(Log& log, std::vector<int64_t> ends = {}) {
  MemoryLog prefix(log.partitions());
  for (int32_t p = 0; p < log.partitions(); ++p) {
    const int64_t end =
        ends.empty() ? log.end_offset(Partition(p)).value : ends[static_cast<size_t>(p)];
    auto entries = log.read(Partition(p), Offset(0), static_cast<size_t>(end));
    REQUIRE(entries.ok());
    std::vector<LogRecord> records;
    for (auto& e : *entries) records.push_back({std::move(e.key), std::move(e.value)});
    REQUIRE(prefix.append(records).ok());  // same keys, same order: the same positions
  }
  TempDir dir("projector_fault_reference");
  auto views = open_views(dir.path() + "/views");
  Projector projector(prefix, *views);
  REQUIRE(projector.catch_up().ok());
  return describe(*views);
}

std::vector<int64_t> applied_offsets(const Projector& projector) {
  std::vector<int64_t> applied;
  for (int32_t p = 0; p < kLogPartitions; ++p)
    applied.push_back(projector.applied(Partition(p)).value);
  return applied;
}

TEST_CASE(
    "a read that fails mid-step leaves the views at a prefix of the log; the next steps lose "
    "nothing, "
    "count nothing twice") {
  QuietStderr quiet;
  MemoryLog memory(kLogPartitions);
  const Workload workload = append_workload(memory, 1500);
  const auto whole = folded(memory);
  for (size_t fold_threads : {size_t{1}, size_t{2}}) {
    for (uint64_t failing_read : {1, 2, 3, 5, 8, 13}) {
      CAPTURE(fold_threads);
      CAPTURE(failing_read);
      FaultInjectingLog log(memory);
      TempDir dir("projector_fault_test");
      auto views = open_views(dir.path() + "/views");
      Projector projector(log, *views, kBatchRecords, fold_threads);
      log.fail_nth(LogCall::kRead, failing_read);
      auto failed = projector.step();
      REQUIRE_FALSE(failed.ok());
      CHECK(failed.status().code() == Code::kUnavailable);
      CHECK(failed.status().message().find("fault injected: read #" +
                                           std::to_string(failing_read)) != std::string::npos);
      // What the step committed before the failure counts, in the views and the projector alike,
      // and the views are exactly the fold of that prefix.
      const auto at_failure = applied_offsets(projector);
      for (int32_t p = 0; p < kLogPartitions; ++p)
        CHECK(views->applied(Partition(p)).value == at_failure[static_cast<size_t>(p)]);
      CHECK(describe(*views) == folded(memory, at_failure));
      int64_t applied_total = 0;
      for (int64_t a : at_failure) applied_total += a;
      CHECK(projector.stats().applied_records.load() == static_cast<uint64_t>(applied_total));
      // With one fold thread the reads go in order and read #13 still comes before the end of
      // the log, so the failure stopped it short. With two, one group may have read all its
      // records and the failing read be a later, empty one of the other: no such claim then.
      if (fold_threads == 1) CHECK(applied_total < static_cast<int64_t>(workload.records));

      REQUIRE(projector.catch_up().ok());
      CHECK(describe(*views) == whole);
      CHECK(projector.stats().applied_records.load() == workload.records);
      CHECK(log.failures(LogCall::kRead) == 1);
    }
  }
}

TEST_CASE(
    "a projector and its views destroyed after any number of steps, or mid-step, resume to the "
    "views of an "
    "uninterrupted fold") {
  QuietStderr quiet;
  MemoryLog memory(kLogPartitions);
  // More than one step takes: kRoundsPerStep batches of up to kLogPartitions * kBatchRecords.
  const Workload workload = append_workload(memory, 5000);
  const auto whole = folded(memory);
  int crashed_mid_step = 0,
      crashed_short_of_the_end = 0;  // that the loop crashes where it means to
  for (int steps_before_crash : {0, 1, 2, 3}) {
    for (uint64_t failing_read : {0, 2, 9, 30}) {  // 0: the crash comes between steps
      CAPTURE(steps_before_crash);
      CAPTURE(failing_read);
      FaultInjectingLog log(memory);
      TempDir dir("projector_fault_test");
      std::vector<int64_t> at_crash;
      uint64_t applied_records = 0, dead_letters = 0;
      {
        auto views = open_views(dir.path() + "/views");
        Projector projector(log, *views, kBatchRecords, /*fold_threads=*/1);
        for (int i = 0; i < steps_before_crash; ++i) REQUIRE(projector.step().ok());
        if (failing_read > 0) {
          log.fail_nth(LogCall::kRead, failing_read);
          if (!projector.step().ok()) ++crashed_mid_step;  // unless the log ended first
        }
        at_crash = applied_offsets(projector);
        int64_t applied_total = 0;
        for (int64_t a : at_crash) applied_total += a;
        if (applied_total < static_cast<int64_t>(workload.records)) ++crashed_short_of_the_end;
        applied_records += projector.stats().applied_records.load();
        dead_letters += projector.stats().dead_letters.load();
      }  // the crash: projector and views gone, whatever they were doing
      log.heal();
      auto views = open_views(dir.path() + "/views");
      Projector projector(log, *views, kBatchRecords, /*fold_threads=*/1);
      CHECK(applied_offsets(projector) ==
            at_crash);  // resumes from the offsets stored with the views
      CHECK(describe(*views) == folded(memory, at_crash));
      REQUIRE(projector.catch_up().ok());
      CHECK(describe(*views) == whole);
      applied_records += projector.stats().applied_records.load();
      CHECK(applied_records == workload.records);  // each record applied once, across both lives
      if (failing_read == 0)
        CHECK(dead_letters + projector.stats().dead_letters.load() == workload.dead_letters);
    }
  }
  CHECK(crashed_mid_step >= 6);          // three failing reads after 0 and after 1 step
  CHECK(crashed_short_of_the_end >= 8);  // those, and after 0 and 1 whole steps
}

// ProjectorStats::dead_letters counts a dead letter when its batch commits, so a batch dropped
// by a failing read and folded again does not count it twice (on_dead_letter, documented as at
// least once, may hear of it twice).
TEST_CASE(
    "a dead letter is counted once, though the batch that folded it was dropped by a failing "
    "read") {
  QuietStderr quiet;
  MemoryLog memory(kLogPartitions);
  FaultInjectingLog log(memory);
  // A dead letter in partition 0, which one fold thread reads first; a visit in the next one.
  std::string in_first, in_second;
  for (int ws = 1; in_first.empty() || in_second.empty(); ++ws) {
    const int32_t p = partition_for(std::to_string(ws), kLogPartitions).value;
    if (p == 0 && in_first.empty()) in_first = std::to_string(ws);
    if (p == 1 && in_second.empty()) in_second = std::to_string(ws);
  }
  REQUIRE(
      log.append({{in_first, "{not json"},
                  {in_second,
                   visit("v1", 1000, "P", "p@x", 5, WorkspaceId(std::stoll(in_second))).dump()}})
          .ok());
  TempDir dir("projector_fault_test");
  auto views = open_views(dir.path() + "/views");
  Projector projector(log, *views, kBatchRecords, /*fold_threads=*/1);
  log.fail_nth(LogCall::kRead, 2);  // partition 1's, after partition 0's dead letter was folded
  REQUIRE_FALSE(projector.step().ok());
  CHECK(views->applied(Partition(0)).value == 0);  // the batch was dropped
  REQUIRE(projector.catch_up().ok());
  CHECK(views->list(WorkspaceId(std::stoll(in_second)), 1, 10, "").total == 1);
  CHECK(projector.stats().applied_records.load() == 2);
  CHECK(projector.stats().dead_letters.load() == 1);
}

}  // namespace
}  // namespace contacts
