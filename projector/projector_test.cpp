// The consume loop on the embedded log: partition ownership (a member of the writer group folds
// only what it owns) and the per-partition quiet boundary.
#include "projector/projector.h"

#include <doctest/doctest.h>

#include <set>

#include "bus/embedded_log.h"
#include "projector/fold_fixture.h"

namespace contacts {
namespace {

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
      records.push_back({std::to_string(ws), visit("v" + std::to_string(round) + "-" + std::to_string(ws), 100 + round,
                                                   "P", "p@x", 5, WorkspaceId(ws))
                                                 .dump()});
    auto positions = log->append(records);
    REQUIRE(positions.ok());
    return *positions;
  }
};

TEST_CASE("a projector folds only the partitions it owns, and resumes one from its views when it gets it") {
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
  for (int32_t p = 0; p < kLogPartitions; ++p) CHECK(f.views->applied(Partition(p)) == f.log->end_offset(Partition(p)));
  // Every visit applied once.
  for (int ws = 1; ws <= 12; ++ws) {
    auto page = f.views->list(WorkspaceId(ws), 1, 10, "");
    REQUIRE(page.contacts.size() == 1);
    CHECK(page.contacts[0].event_count == 1);
  }
}

TEST_CASE("a partition's quiet boundary keeps its earlier changes out of the outbox, not later ones") {
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
  for (const auto& [key, value] : f.views->outbox(1000)) queued.insert(json::parse(value)["position"].get<int64_t>());
  std::set<int64_t> expected;
  for (const auto* round : {&first, &second})
    for (const auto& at : *round)
      if (at.partition.value != 0) expected.insert(id_from_position(at.partition, at.offset, kLogPartitions));
  CHECK(queued == expected);
}

}  // namespace
}  // namespace contacts
