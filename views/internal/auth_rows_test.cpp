#include "views/internal/auth_rows.h"

#include <doctest/doctest.h>

#include <string>

#include "views/keys.h"

namespace contacts {
namespace {

TEST_CASE("AuthRows keeps API keys and memberships, nothing else") {
  CHECK(AuthRows::caches(keys::api_key_hash_key(std::string(64, 'a'))));
  CHECK(AuthRows::caches(keys::api_key_key(WorkspaceId(1), 2)));
  CHECK(AuthRows::caches(keys::member_key(WorkspaceId(1), 2)));
  CHECK_FALSE(AuthRows::caches(keys::contact_key(WorkspaceId(1), 2)));
  CHECK_FALSE(AuthRows::caches(""));
}

TEST_CASE("AuthRows answers what was stored until a commit invalidates it") {
  AuthRows rows(8);
  uint64_t generation = 0;
  CHECK_FALSE(rows.find("m1", generation).has_value());
  rows.store("m1", "owner", generation);
  uint64_t again = 0;
  CHECK(rows.find("m1", again) == std::optional<std::string>("owner"));
  rows.invalidate();
  CHECK_FALSE(rows.find("m1", again).has_value());
}

TEST_CASE("a row read before a commit and stored after it is refused") {
  AuthRows rows(8);
  uint64_t before = 0;
  CHECK_FALSE(rows.find("m1", before).has_value());
  // The reader read "owner" from RocksDB; meanwhile a commit wrote "member" and invalidated.
  rows.invalidate();
  rows.store("m1", "owner", before);
  uint64_t after = 0;
  CHECK_FALSE(rows.find("m1", after).has_value());
  rows.store("m1", "member", after);
  CHECK(rows.find("m1", after) == std::optional<std::string>("member"));
}

TEST_CASE("a full AuthRows empties and fills again") {
  AuthRows rows(2);
  uint64_t g = 0;
  rows.find("a", g);
  rows.store("a", "1", g);
  rows.store("b", "2", g);
  CHECK(rows.size() == 2);
  rows.store("c", "3", g);
  CHECK(rows.size() == 1);
  CHECK(rows.find("c", g) == std::optional<std::string>("3"));
  CHECK_FALSE(rows.find("a", g).has_value());
}

}  // namespace
}  // namespace contacts
