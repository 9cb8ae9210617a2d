// The consume loop on the embedded log: partition ownership (a member of the writer group folds
// only what it owns) and the per-partition quiet boundary.
#include "projector/projector.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "bus/embedded_log.h"
#include "projector/fold_fixture.h"
#include "views/keys.h"

namespace contacts {
namespace {

// A ChangeSink that hands each committed batch's changes to a function.
class ChangesTo final : public ChangeSink {
 public:
  explicit ChangesTo(std::function<void(const std::vector<Change>&)> f) : f_(std::move(f)) {}
  void applied(const std::vector<Change>& changes) override { f_(changes); }

 private:
  std::function<void(const std::vector<Change>&)> f_;
};

using fold_testing::visit;
using nlohmann::json;

constexpr int32_t kLogPartitions = 3;

struct LogFixture {
  TempDir dir{"projector_test"};
  std::unique_ptr<EmbeddedLog> log;
  std::unique_ptr<ViewStore> views;
  LogFixture() {
    auto opened = EmbeddedLog::open(dir.path() + "/log", kLogPartitions);
    REQUIRE(opened.ok());
    log = std::move(*opened);
    auto v = ViewStore::open(dir.path() + "/views", ViewStoreOptions{8 << 20, 4 << 20});
    REQUIRE(v.ok());
    views = std::move(*v);
  }
  // One visit in each of workspaces 1..n (spread over the partitions); returns their positions.
  std::vector<LogPosition> append_visits(int n, int round) {
    std::vector<LogRecord> records;
    for (int ws = 1; ws <= n; ++ws)
      records.push_back(
          {std::to_string(ws), visit("v" + std::to_string(round) + "-" + std::to_string(ws),
                                     100 + round, "P", "p@x", 5, WorkspaceId(ws))
                                   .dump()});
    auto positions = log->append(records);
    REQUIRE(positions.ok());
    return *positions;
  }
  // `n` visits in workspace 1, each by a new participant.
  void append_new_visitors(int n) {
    std::vector<LogRecord> records;
    for (int i = 0; i < n; ++i)
      records.push_back({"1", visit("b" + std::to_string(i), 100 + i, "P",
                                    "p" + std::to_string(i) + "@x", 5, WorkspaceId(1))
                                  .dump()});
    REQUIRE(log->append(records).ok());
  }
};

TEST_CASE(
    "a projector folds only the partitions it owns, and resumes one from its views when it gets "
    "it") {
  LogFixture f;
  auto positions = f.append_visits(12, 0);
  Projector projector(*f.log, *f.views);
  projector.set_owned({0, 1, 2}, false);
  CHECK_FALSE(projector.caught_up());  // a writer that owns nothing is not ready
  projector.set_owned({1}, true);
  CHECK(projector.owned() == std::vector<int32_t>{1});
  REQUIRE(projector.catch_up().ok());
  for (const auto& at : positions) {
    int64_t expected = at.partition.value == 1 ? at.offset.value + 1 : 0;
    CHECK(f.views->applied(at.partition).value >= expected);
    if (at.partition.value != 1) CHECK(f.views->applied(at.partition).value == 0);
  }
  CHECK(projector.caught_up());  // in what it owns

  projector.set_owned({0, 2}, true);
  CHECK_FALSE(projector.caught_up());
  REQUIRE(projector.catch_up().ok());
  for (int32_t p = 0; p < kLogPartitions; ++p)
    CHECK(f.views->applied(Partition(p)) == f.log->end_offset(Partition(p)));
  // Every visit applied once.
  for (int ws = 1; ws <= 12; ++ws) {
    auto page = f.views->list(WorkspaceId(ws), 1, 10, "");
    REQUIRE(page.contacts.size() == 1);
    CHECK(page.contacts[0].event_count == 1);
  }
}

TEST_CASE(
    "a partition's quiet boundary keeps its earlier changes out of the outbox, not later ones") {
  LogFixture f;
  auto first = f.append_visits(12, 0);
  auto second = f.append_visits(12, 1);
  Projector projector(*f.log, *f.views);
  projector.set_change_scope(ChangeScope::kAll);
  // Partition 0 was published up to its second round by a previous owner; the others not at all.
  int64_t boundary = 0;
  for (const auto& at : second)
    if (at.partition.value == 0) boundary = std::max(boundary, at.offset.value + 1);
  projector.set_quiet_before(0, boundary);
  REQUIRE(projector.catch_up().ok());
  std::set<int64_t> queued;
  for (const auto& [key, value] : f.views->outbox(1000))
    queued.insert(json::parse(value)["position"].get<int64_t>());
  std::set<int64_t> expected;
  for (const auto* round : {&first, &second})
    for (const auto& at : *round)
      if (at.partition.value != 0)
        expected.insert(id_from_position(at.partition, at.offset, kLogPartitions));
  CHECK(queued == expected);
}

// Visits of 20 people in workspace 1 (one partition), with, across the boundary of the 64-record
// batches: visits of d@x ending one batch and its delete opening the next, and a repeated
// command_id. Returns the records.
std::vector<LogRecord> records_across_batches() {
  std::vector<LogRecord> records;
  auto add = [&](const json& command) { records.push_back({"1", command.dump()}); };
  for (int i = 0; i < 300; ++i) {
    if (i >= 58 && i < 64) {
      add(visit("d" + std::to_string(i), 1000 + i, "D", "d@x", 5, WorkspaceId(1)));
    } else if (i == 64) {
      // The contact d@x was created by the record at offset 58 (the partition holds nothing else).
      Partition p = partition_for("1", kLogPartitions);
      add({{"type", "contact_delete"},
           {"command_id", "del"},
           {"workspace_id", 1},
           {"occurred_at", 2000},
           {"contact_id", id_from_position(p, Offset(58), kLogPartitions)}});
    } else if (i == 70) {
      add(visit("d62", 5000, "Dup", "dup@x", 5,
                WorkspaceId(1)));  // the command_id of offset 62: ignored
    } else {
      add(visit("v" + std::to_string(i), 1000 + i * 7 % 300, "P" + std::to_string(i % 20),
                "p" + std::to_string(i % 20) + "@x", 5, WorkspaceId(1)));
    }
  }
  return records;
}

TEST_CASE(
    "batches folded while the one before commits (reading through it) give the views of one "
    "batch") {
  LogFixture pipelined, whole;
  for (auto* f : {&pipelined, &whole}) REQUIRE(f->log->append(records_across_batches()).ok());
  Projector small(*pipelined.log, *pipelined.views, /*max_batch_records=*/64);
  Projector large(*whole.log, *whole.views, /*max_batch_records=*/100000);
  REQUIRE(small.catch_up().ok());
  REQUIRE(large.catch_up().ok());
  CHECK(small.stats().batches.load() >= 5);  // 301 records, 64 at most per batch
  CHECK(small.stats().steps.load() < small.stats().batches.load());  // several batches per step

  auto a = pipelined.views->list(WorkspaceId(1), 1, 100, "");
  auto b = whole.views->list(WorkspaceId(1), 1, 100, "");
  REQUIRE(a.total == b.total);
  CHECK(a.total == 20);  // p0..p19: d@x is deleted, dup@x was a duplicate
  REQUIRE(a.contacts.size() == b.contacts.size());
  for (size_t i = 0; i < a.contacts.size(); ++i) {
    CHECK(encode(a.contacts[i]) == encode(b.contacts[i]));
    auto ea = pipelined.views->timeline(a.contacts[i], 1, 100);
    auto eb = whole.views->timeline(b.contacts[i], 1, 100);
    REQUIRE(ea.events.size() == eb.events.size());
    for (size_t e = 0; e < ea.events.size(); ++e)
      CHECK(encode(ea.events[e]) == encode(eb.events[e]));
  }
  // The deleted contact's events, written by the batch before the delete's, are all gone.
  Partition p = partition_for("1", kLogPartitions);
  int64_t deleted = id_from_position(p, Offset(58), kLogPartitions);
  ViewBatch batch = pipelined.views->begin_batch();
  size_t left = 0;
  batch.scan(keys::timeline_prefix(WorkspaceId(1), deleted),
             [&](std::string_view, std::string_view) {
               ++left;
               return true;
             });
  CHECK(left == 0);
  CHECK_FALSE(pipelined.views->contact(WorkspaceId(1), deleted).has_value());
}

TEST_CASE(
    "each batch counts as applied, with its changes handed on, as soon as it commits, not when the "
    "step ends") {
  LogFixture f;
  constexpr size_t kBudget = 128;
  f.append_new_visitors(3 * static_cast<int>(kBudget));
  const Partition p = partition_for("1", kLogPartitions);
  Projector projector(*f.log, *f.views, kBudget, /*fold_threads=*/1);
  // What a DELETE waiting on the projector would see when each batch's changes are handed on.
  std::vector<std::pair<size_t, int64_t>> seen;  // (changes, applied offset)
  ChangesTo sink([&](const std::vector<Change>& changes) {
    seen.emplace_back(changes.size(), projector.applied(p).value);
  });
  projector.set_change_sink(sink);
  auto consumed = projector.step();
  REQUIRE(consumed.ok());
  CHECK(*consumed == 3 * kBudget);  // one step folds all three batches
  REQUIRE(seen.size() == 3);
  for (size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].first == kBudget);
    CHECK(seen[i].second == static_cast<int64_t>((i + 1) * kBudget));
  }
}

