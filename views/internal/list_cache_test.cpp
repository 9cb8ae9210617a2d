#include "views/internal/list_cache.h"

#include <doctest/doctest.h>

namespace contacts {
namespace {

ListSnapshot three() {
  ListSnapshot s;
  s.add(30, "alice martin", "alice@example.com");
  s.add(20, "bob", "");
  s.add(10, "zoë", "zoe@exemple.fr");
  return s;
}

TEST_CASE("ListSnapshot::search matches the name or the email, never across the two") {
  ListSnapshot s = three();
  CHECK(s.search("alice") == std::vector<uint32_t>{0});
  CHECK(s.search("e") == std::vector<uint32_t>{0, 2});
  CHECK(s.search("zoë") == std::vector<uint32_t>{2});
  CHECK(s.search("bob") == std::vector<uint32_t>{1});
  CHECK(s.search("martinalice").empty());  // the end of a name and the start of its email
  CHECK(s.search("bobzo").empty());        // the end of one entry and the start of the next
  CHECK(s.search("fr").size() == 1);
}

TEST_CASE("ListCache keeps a snapshot only when no commit touched the workspace since find") {
  ListCache cache(1 << 20);
  auto snap = std::make_shared<ListSnapshot>(three());

  auto first = cache.find(7, std::chrono::milliseconds(0));
  CHECK_FALSE(first.snapshot);
  cache.store(7, first.version, snap);
  CHECK(cache.find(7, std::chrono::milliseconds(0)).snapshot == snap);

  cache.invalidate(7);
  auto after = cache.find(7, std::chrono::milliseconds(0));
  CHECK_FALSE(after.snapshot);
  CHECK(after.version != first.version);

  // Built from a snapshot taken before a commit that then invalidated: not kept.
  auto racing = cache.find(7, std::chrono::milliseconds(0));
  cache.invalidate(7);
  cache.store(7, racing.version, snap);
  CHECK_FALSE(cache.find(7, std::chrono::milliseconds(0)).snapshot);

  // Other workspaces are not touched.
  auto other = cache.find(8, std::chrono::milliseconds(0));
  cache.store(8, other.version, snap);
  cache.invalidate(7);
  CHECK(cache.find(8, std::chrono::milliseconds(0)).snapshot == snap);
}

TEST_CASE("ListCache reports a workspace quiet only after no commit for the period") {
  ListCache cache(1 << 20);
  CHECK(cache.find(1, std::chrono::hours(1)).quiet);  // never changed
  cache.invalidate(1);
  CHECK_FALSE(cache.find(1, std::chrono::hours(1)).quiet);
  CHECK(cache.find(1, std::chrono::milliseconds(0)).quiet);
}

TEST_CASE("ListCache stays within its byte budget") {
  auto snap = std::make_shared<ListSnapshot>(three());
  ListCache cache(snap->bytes() * 2 + 1);
  for (int64_t ws = 1; ws <= 3; ++ws) cache.store(ws, cache.find(ws, {}).version, snap);
  int kept = 0;
  for (int64_t ws = 1; ws <= 3; ++ws) kept += cache.find(ws, {}).snapshot != nullptr;
  CHECK(kept >= 1);
  CHECK(kept <= 2);
  ListCache tiny(snap->bytes() + 1);
  tiny.store(2, tiny.find(2, {}).version, snap);
  auto big = std::make_shared<ListSnapshot>(three());
  big->add(40, std::string(200, 'n'), "");
  tiny.store(1, tiny.find(1, {}).version, big);
  CHECK_FALSE(tiny.find(1, {}).snapshot);
  CHECK(tiny.find(1, {}).too_big);           // the workspace is read from RocksDB instead
  CHECK(tiny.find(2, {}).snapshot == snap);  // and the others stay cached
  tiny.invalidate(1);
  CHECK_FALSE(tiny.find(1, {}).too_big);  // a change may make it fit again
}

}  // namespace
}  // namespace contacts
