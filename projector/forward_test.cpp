// Records another partitioner misplaced: the writer forwards them to the partition their key
// belongs in and they are folded there once; a replica (or a replay) skips the originals and
// folds the copies, into the same views byte for byte.
#include <doctest/doctest.h>

#include <utility>

#include "bus/fault_injecting_log.h"
#include "bus/memory_log.h"
#include "projector/fold_fixture.h"
#include "projector/projector.h"

namespace contacts {
namespace {

using fold_testing::visit;

constexpr int32_t kLogPartitions = 4;

std::unique_ptr<ViewStore> open_views(const TempDir& dir, const std::string& name) {
  auto v = ViewStore::open(dir.path() + "/" + name, ViewStoreOptions{8 << 20, 4 << 20});
  REQUIRE(v.ok());
  return std::move(*v);
}

// Every committed row of `views`, key and value.
std::vector<std::pair<std::string, std::string>> rows_of(ViewStore& views) {
  std::vector<std::pair<std::string, std::string>> rows;
  ViewBatch batch = views.begin_batch();
  batch.scan("", [&](std::string_view key, std::string_view value) {
    rows.emplace_back(key, value);
    return true;
  });
  return rows;
}

// A partition that is not the one `key` belongs in.
Partition elsewhere(const std::string& key, int offset = 1) {
  return Partition((partition_for(key, kLogPartitions).value + offset) % kLogPartitions);
}

LogRecord visit_record(const std::string& command_id, int ws, int64_t at, const std::string& email,
                       const std::string& name = "P") {
  return {std::to_string(ws), visit(command_id, at, name, email, 5, WorkspaceId(ws)).dump()};
}

// Folds until the views hold everything in the log, forwarded copies included.
void settle(Projector& projector, Log& log) {
  for (int round = 0; round < 5; ++round) {
    REQUIRE(projector.catch_up().ok());
    bool all = true;
    for (int32_t p = 0; p < log.partitions(); ++p)
      all = all && projector.applied(Partition(p)) == log.end_offset(Partition(p));
    if (all) return;
  }
  FAIL("the projector did not reach the log's end");
}

TEST_CASE("a writer forwards a misplaced record to its key's partition and folds the copy once") {
  TempDir dir("forward_test");
  MemoryLog log(kLogPartitions);
  auto views = open_views(dir, "views");
  const Partition home = partition_for("2", kLogPartitions);
  // One producer's three visits of workspace 2, in a partition CRC32 might have chosen.
  REQUIRE(log.append_to(elsewhere("2"), {visit_record("a", 2, 100, "a@x", "First"),
                                         visit_record("b", 2, 200, "b@x"),
                                         visit_record("c", 2, 300, "a@x", "Renamed")})
              .ok());
  Projector projector(log, *views);
  projector.set_forward_misplaced(true);
  settle(projector, log);

  CHECK(projector.stats().forwarded_records.load() == 3);
  CHECK(projector.stats().dead_letters.load() == 0);
  // The copies are in the home partition, in the producer's order, byte for byte.
  auto copies = log.read(home, Offset(0), 10);
  REQUIRE(copies.ok());
  REQUIRE(copies->size() == 3);
  auto originals = log.read(elsewhere("2"), Offset(0), 10);
  REQUIRE(originals.ok());
  for (size_t i = 0; i < 3; ++i) CHECK((*copies)[i].value == (*originals)[i].value);

  auto page = views->list(WorkspaceId(2), 1, 10, "");
  REQUIRE(page.contacts.size() == 2);
  const Contact& a = page.contacts[0];  // last seen at 300
  CHECK(a.email == "a@x");
  CHECK(a.name == "Renamed");
  CHECK(a.event_count == 2);
  // Ids come from the copy's position, where it was folded.
  CHECK(a.id == id_from_position(home, Offset(0), kLogPartitions));
}

TEST_CASE("a record forwarded twice (a crash between the forward and the commit) applies once") {
  TempDir dir("forward_test");
  MemoryLog memory(kLogPartitions);
  FaultInjectingLog log(memory);
  auto views = open_views(dir, "views");
  REQUIRE(memory.append_to(elsewhere("2"), {visit_record("a", 2, 100, "a@x")}).ok());
  // The commit after the forward fails here as a crash would: the forward is durable, the
  // offsets are not. The forward after it is made to fail once as well.
  {
    Projector projector(log, *views);
    projector.set_forward_misplaced(true);
    log.fail_nth(LogCall::kAppend, 2);
    REQUIRE(projector.step().ok());  // forwarded and committed
  }
  // As if the commit had been lost: fresh views, the same log, forwarding again.
  auto again = open_views(dir, "views-again");
  {
    Projector projector(log, *again);
    projector.set_forward_misplaced(true);
    CHECK_FALSE(projector.step().ok());  // the forward fails: the batch does not commit
    CHECK(again->applied(elsewhere("2")).value == 0);
    settle(projector, log);
    CHECK(projector.stats().forwarded_records.load() == 1);
  }
  // Two copies in the home partition; the second changes nothing.
  CHECK(memory.end_offset(partition_for("2", kLogPartitions)).value == 2);
  auto page = again->list(WorkspaceId(2), 1, 10, "");
  REQUIRE(page.contacts.size() == 1);
  CHECK(page.contacts[0].event_count == 1);
}

TEST_CASE("a replica skips misplaced records and folds the writer's copies into identical views") {
  TempDir dir("forward_test");
  MemoryLog log(kLogPartitions);
  auto writer_views = open_views(dir, "writer");
  // Three producers: one placing by murmur2 (append), two elsewhere, with visits of the same
  // people in the same workspaces, and a bad record among them.
  for (int round = 0; round < 3; ++round)
    for (int ws = 1; ws <= 6; ++ws) {
      const std::string n = std::to_string(round) + "-" + std::to_string(ws);
      REQUIRE(log.append({visit_record("m" + n, ws, 100 + round, "same@x", "Murmur")}).ok());
      REQUIRE(log.append_to(elsewhere(std::to_string(ws), 1),
                            {visit_record("c" + n, ws, 200 + round, "same@x", "Crc")})
                  .ok());
      REQUIRE(log.append_to(elsewhere(std::to_string(ws), 2),
                            {visit_record("r" + n, ws, 300 + round, "r" + n + "@x")})
                  .ok());
    }
  REQUIRE(log.append_to(Partition(0), {{"1", "{not json"}}).ok());
  Projector writer(log, *writer_views);
  writer.set_forward_misplaced(true);
  settle(writer, log);
  CHECK(writer.stats().dead_letters.load() == 1);
  const int64_t misplaced = static_cast<int64_t>(writer.stats().forwarded_records.load());
  CHECK(misplaced > 0);

  // The replica (and a rebuild) read the same log, forwarded copies included.
  auto replica_views = open_views(dir, "replica");
  Projector replica(log, *replica_views);
  int64_t log_size = 0;
  for (int32_t p = 0; p < kLogPartitions; ++p) log_size += log.end_offset(Partition(p)).value;
  settle(replica, log);
  CHECK(replica.stats().forwarded_records.load() == 0);
  int64_t after = 0;
  for (int32_t p = 0; p < kLogPartitions; ++p) after += log.end_offset(Partition(p)).value;
  CHECK(after == log_size);  // the replica appended nothing
  CHECK(rows_of(*replica_views) == rows_of(*writer_views));

  for (int ws = 1; ws <= 6; ++ws) {
    auto page = writer_views->list(WorkspaceId(ws), 1, 10, "");
    REQUIRE(page.contacts.size() == 4);  // same@x and three r...@x
    for (const auto& c : page.contacts)
      if (c.email == "same@x") CHECK(c.event_count == 6);
  }
}

TEST_CASE("records below the quiet boundary are not forwarded again") {
  TempDir dir("forward_test");
  MemoryLog log(kLogPartitions);
  auto views = open_views(dir, "views");
  const Partition away = elsewhere("2");
  REQUIRE(log.append_to(away, {visit_record("a", 2, 100, "a@x"), visit_record("b", 2, 200, "b@x")})
              .ok());
  Projector projector(log, *views);
  projector.set_forward_misplaced(true);
  projector.set_quiet_before(away.value, 1);  // whoever applied offset 0 forwarded it
  REQUIRE(projector.catch_up().ok());
  CHECK(projector.stats().forwarded_records.load() == 1);
  auto copies = log.read(partition_for("2", kLogPartitions), Offset(0), 10);
  REQUIRE(copies.ok());
  REQUIRE(copies->size() == 1);
  CHECK(copies->front().value == visit_record("b", 2, 200, "b@x").value);
}

// A change sink that takes the changes before the commit and fails the first `failures` times.
class FailingPublisher final : public ChangeSink {
 public:
  explicit FailingPublisher(int failures) : failures_(failures) {}
  bool takes_queued() const override { return true; }
  std::unique_ptr<PendingAppend> start_publish(std::vector<QueuedChange>&& entries) override {
    if (failures_-- > 0) return std::make_unique<DoneAppend>(Status{Code::kUnavailable, "down"});
    published += entries.size();
    return std::make_unique<DoneAppend>(std::vector<LogPosition>{});
  }
  size_t published = 0;