TEST_CASE(
    "a busy partition takes the part of the batch its quiet neighbours leave; busy ones each get "
    "their part") {
  LogFixture f;
  constexpr size_t kBudget = 384;  // one fold thread: an even part of the batch is 128 records
  // More than a step takes, so every step below ends with records left.
  constexpr int kVisits = static_cast<int>(kRoundsPerStep * kBudget) + 500;
  auto visits = [](const std::string& ws, const std::string& tag) {
    std::vector<LogRecord> records;
    for (int i = 0; i < kVisits; ++i)
      records.push_back({ws, visit(tag + std::to_string(i), 100 + i, "P",
                                   tag + std::to_string(i) + "@x", 5, WorkspaceId(std::stoll(ws)))
                                 .dump()});
    return records;
  };
  // Workspace 1 only: one partition busy, the other two quiet.
  REQUIRE(f.log->append(visits("1", "hot-")).ok());
  const Partition hot = partition_for("1", kLogPartitions);
  Projector projector(*f.log, *f.views, kBudget, /*fold_threads=*/1);
  auto consumed = projector.step();
  REQUIRE(consumed.ok());
  CHECK(*consumed == kRoundsPerStep * kBudget);  // whole batches, not kRoundsPerStep * 128
  CHECK(f.views->applied(hot).value == static_cast<int64_t>(kRoundsPerStep * kBudget));

  // A workspace in another partition gets busy too: both move on, the newcomer by at least
  // its part of every batch.
  std::string other;
  for (int ws = 2; other.empty(); ++ws)
    if (partition_for(std::to_string(ws), kLogPartitions).value != hot.value)
      other = std::to_string(ws);
  const Partition second = partition_for(other, kLogPartitions);
  REQUIRE(f.log->append(visits(other, "cold-")).ok());
  const int64_t hot_before = f.views->applied(hot).value;
  consumed = projector.step();
  REQUIRE(consumed.ok());
  CHECK(*consumed == kRoundsPerStep * kBudget);
  CHECK(f.views->applied(hot).value > hot_before);
  CHECK(f.views->applied(second).value >= static_cast<int64_t>(kRoundsPerStep * kBudget / 3));
  REQUIRE(projector.catch_up().ok());
  CHECK(f.views->list(WorkspaceId(1), 1, 10, "").total == kVisits);
  CHECK(f.views->list(WorkspaceId(std::stoll(other)), 1, 10, "").total == kVisits);
}

