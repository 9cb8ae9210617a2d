// The contact routes in-process (api/contact_handlers.cpp): the list, search, one contact, its
// timeline and its delete, over real views folded from an in-memory log.
#include <doctest/doctest.h>

#include "api/handlers.h"
#include "api/test_node.h"

namespace contacts {
namespace {

using api_test::ApiFixture;
using api_test::error_of;
using api_test::json;
using api_test::kContacts;

TEST_CASE(
    "api: list contacts: fields, order by last_seen_at desc, total, page and limit defaults") {
  ApiFixture f;
  f.append({ApiFixture::visit("a", 100, "Alice", "alice@x.org"),
            ApiFixture::visit("b", 300, "Bob", "bob@x.org"),
            ApiFixture::visit("c", 200, "Carol", "carol@x.org")});
  auto a = f.get(kContacts);
  REQUIRE(a.status == 200);
  CHECK(a.body["total"] == 3);
  CHECK(a.body["page"] == 1);
  CHECK(a.body["limit"] == 50);
  REQUIRE(a.body["contacts"].size() == 3);
  CHECK(a.body["contacts"][0]["name"] == "Bob");
  CHECK(a.body["contacts"][1]["name"] == "Carol");
  CHECK(a.body["contacts"][2]["name"] == "Alice");
  const json& bob = a.body["contacts"][0];
  for (const char* field : {"id", "workspace_id", "name", "email", "event_count", "last_seen_at",
                            "created_at", "updated_at"})
    CHECK_MESSAGE(bob.contains(field), field);
  CHECK(bob["event_count"] == 1);
  CHECK(bob["last_seen_at"] == 300);
}

TEST_CASE("api: list contacts: page and limit page through, out-of-range values are clamped") {
  ApiFixture f;
  std::vector<json> visits;
  for (int i = 0; i < 5; ++i)
    visits.push_back(ApiFixture::visit("v" + std::to_string(i), 100 + i, "P" + std::to_string(i),
                                       "p" + std::to_string(i) + "@x.org"));
  f.append(visits);
  auto second = f.get(kContacts + "?page=2&limit=2");
  CHECK(second.body["page"] == 2);
  CHECK(second.body["limit"] == 2);
  CHECK(second.body["total"] == 5);
  REQUIRE(second.body["contacts"].size() == 2);
  CHECK(second.body["contacts"][0]["name"] == "P2");
  CHECK(f.get(kContacts + "?limit=1000").body["limit"] == 100);
  CHECK(f.get(kContacts + "?limit=0").body["limit"] == 1);
  CHECK(f.get(kContacts + "?page=0").body["page"] == 1);
  CHECK(f.get(kContacts + "?page=abc&limit=xyz").body["limit"] == 50);
  CHECK(f.get(kContacts + "?page=9").body["contacts"].empty());
}

TEST_CASE("api: search is a case-insensitive substring of name or email, with an exact total") {
  ApiFixture f;
  f.append({ApiFixture::visit("a", 100, "Zoë Martin", "zoe@x.org"),
            ApiFixture::visit("b", 200, "Bob", "bob@martin.io"),
            ApiFixture::visit("c", 300, "Carol", "carol@x.org")});
  auto a = f.get(kContacts + "?search=MARTIN");
  CHECK(a.body["total"] == 2);
  CHECK(f.get(kContacts + "?search=zo%C3%8B").body["total"] == 1);
  CHECK(f.get(kContacts + "?search=nobody").body["total"] == 0);
  auto bad = f.get(kContacts + "?search=%FF");
  CHECK(bad.status == 400);
  CHECK(error_of(bad) == "search must be valid UTF-8");
}

TEST_CASE("api: one contact is served without event_count and last_seen_at; unknown ids are 404") {
  ApiFixture f;
  int64_t id = f.append({ApiFixture::visit("a", 100, "Alice", "Alice@X.org")});
  auto a = f.get(kContacts + "/" + std::to_string(id));
  REQUIRE(a.status == 200);
  const json& c = a.body["contact"];
  CHECK(c["id"] == id);
  CHECK(c["email"] == "alice@x.org");
  CHECK_FALSE(c.contains("event_count"));
  CHECK_FALSE(c.contains("last_seen_at"));
  for (const char* missing : {"999999", "abc", "-1"}) {
    auto none = f.get(kContacts + "/" + std::string(missing));
    CHECK(none.status == 404);
    CHECK(error_of(none) == "Contact not found");
  }
}

TEST_CASE("api: a contact's events, newest first, with room fields; 404 for an unknown contact") {
  ApiFixture f;
  f.append({ApiFixture::visit("a", 100, "Alice", "a@x.org")});
  int64_t id = f.get(kContacts).body["contacts"][0]["id"];
  f.append({ApiFixture::visit("b", 200, "Alice", "a@x.org")});
  auto a = f.get(kContacts + "/" + std::to_string(id) + "/events");
  REQUIRE(a.status == 200);
  CHECK(a.body["total"] == 2);
  REQUIRE(a.body["events"].size() == 2);
  CHECK(a.body["events"][0]["created_at"] == 200);
  CHECK(a.body["events"][0]["event_type"] == "room_join");
  CHECK(a.body["events"][0]["room_id"] == 5);
  CHECK(f.get(kContacts + "/424242/events").status == 404);
}

TEST_CASE(
    "api: delete: members may not, owners and admins may; the contact is gone at once; 404 when "
    "missing") {
  ApiFixture f;
  int64_t id = f.append({ApiFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string one = kContacts + "/" + std::to_string(id);
  auto refused = f.send(http::verb::delete_, one, 3);
  CHECK(refused.status == 403);
  CHECK(error_of(refused) == "Only owners and admins can delete contacts");
  auto deleted = f.send(http::verb::delete_, one, 2);
  CHECK(deleted.status == 200);
  CHECK(deleted.body == json{{"ok", true}});
  CHECK(f.get(one).status == 404);
  CHECK(f.get(kContacts).body["total"] == 0);
  auto again = f.send(http::verb::delete_, one, 1);
  CHECK(again.status == 404);
  CHECK(error_of(again) == "Contact not found");
}

}  // namespace
}  // namespace contacts
