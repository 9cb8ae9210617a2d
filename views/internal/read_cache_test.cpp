#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/temp_dir.h"
#include "views/keys.h"
#include "views/view_batch.h"
#include "views/view_store.h"

namespace contacts {
namespace {

std::string contact_key(int i) { return keys::contact_key(WorkspaceId(7), i); }

// The cached value of `key`: "-" when it is not cached, "(absent)" for a cached absence.
std::string cached(ReadCache& cache, const std::string& key) {
  const auto* v = cache.find(key);
  if (!v) return "-";
  return *v ? **v : "(absent)";
}

// Commits `rows` (contact key -> value) to the views, without a cache.
void commit_rows(ViewStore& store, const std::vector<std::pair<int, std::string>>& rows) {
  ViewBatch batch = store.begin_batch();
  for (const auto& [id, value] : rows) batch.put(contact_key(id), value);
  REQUIRE(store.commit(batch).ok());
}

TEST_CASE("ReadCache gives back what was stored, absences included, and nothing else") {
  ReadCache cache(100);
  cache.store(contact_key(1), std::string("one"));
  cache.store(contact_key(2), std::nullopt);
  CHECK(cached(cache, contact_key(1)) == "one");
  CHECK(cached(cache, contact_key(2)) == "(absent)");
  CHECK(cached(cache, contact_key(3)) == "-");
  cache.store(contact_key(1), std::string("uno"));
  CHECK(cached(cache, contact_key(1)) == "uno");
  CHECK(cache.size() == 2);
}

TEST_CASE("ReadCache stays within its bound and keeps a hot key through any number of turns") {
  constexpr int kMax = 1000;
  ReadCache cache(kMax);
  const std::string hot = contact_key(0);
  cache.store(hot, std::string("hot"));
  for (int i = 1; i <= 20 * kMax; ++i) {
    cache.store(contact_key(i), std::string("cold"));
    REQUIRE(cache.size() <= kMax);
    // Used twice in each generation's worth of new keys, the hot key is never dropped.
    if (i % (kMax / 4) == 0) REQUIRE(cached(cache, hot) == "hot");
  }
  CHECK(cached(cache, hot) == "hot");
  // Keys seen once are dropped two turns after they came: the first ones are long gone, the
  // last ones are there.
  CHECK(cached(cache, contact_key(1)) == "-");
  CHECK(cached(cache, contact_key(kMax)) == "-");
  CHECK(cached(cache, contact_key(20 * kMax)) == "cold");
}

TEST_CASE(
    "ReadCache: a newer value shadows the one in the old generation, which never comes back") {
  constexpr int kMax = 10;
  ReadCache cache(kMax);
  const std::string key = contact_key(0);
  cache.store(key, std::string("v1"));
  for (int i = 1; i < kMax / 2; ++i) cache.store(contact_key(i), std::string("x"));
  cache.store(contact_key(100), std::string("x"));  // the young generation turns: v1 is now old
  cache.store(key, std::string("v2"));
  CHECK(cached(cache, key) == "v2");
  CHECK(cache.size() == kMax / 2 + 1);  // 1..4 old, 100 and v2 young: v1 went when v2 came
  // Turn twice more: v2 it stays.
  for (int i = 200; i < 200 + kMax; ++i) {
    cache.store(contact_key(i), std::string("x"));
    REQUIRE(cached(cache, key) == "v2");
  }
}

TEST_CASE("ReadCache moves an old entry it finds into the young generation") {
  constexpr int kMax = 8;
  ReadCache cache(kMax);
  const std::string key = contact_key(0);
  cache.store(key, std::string("kept"));
  for (int i = 1; i <= kMax / 2; ++i)
    cache.store(contact_key(i), std::string("x"));  // key is old now
  CHECK(cached(cache, key) == "kept");  // found in the old generation, moved to the young one
  // One more turn drops the old generation; the key, moved, survives it.
  for (int i = 100; i < 100 + kMax / 2; ++i) cache.store(contact_key(i), std::string("x"));
  CHECK(cached(cache, key) == "kept");
  CHECK(cached(cache, contact_key(1)) == "-");
}

TEST_CASE("a batch keeps in its cache what it read from the views, so a hot row is read once") {
  TempDir dir("read_cache_test");
  auto store = ViewStore::open(dir.path() + "/views", ViewStoreOptions{});
  REQUIRE(store.ok());
  commit_rows(**store, {{1, "committed"}});
  ReadCache cache(100);
  {
    ViewBatch batch = (*store)->begin_batch(&cache);
    CHECK(batch.get(contact_key(1)) == std::optional<std::string>("committed"));
    CHECK(batch.get(contact_key(2)) == std::nullopt);
  }
  CHECK(cached(cache, contact_key(1)) == "committed");
  CHECK(cached(cache, contact_key(2)) == "(absent)");
  // Written behind the cache's back (a batch without it): a batch with the cache answers from
  // the cache, which shows the read above is not repeated. (In the service only the cache's
  // own fold thread writes these keys, and its batches update the cache when they commit.)
  commit_rows(**store, {{1, "rewritten"}});
  ViewBatch batch = (*store)->begin_batch(&cache);
  CHECK(batch.get(contact_key(1)) == std::optional<std::string>("committed"));
  // Keys of tags the cache does not keep are read from the views every time.
  const size_t before = cache.size();
  CHECK(batch.get(keys::list_key(WorkspaceId(7), 5, 1)) == std::nullopt);
  CHECK(cache.size() == before);
}

TEST_CASE(
    "a batch does not cache what it read from the batch behind it, which may yet fail to commit") {
  TempDir dir("read_cache_test");
  auto store = ViewStore::open(dir.path() + "/views", ViewStoreOptions{});
  REQUIRE(store.ok());
  commit_rows(**store, {{1, "committed"}, {2, "committed too"}});
  ReadCache cache(100);
  ViewBatch behind = (*store)->begin_batch(&cache);
  behind.put(contact_key(1), "pending behind");
  ViewBatch batch = (*store)->begin_batch(&cache);
  batch.read_behind(&behind);
  CHECK(batch.get(contact_key(1)) == std::optional<std::string>("pending behind"));
  CHECK(cached(cache, contact_key(1)) == "-");
  // A key the batch behind does not hold is read from the views, and cached.
  CHECK(batch.get(contact_key(2)) == std::optional<std::string>("committed too"));
  CHECK(cached(cache, contact_key(2)) == "committed too");
  // Once the batch behind commits, its values are what the cache holds.
  REQUIRE((*store)->commit(behind).ok());
  behind.publish_to_cache();
  CHECK(cached(cache, contact_key(1)) == "pending behind");
}

TEST_CASE("a batch used again after it committed (or was cleared) writes only its new writes") {
  TempDir dir("read_cache_test");
  auto store = ViewStore::open(dir.path() + "/views", ViewStoreOptions{});
  REQUIRE(store.ok());
  ReadCache cache(100);
  ViewBatch batch = (*store)->begin_batch(&cache);
  batch.put(contact_key(1), "first");
  batch.put(contact_key(2), "first");
  REQUIRE((*store)->commit(batch).ok());
  batch.publish_to_cache();
  CHECK(batch.pending() == 0);
  // A second use, bigger than the first (its write buffer grows), then a smaller third one.
  for (int i = 3; i < 50; ++i) batch.put(contact_key(i), std::string(100, 'x'));
  CHECK(batch.to_write_batch().Count() == 47);
  batch.clear();
  CHECK(batch.pending() == 0);
  CHECK(batch.get(contact_key(3)) == std::nullopt);  // cleared, never committed
  batch.put(contact_key(1), "second");
  CHECK(batch.to_write_batch().Count() == 1);
  REQUIRE((*store)->commit(batch).ok());
  batch.publish_to_cache();
  CHECK(cached(cache, contact_key(1)) == "second");
  CHECK(cached(cache, contact_key(2)) == "first");
  ViewBatch reader = (*store)->begin_batch();  // no cache: reads the views
  CHECK(reader.get(contact_key(1)) == std::optional<std::string>("second"));
  CHECK(reader.get(contact_key(2)) == std::optional<std::string>("first"));
  CHECK(reader.get(contact_key(3)) == std::nullopt);
}

}  // namespace
}  // namespace contacts