TEST_CASE(
    "a step that ended in an exception leaves its batches empty: the next step hands on every "
    "later change") {
  LogFixture f;
  constexpr size_t kBudget = 128;
  f.append_new_visitors(5 * static_cast<int>(kBudget));
  Projector projector(*f.log, *f.views, kBudget, /*fold_threads=*/1);
  // The sink fails on its second batch. By then the third batch is folded and not committed.
  int calls = 0;
  std::multiset<int64_t> handed_on;  // contact ids of the changes handed on
  ChangesTo sink([&](const std::vector<Change>& changes) {
    if (++calls == 2) throw std::runtime_error("sink down");
    for (const auto& c : changes) handed_on.insert(c.contact_id);
  });
  projector.set_change_sink(sink);
  CHECK_THROWS_AS(projector.step(), std::runtime_error);
  REQUIRE(projector.catch_up().ok());
  // Every record's change once, but the second batch's (the sink threw on them; they count as
  // applied). Left in its batch, the third batch's folded records made the next step see them
  // as duplicates and hand on nothing for them.
  CHECK(handed_on.size() == 4 * kBudget);
  CHECK(std::set<int64_t>(handed_on.begin(), handed_on.end()).size() == handed_on.size());
  CHECK(f.views->list(WorkspaceId(1), 1, 10, "").total == static_cast<int64_t>(5 * kBudget));
}