 private:
  int failures_;
};

TEST_CASE("a batch folded again after its commit failed does not forward its records again") {
  TempDir dir("forward_test");
  MemoryLog log(kLogPartitions);
  auto views = open_views(dir, "views");
  // A misplaced record and, in the same batch, a placed one whose change the sink takes.
  REQUIRE(log.append_to(elsewhere("2"), {visit_record("a", 2, 100, "a@x")}).ok());
  REQUIRE(log.append({visit_record("b", 3, 100, "b@x")}).ok());
  Projector projector(log, *views, kDefaultMaxBatchRecords, /*fold_threads=*/1);
  projector.set_forward_misplaced(true);
  FailingPublisher sink(1);
  projector.set_change_scope(ChangeScope::kAll);  // as `contacts project` publishes every change
  projector.set_change_sink(sink);
  CHECK_FALSE(projector.step().ok());  // forwarded, then the publication failed: no commit
  const Partition home = partition_for("2", kLogPartitions);
  CHECK(log.end_offset(home).value == 1);
  CHECK(views->applied(elsewhere("2")).value == 0);
  settle(projector, log);
  CHECK(log.end_offset(home).value == 1);  // the copy of the first attempt, not a second one
  CHECK(views->list(WorkspaceId(2), 1, 10, "").contacts.at(0).event_count == 1);
  // b's change and a's (from its copy), at least once: what the failed batch published counts.
  CHECK(sink.published >= 2);
}

TEST_CASE("a misplaced record too large to forward is a dead letter and the fold goes on") {
  TempDir dir("forward_test");
  MemoryLog log(kLogPartitions);
  auto views = open_views(dir, "views");
  nlohmann::json big = visit("big", 100, "Big", "big@x", 5, WorkspaceId(2));
  big["padding"] = std::string(kMaxForwardBytes, 'x');  // a field this build ignores
  REQUIRE(
      log.append_to(elsewhere("2"), {{"2", big.dump()}, visit_record("s", 2, 200, "s@x")}).ok());
  Projector projector(log, *views);
  projector.set_forward_misplaced(true);
  settle(projector, log);
  CHECK(projector.stats().dead_letters.load() == 1);
  CHECK(projector.stats().forwarded_records.load() == 1);
  auto page = views->list(WorkspaceId(2), 1, 10, "");
  REQUIRE(page.contacts.size() == 1);
  CHECK(page.contacts[0].email == "s@x");
}

}  // namespace
}  // namespace contacts
