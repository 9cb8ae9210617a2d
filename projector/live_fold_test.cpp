// LiveFold: rebuilds beside the live views while they serve, swaps in a set equal to a fresh
// fold of the same log, queues no change twice, and leaves the old views serving when a rebuild
// is cancelled, fails or is stopped (resumed at the next start).
#include "projector/live_fold.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "bus/fault_injecting_log.h"
#include "bus/memory_log.h"
#include "projector/fold_fixture.h"
#include "views/fold_version.h"

namespace contacts {
namespace {

using fold_testing::simple;
using fold_testing::visit;
using namespace std::chrono_literals;

constexpr int32_t kLogPartitions = 4;
// A log long enough that a rebuild is still folding when a test cancels it or waits out an
// outage in its middle. A sanitized build folds several times slower: a quarter of the records
// gives it the same window, in a quarter of the time. (The tests that fail the log or stop the
// fold mid-way need the whole length whatever the build: the rebuild's reader must still have
// records to read.)
#if defined(__SANITIZE_ADDRESS__)
constexpr int kLongLog = 75000;
#else
constexpr int kLongLog = 300000;
#endif
constexpr int kReadLongLog = 300000;
const ViewStoreOptions kSmall{8 << 20, 4 << 20};

std::vector<LogRecord> visits(int from, int count, int workspaces = 5) {
  std::vector<LogRecord> out;
  for (int i = from; i < from + count; ++i) {
    const int ws = 1 + i % workspaces;
    out.push_back(
        {std::to_string(ws), visit("v" + std::to_string(i), 1000 + i, "P" + std::to_string(i % 700),
                                   "p" + std::to_string(i % 700) + "@x", 5, WorkspaceId(ws))
                                 .dump()});
  }
  return out;
}

LogRecord subscribe(int ws) {
  return {std::to_string(ws),
          simple("webhook_create", "hook" + std::to_string(ws),
                 {{"name", "crm"},
                  {"url", "https://hooks.example.com/in"},
                  {"events", {"contact.created", "contact.updated"}},
                  {"secret", "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
                  {"actor", {{"user_id", 7}}}},
                 WorkspaceId(ws))
              .dump()};
}

// Every committed row of `views` but the outbox, key and value.
std::vector<std::pair<std::string, std::string>> rows_of(ViewStore& views) {
  std::vector<std::pair<std::string, std::string>> rows;
  ViewBatch batch = views.begin_batch();
  batch.scan("", [&](std::string_view key, std::string_view value) {
    if (key.empty() || key[0] != keys::kOutbox) rows.emplace_back(key, value);
    return true;
  });
  return rows;
}

// What a fold of `log` from scratch into fresh views holds.
std::vector<std::pair<std::string, std::string>> fresh_fold(Log& log, const std::string& dir) {
  auto views = ViewStore::open(dir, kSmall);
  REQUIRE(views.ok());
  Projector projector(log, **views);
  REQUIRE(projector.catch_up().ok());
  return rows_of(**views);
}

std::set<int64_t> outbox_positions(ViewStore& views) {
  std::set<int64_t> out;
  for (const auto& entry : views.outbox(1 << 20)) out.insert(entry.position_id);
  return out;
}

void drain_outbox(ViewStore& views) {
  std::vector<int64_t> positions;
  for (int64_t p : outbox_positions(views)) positions.push_back(p);
  REQUIRE(views.remove_outbox(positions).ok());
}

std::unique_ptr<LiveFold> open_fold(Log& log, const std::string& data,
                                    std::chrono::milliseconds log_outage_grace = 60s) {
  LiveFoldOptions options;
  options.views = kSmall;
  options.log_outage_grace = log_outage_grace;
  auto fold = LiveFold::open(log, data, options);
  REQUIRE_MESSAGE(fold.ok(), fold.status().message());
  return std::move(*fold);
}

RebuildProgress wait_over(LiveFold& fold) {
  for (int i = 0; i < 12000; ++i) {
    auto p = fold.progress();
    if (p.phase != RebuildPhase::kFolding && p.phase != RebuildPhase::kSwapping) return p;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("the rebuild did not end");
  return {};
}

// Bounds on waits, not timings: generous for the sanitizer build on two busy cores.
bool wait_caught_up(LiveFold& fold) {
  for (int i = 0; i < 24000; ++i) {
    if (fold.caught_up()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

TEST_CASE(
    "a rebuild while serving swaps in views equal to a fresh fold; readers never go without") {
  TempDir dir("live_fold_test");
  MemoryLog log(kLogPartitions);
  REQUIRE(log.append(visits(0, 20000)).ok());
  auto fold = open_fold(log, dir.path());
  REQUIRE(fold->start().ok());
  REQUIRE(wait_caught_up(*fold));
  const ViewStore* before = fold->views().get().get();

  // Readers and a writer go on throughout.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0}, missing{0};
  std::thread reader([&] {
    while (!done) {
      auto views = fold->views().get();
      if (!views || views->list(WorkspaceId(1), 1, 10, "").total == 0) ++missing;
      ++reads;
    }
  });
  std::thread writer([&] {
    for (int i = 0; i < 40 && !done; ++i) {
      REQUIRE(log.append(visits(20000 + i * 100, 100)).ok());
      std::this_thread::sleep_for(2ms);
    }
  });
  REQUIRE(fold->request_rebuild("test").ok());
  CHECK(fold->request_rebuild("again").code() == Code::kUnavailable);  // one at a time
  auto progress = wait_over(*fold);
  writer.join();
  REQUIRE(wait_caught_up(*fold));
  done = true;
  reader.join();

  CHECK(progress.phase == RebuildPhase::kDone);
  CHECK(progress.folded >= 20000);
  CHECK(reads.load() > 0);
  CHECK(missing.load() == 0);
  CHECK(fold->views().get().get() != before);
  // On disk: the fresh set is live, the old one gone.
  CHECK(std::filesystem::exists(dir.path() + "/views.2"));
  // The old set goes once its last reader let go.
  for (int i = 0; i < 500 && std::filesystem::exists(dir.path() + "/views"); ++i)
    std::this_thread::sleep_for(10ms);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/views"));
  std::ifstream current(dir.path() + "/views.current");
  std::string name;
  std::getline(current, name);
  CHECK(name == "views.2");
  CHECK(rows_of(*fold->views().get()) == fresh_fold(log, dir.path() + "/check"));
  fold->stop();
}

TEST_CASE("a rebuild queues no change the old views queued, and each one that arrives meanwhile") {
  TempDir dir("live_fold_test");
  MemoryLog log(kLogPartitions);
  REQUIRE(log.append({subscribe(1), subscribe(2)}).ok());
  REQUIRE(log.append(visits(0, 60000, 2)).ok());
  auto fold = open_fold(log, dir.path());
  REQUIRE(fold->start().ok());
  REQUIRE(wait_caught_up(*fold));
  REQUIRE_FALSE(outbox_positions(*fold->views().get()).empty());
  // Delivered: whatever the old views queued must not come back.
  drain_outbox(*fold->views().get());
  // Commands arrive before, during and after the swap: each is queued, by the old projector or
  // the new one.
  std::set<int64_t> expected;
  std::atomic<bool> rebuilding{true};
  std::thread writer([&] {
    for (int i = 0; rebuilding || i < 3; ++i) {
      auto appended = log.append(visits(60000 + i * 10, 10, 2));
      REQUIRE(appended.ok());
      for (const auto& at : *appended)
        expected.insert(id_from_position(at.partition, at.offset, kLogPartitions));
      std::this_thread::sleep_for(1ms);
    }
  });
  REQUIRE(fold->request_rebuild("test").ok());
  REQUIRE(wait_over(*fold).phase == RebuildPhase::kDone);
  rebuilding = false;
  writer.join();
  REQUIRE(wait_caught_up(*fold));
  CHECK(expected.size() >= 30);
  CHECK(outbox_positions(*fold->views().get()) == expected);
  fold->stop();
}

TEST_CASE("a cancelled rebuild, or one that fails, leaves the old views serving") {
  TempDir dir("live_fold_test");
  MemoryLog log(kLogPartitions);
  REQUIRE(log.append(visits(0, kLongLog * 2 / 3)).ok());
  auto fold = open_fold(log, dir.path());
  REQUIRE(fold->start().ok());
  REQUIRE(wait_caught_up(*fold));
  const ViewStore* live = fold->views().get().get();

  REQUIRE(fold->request_rebuild("to cancel").ok());
  CHECK(fold->cancel_rebuild());
  CHECK(wait_over(*fold).phase == RebuildPhase::kCancelled);
  CHECK(fold->views().get().get() == live);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/views.2"));
  CHECK_FALSE(fold->cancel_rebuild());  // none runs

  // A file where the fresh views would go: RocksDB cannot open them.
  { std::ofstream(dir.path() + "/views.2") << "in the way"; }
  REQUIRE(fold->request_rebuild("to fail").ok());
  auto failed = wait_over(*fold);
  CHECK(failed.phase == RebuildPhase::kFailed);
  CHECK(failed.error.find("views.2") != std::string::npos);
  CHECK(fold->views().get().get() == live);
  CHECK(fold->caught_up());
  fold->stop();
}

TEST_CASE("a log that stays unreadable past the grace aborts a rebuild; the old views serve on") {
  TempDir dir("live_fold_test");
  MemoryLog memory(kLogPartitions);
  FaultInjectingLog log(memory);
  REQUIRE(memory.append(visits(0, kReadLongLog)).ok());
  auto fold = open_fold(log, dir.path(), 300ms);
  REQUIRE(fold->start().ok());
  REQUIRE(wait_caught_up(*fold));
  const ViewStore* live = fold->views().get().get();
  REQUIRE(fold->request_rebuild("to fail mid-way").ok());
  while (fold->progress().folded == 0) std::this_thread::sleep_for(1ms);
  log.fail_all(LogCall::kRead);  // the disk or the brokers gone, for both projectors
  auto failed = wait_over(*fold);
  log.heal();
  CHECK(failed.phase == RebuildPhase::kFailed);
  CHECK_FALSE(failed.error.empty());
  CHECK(fold->views().get().get() == live);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/views.2"));
  // The live projector went on once the log came back.
  auto more = memory.append(visits(kReadLongLog, 5));
  REQUIRE(more.ok());
  CHECK(fold->wait_applied(more->back(), 5s));
  fold->stop();
}

TEST_CASE("a rebuild waits out a short outage of the log and completes") {
  TempDir dir("live_fold_test");
  MemoryLog memory(kLogPartitions);
  FaultInjectingLog log(memory);
  REQUIRE(memory.append(visits(0, kLongLog)).ok());
  auto fold = open_fold(log, dir.path(), 5s);
  REQUIRE(fold->start().ok());
  REQUIRE(wait_caught_up(*fold));
  REQUIRE(fold->request_rebuild("through an outage").ok());
  while (fold->progress().folded == 0) std::this_thread::sleep_for(1ms);
  log.fail_all(LogCall::kRead);
  std::this_thread::sleep_for(300ms);
  log.heal();
  CHECK(wait_over(*fold).phase == RebuildPhase::kDone);
  CHECK(rows_of(*fold->views().get()) == fresh_fold(memory, dir.path() + "/check"));
  fold->stop();
}

TEST_CASE("a rebuild a stop interrupted resumes at the next start from what it folded") {
  TempDir dir("live_fold_test");
  MemoryLog log(kLogPartitions);
  REQUIRE(log.append(visits(0, kReadLongLog)).ok());
  {
    auto fold = open_fold(log, dir.path());
    REQUIRE(fold->start().ok());
    REQUIRE(wait_caught_up(*fold));
    REQUIRE(fold->request_rebuild("to stop").ok());
    while (fold->progress().folded == 0) std::this_thread::sleep_for(1ms);
    fold->stop();
  }
  REQUIRE(std::filesystem::exists(dir.path() + "/views.2"));
  auto fold = open_fold(log, dir.path());
  CHECK(std::filesystem::exists(dir.path() + "/views"));  // still the live set
  REQUIRE(fold->start().ok());                            // resumes
  auto progress = wait_over(*fold);
  CHECK(progress.phase == RebuildPhase::kDone);
  CHECK(progress.reason.find("resuming") != std::string::npos);
  CHECK(rows_of(*fold->views().get()) == fresh_fold(log, dir.path() + "/check"));
  fold->stop();
}

TEST_CASE("views a node cannot read are rebuilt before they are served") {
  TempDir dir("live_fold_test");
  MemoryLog log(kLogPartitions);
  REQUIRE(log.append({subscribe(1)}).ok());
  REQUIRE(log.append(visits(0, 2000, 1)).ok());
  {
    auto fold = open_fold(log, dir.path());
    REQUIRE(fold->start().ok());
    REQUIRE(wait_caught_up(*fold));
    drain_outbox(*fold->views().get());
    fold->stop();
  }
  // As if an older contacts had written them in an encoding this one no longer reads.
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.path() + "/views", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(
        db->Put(rocksdb::WriteOptions(), std::string("\x00format", 7), "contacts-views-0").ok());
  }
  auto more = log.append(visits(2000, 5, 1));
  REQUIRE(more.ok());
  auto fold = open_fold(log, dir.path());
  CHECK(fold->views().get() == nullptr);  // nothing served from views it cannot read
  CHECK_FALSE(fold->caught_up());
  REQUIRE(fold->start().ok());
  auto progress = wait_over(*fold);
  CHECK(progress.phase == RebuildPhase::kDone);
  REQUIRE(wait_caught_up(*fold));
  CHECK(fold->served_fold_version() == fold_version());
  CHECK(rows_of(*fold->views().get()) == fresh_fold(log, dir.path() + "/check"));
  // Quiet up to what the old views applied: only the later visits are queued.
  std::set<int64_t> expected;
  for (const auto& at : *more)
    expected.insert(id_from_position(at.partition, at.offset, kLogPartitions));
  CHECK(outbox_positions(*fold->views().get()) == expected);
  fold->stop();
}

}  // namespace
}  // namespace contacts