TEST_CASE("the projector keeps dead letters in the embedded log, once, for contacts dlq") {
  LogFixture f;
  auto bad = f.log->append({{"1", "{not json"}});
  REQUIRE(bad.ok());
  f.append_visits(3, 0);
  KeptDeadLetters kept(*f.log);
  for (int run = 0; run < 2; ++run) {  // a second projector on fresh views folds it again
    auto views = ViewStore::open(f.dir.path() + "/views-" + std::to_string(run),
                                 ViewStoreOptions{8 << 20, 4 << 20});
    REQUIRE(views.ok());
    Projector projector(*f.log, **views);
    projector.set_dead_letter_sink(kept);
    REQUIRE(projector.catch_up().ok());
    CHECK(projector.stats().dead_letters.load() == 1);
  }
  auto letters = f.log->list();
  REQUIRE(letters.ok());
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().reason == "malformed JSON");
  CHECK(letters->front().value == "{not json");
  CHECK(position_name(letters->front().source) == position_name(bad->front()));
}

TEST_CASE(
    "a checkpoint of the views holds the batches committed before it with the offsets they "
    "applied, though commits skip the WAL, and none committed after it") {
  LogFixture f;
  auto first = f.append_visits(6, 0);
  {
    Projector projector(*f.log, *f.views);
    REQUIRE(projector.catch_up().ok());
  }
  const std::string copy = f.dir.path() + "/copy";
  REQUIRE(f.views->checkpoint(copy).ok());
  f.append_visits(6, 1);
  {
    Projector projector(*f.log, *f.views);
    REQUIRE(projector.catch_up().ok());
  }
  auto views = ViewStore::open(copy, ViewStoreOptions{8 << 20, 4 << 20});
  REQUIRE(views.ok());
  std::map<int32_t, int64_t> ends;
  for (const auto& at : first)
    ends[at.partition.value] = std::max(ends[at.partition.value], at.offset.value + 1);
  for (const auto& [partition, end] : ends)
    CHECK((*views)->applied(Partition(partition)).value == end);
  for (int64_t ws = 1; ws <= 6; ++ws) {
    auto page = (*views)->list(WorkspaceId(ws), 1, 10, "");
    REQUIRE(page.contacts.size() == 1);
    CHECK(page.contacts[0].event_count == 1);  // the second round's visits are not in the copy
  }
  // A checkpoint never writes into a directory that is there already.
  CHECK_FALSE(f.views->checkpoint(copy).ok());
}

}  // namespace
}  // namespace contacts

namespace contacts {
namespace {

int thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

TEST_CASE("a started projector folds on threads of its nice value, and leaves the caller's") {
  LogFixture f;
  const int caller = thread_nice();
  auto positions = f.append_visits(12, 0);
  Projector projector(*f.log, *f.views);
  std::mutex mutex;
  std::set<int> nice_values;  // of the threads that handed changes on
  ChangesTo sink([&](const std::vector<Change>&) {
    std::lock_guard lock(mutex);
    nice_values.insert(thread_nice());
  });
  projector.set_change_scope(ChangeScope::kAll);
  projector.set_change_sink(sink);
  projector.set_nice(std::min(caller + 7, 19));
  projector.start();
  for (const auto& at : positions)
    REQUIRE(projector.wait_applied(at, std::chrono::milliseconds(10000)));
  projector.stop();
  CHECK(nice_values == std::set<int>{std::min(caller + 7, 19)});
  CHECK(thread_nice() == caller);
}

}  // namespace
}  // namespace contacts
