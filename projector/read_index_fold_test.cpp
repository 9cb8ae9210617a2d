// The read index of a big workspace (views/internal/read_index.h) against the RocksDB scan it
// replaces, through the real fold: two view stores fed the same batches, one of them with no
// room for an index, answer every list page and search alike.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "core/text.h"
#include "projector/fold_fixture.h"

namespace contacts {
namespace {

using namespace fold_testing;

const std::vector<std::string> kFirst = {"Ann",
                                         "\xC3\x85sa",
                                         "Stra\xC3\x9F"
                                         "e",
                                         "\xCE\xA3\xCE\xBF\xCF\x86\xCE\xAF\xCE\xB1",
                                         "\xC4\xB0pek",
                                         "\xC4\xB1\xC5\x9F\xC4\xB1k",
                                         "Martin",
                                         "Chlo\xC3\xA9"};
const std::vector<std::string> kLast = {
    "Smith", "M\xC3\xBCller", "STRASSE", "\xE1\xBD\x80\xCE\xB4\xCF\x8C\xCF\x82", "Ng", "Okafor"};

// The scan: a view store whose read index has no room, so every read goes to RocksDB.
class ScanStore {
 public:
  ScanStore() {
    ViewStoreOptions options{8 << 20, 4 << 20};
    options.read_index_bytes = 1;
    auto opened = ViewStore::open(dir_.path() + "/views", options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    store = std::move(*opened);
  }

 private:
  TempDir dir_{"read_index_scan"};

 public:
  std::unique_ptr<ViewStore> store;
};

void check_same(const ViewStore& indexed, const ViewStore& scanned, const std::string& query,
                int64_t page, int64_t limit) {
  ContactPage got = indexed.list(kWs, page, limit, query);
  ContactPage want = scanned.list(kWs, page, limit, query);
  INFO("query \"" << query << "\" page " << page << " limit " << limit);
  REQUIRE(got.total == want.total);
  REQUIRE(got.contacts.size() == want.contacts.size());
  for (size_t i = 0; i < got.contacts.size(); ++i) {
    CHECK(got.contacts[i].id == want.contacts[i].id);
    CHECK(got.contacts[i].name == want.contacts[i].name);
    CHECK(got.contacts[i].email == want.contacts[i].email);
    CHECK(got.contacts[i].event_count == want.contacts[i].event_count);
    CHECK(got.contacts[i].last_seen_at == want.contacts[i].last_seen_at);
    CHECK(got.contacts[i].created_at == want.contacts[i].created_at);
    CHECK(got.contacts[i].updated_at == want.contacts[i].updated_at);
  }
}

TEST_CASE("the read index answers list pages and searches as the RocksDB scan, through the fold") {
  Fixture f;
  ScanStore scan;
  std::mt19937_64 rng(7);
  int64_t offset = 0;
  auto feed_batch = [&](const std::vector<json>& commands) {
    for (ViewStore* store : {f.store.get(), scan.store.get()}) {
      ViewBatch batch = store->begin_batch();
      int64_t at = offset;
      for (const auto& c : commands) {
        const std::string key = std::to_string(kWs.value);
        REQUIRE(fold_into(batch, LogEntry{kPartition, Offset(at++), key, c.dump()}, kPartitions,
                          f.changes)
                    .ok());
      }
      REQUIRE(store->commit(batch).ok());
    }
    offset += static_cast<int64_t>(commands.size());
  };
  auto name = [&] {
    return kFirst[rng() % kFirst.size()] + " " + kLast[rng() % kLast.size()] + " " +
           std::to_string(rng() % 100);
  };
  // Enough contacts for the workspace to be indexed.
  std::vector<json> first;
  for (int i = 0; i < static_cast<int>(kIndexedMinContacts) + 300; ++i)
    first.push_back(visit("v" + std::to_string(i), 1000 + i, name(),
                          i % 7 == 0 ? json(nullptr) : json("p" + std::to_string(i) + "@x.org")));
  feed_batch(first);
  std::vector<std::string> queries = {"a",   "s",         "ss",       "\xCF\x83", "\xC3\xA5",
                                      "mar", "i\xCC\x87", "\xC4\xB1", "strasse",  "@x.org",
                                      "p1",  "p12@",      "zzz"};
  for (const auto& q : queries) check_same(*f.store, *scan.store, q, 1, 50);  // builds the index
  REQUIRE(f.store->read_index_stats().workspaces == 1);
  REQUIRE(scan.store->read_index_stats().workspaces == 0);

  for (int round = 0; round < 6; ++round) {
    std::vector<json> batch;
    ContactPage some = scan.store->list(kWs, 1 + static_cast<int64_t>(rng() % 20), 50, "");
    for (int i = 0; i < 300; ++i) {
      const std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
      const int p = static_cast<int>(rng() % 3000);
      const auto kind = rng() % 10;
      if (kind < 6) {
        // A visit of a known person, at a later time (a rename when the name differs) or an
        // earlier one (whose name does not count).
        const int64_t at = kind < 5 ? 100000 + round * 1000 + i : 10;
        batch.push_back(visit(id, at, name(), json("p" + std::to_string(p) + "@x.org")));
      } else if (kind < 8) {
        batch.push_back(visit(id, 100000 + round * 1000 + i, name(), json(nullptr)));
      } else if (!some.contacts.empty()) {
        batch.push_back(delete_contact(id, some.contacts[rng() % some.contacts.size()].id));
      }
    }
    feed_batch(batch);
    for (const auto& q : queries) {
      check_same(*f.store, *scan.store, q, 1, 50);
      check_same(*f.store, *scan.store, q, 2 + static_cast<int64_t>(rng() % 5), 37);
    }
    check_same(*f.store, *scan.store, "", 1 + static_cast<int64_t>(rng() % 40), 50);
    ContactPage last = scan.store->list(kWs, 1, 1, "");
    check_same(*f.store, *scan.store, "", (last.total + 49) / 50, 50);
  }
}

}  // namespace
}  // namespace contacts
