// handle_api_request in-process: every route and every error of the Contacts API
// (shared/seed/contacts-api.md), API keys, webhooks, the audit log and the operations
// endpoints, over real views folded from an in-memory log.
#include "api/handlers.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "api/test_node.h"
#include "http/openapi.h"

namespace contacts {
namespace {

using api_test::ApiFixture;
using api_test::error_of;
using api_test::json;
using api_test::kContacts;
using api_test::kNow;
using api_test::kSecret;

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

TEST_CASE("api: authentication: none, malformed, badly signed, expired and unknown keys are 401") {
  ApiFixture f;
  auto none = f.get(kContacts, 0);
  CHECK(none.status == 401);
  CHECK(error_of(none) == "Authentication required");
  for (const std::string& header :
       {std::string("Bearer nonsense"), std::string("Basic abc"),
        "Bearer " + mint_jwt("another-secret", 1, kNow + 60),
        "Bearer " + mint_jwt(kSecret, 1, kNow - 1), std::string("Bearer lnx_unknown")}) {
    INFO(header);
    auto a = f.send_with(header, kContacts);
    CHECK(a.status == 401);
  }
}

TEST_CASE(
    "api: a non-member is 403; an unknown path or workspace id is 404; a wrong method is 405") {
  ApiFixture f;
  auto outsider = f.get(kContacts, 4);
  CHECK(outsider.status == 403);
  CHECK(error_of(outsider) == "Not a member of this workspace");
  CHECK(f.get("/api/workspaces/abc/contacts").status == 404);
  CHECK(f.get("/api/workspaces/2/people").status == 404);
  CHECK(f.get("/nothing").status == 404);
  auto method = f.send(http::verb::post, kContacts);
  CHECK(method.status == 405);
  CHECK(error_of(method) == "Method not allowed");
  CHECK(f.send(http::verb::put, kContacts + "/1").status == 405);
  CHECK(f.send(http::verb::post, "/healthz").status == 405);
}

TEST_CASE(
    "api: API keys: created once with the full key, listed without it, authenticating, revoked") {
  ApiFixture f;
  auto created = f.send(http::verb::post, "/api/workspaces/2/api-keys", 2,
                        R"({"name":" ci ","role":"member"})");
  REQUIRE(created.status == 201);
  const json& key = created.body["api_key"];
  CHECK(key["name"] == "ci");
  CHECK(key["role"] == "member");
  CHECK(key["is_active"] == true);
  CHECK(key["created_at"] == kNow);
  const std::string full_key = key["full_key"];
  CHECK(full_key.rfind("lnx_", 0) == 0);
  CHECK(full_key.rfind(key["key_prefix"].get<std::string>(), 0) == 0);
  auto listed = f.get("/api/workspaces/2/api-keys");
  REQUIRE(listed.body["api_keys"].size() == 1);
  CHECK_FALSE(listed.body["api_keys"][0].contains("full_key"));
  CHECK(f.send_with("Bearer " + full_key, kContacts).status == 200);
  // A member key may read but not delete.
  auto as_key = f.send_with("Bearer " + full_key, "/api/workspaces/2/api-keys");
  CHECK(as_key.status == 403);
  CHECK(error_of(as_key) == "Only owners and admins can manage API keys");
  const std::string path = "/api/workspaces/2/api-keys/" + std::to_string(key["id"].get<int64_t>());
  CHECK(f.send(http::verb::delete_, path, 1).status == 200);
  CHECK(f.send_with("Bearer " + full_key, kContacts).status == 401);
  CHECK(f.get("/api/workspaces/2/api-keys").body["api_keys"][0]["is_active"] == false);
  auto missing = f.send(http::verb::delete_, "/api/workspaces/2/api-keys/777", 1);
  CHECK(missing.status == 404);
  CHECK(error_of(missing) == "API key not found");
}

TEST_CASE("api: API key bodies: name required and bounded, role valid and at most the creator's") {
  ApiFixture f;
  auto post = [&](const std::string& body, int64_t user = 2) {
    return f.send(http::verb::post, "/api/workspaces/2/api-keys", user, body);
  };
  CHECK(error_of(post("[]")) == "Body must be a JSON object");
  CHECK(error_of(post("{")) == "Body must be a JSON object");
  CHECK(error_of(post(R"({"name":"  "})")) == "name is required");
  CHECK(error_of(post(R"({"name":")" + std::string(101, 'x') + "\"}")) ==
        "name must be at most 100 characters");
  CHECK(error_of(post(R"({"name":"k","role":"root"})")) ==
        "role must be one of owner, admin, member");
  auto higher = post(R"({"name":"k","role":"owner"})");
  CHECK(higher.status == 403);
  CHECK(error_of(higher) == "Cannot create a key with a higher role than your own");
  CHECK(post(R"({"name":"k"})").body["api_key"]["role"] == "member");  // the default
  CHECK(post(R"({"name":"k"})", 3).status == 403);                     // members manage no keys
}

const std::string kKeys = "/api/workspaces/2/api-keys";

// A key made through the API by `user`: its id and full key.
std::pair<int64_t, std::string> make_key(ApiFixture& f, int64_t user, const std::string& role) {
  auto created = f.send(http::verb::post, kKeys, user, R"({"name":"k","role":")" + role + "\"}");
  REQUIRE(created.status == 201);
  return {created.body["api_key"]["id"].get<int64_t>(),
          created.body["api_key"]["full_key"].get<std::string>()};
}

TEST_CASE(
    "api: an admin's keys stop working when the admin is removed, and keys their keys made too") {
  ApiFixture f;
  auto [admin_key_id, admin_key] = make_key(f, 2, "admin");
  auto made = f.send_with("Bearer " + admin_key, kKeys, http::verb::post,
                          R"({"name":"by-key","role":"member"})");
  REQUIRE(made.status == 201);
  const std::string made_key = made.body["api_key"]["full_key"];
  auto [owner_key_id, owner_key] = make_key(f, 1, "admin");  // the owner's: unaffected
  f.append({ApiFixture::member_remove(2, 2)});
  for (const auto& key : {admin_key, made_key}) {
    auto gone = f.send_with("Bearer " + key, kContacts);
    CHECK(gone.status == 401);
    CHECK(error_of(gone) == "Invalid token");
  }
  CHECK(f.send_with("Bearer " + owner_key, kContacts).status == 200);
  auto rows = f.get(kKeys).body["api_keys"];
  CHECK(rows.size() == 3);
  for (const auto& row : rows) CHECK(row["is_active"] == (row["id"] == owner_key_id));
  CHECK(f.send(http::verb::delete_, kKeys + "/" + std::to_string(admin_key_id), 1).status == 200);
}

TEST_CASE(
    "api: a demoted admin's key acts as a member; promoting the admin again does not raise it") {
  ApiFixture f;
  auto [id, key] = make_key(f, 2, "admin");
  auto demoted = ApiFixture::member(2, 2, "member");
  demoted["command_id"] = "demote";  // the fixture's "m2-2" made user 2 an admin
  f.append({demoted});
  auto manage = f.send_with("Bearer " + key, kKeys);
  CHECK(manage.status == 403);
  CHECK(error_of(manage) == "Only owners and admins can manage API keys");
  f.append({ApiFixture::visit("v", 100, "Alice", "alice@x.org")});
  const auto contact = f.get(kContacts).body["contacts"][0]["id"].get<int64_t>();
  auto remove =
      f.send_with("Bearer " + key, kContacts + "/" + std::to_string(contact), http::verb::delete_);
  CHECK(remove.status == 403);
  CHECK(error_of(remove) == "Only owners and admins can delete contacts");
  auto promoted = ApiFixture::member(2, 2, "admin");
  promoted["command_id"] = "promote";
  f.append({promoted});
  CHECK(f.send_with("Bearer " + key, kKeys).status == 403);
  CHECK(f.get(kKeys).body["api_keys"][0]["role"] == "member");
  CHECK(f.get(kKeys).body["api_keys"][0]["id"] == id);
}

TEST_CASE("api: only owners revoke owner keys; admins and admin keys get 403") {
  ApiFixture f;
  auto [owner_key_id, owner_key] = make_key(f, 1, "owner");
  auto [admin_key_id, admin_key] = make_key(f, 2, "admin");
  const std::string path = kKeys + "/" + std::to_string(owner_key_id);
  auto by_admin = f.send(http::verb::delete_, path, 2);
  CHECK(by_admin.status == 403);
  CHECK(by_admin.body == json{{"error", "Only owners can revoke owner keys"}});
  auto by_admin_key = f.send_with("Bearer " + admin_key, path, http::verb::delete_);
  CHECK(by_admin_key.status == 403);
  CHECK(error_of(by_admin_key) == "Only owners can revoke owner keys");
  CHECK(f.send_with("Bearer " + owner_key, kContacts).status == 200);
  // An admin still revokes an admin key; an owner key revokes an owner key.
  CHECK(f.send(http::verb::delete_, kKeys + "/" + std::to_string(admin_key_id), 2).status == 200);
  CHECK(f.send_with("Bearer " + owner_key, path, http::verb::delete_).status == 200);
  CHECK(f.send_with("Bearer " + owner_key, kContacts).status == 401);
}

TEST_CASE(
    "api: webhooks: created with the secret once, listed without it, deleted; owner/admin only") {
  ApiFixture f;
  auto created = f.send(
      http::verb::post, "/api/workspaces/2/webhooks", 1,
      R"({"name":"CRM","url":"HTTP://127.0.0.1:9/in","events":["contact.deleted","contact.created"]})");
  REQUIRE(created.status == 201);
  const json& hook = created.body["webhook"];
  CHECK(hook["url"] == "http://127.0.0.1:9/in");
  CHECK(hook["events"] == json{"contact.created", "contact.deleted"});
  CHECK(hook["is_active"] == true);
  CHECK(hook["secret"].get<std::string>().rfind("whsec_", 0) == 0);
  auto listed = f.get("/api/workspaces/2/webhooks");
  REQUIRE(listed.body["webhooks"].size() == 1);
  CHECK_FALSE(listed.body["webhooks"][0].contains("secret"));
  auto member = f.get("/api/workspaces/2/webhooks", 3);
  CHECK(member.status == 403);
  CHECK(error_of(member) == "Only owners and admins can manage webhooks");
  const std::string path =
      "/api/workspaces/2/webhooks/" + std::to_string(hook["id"].get<int64_t>());
  auto deliveries = f.get(path + "/deliveries");
  CHECK(deliveries.status == 404);
  CHECK(error_of(deliveries) == "Deliveries are kept by the webhooks process");
  CHECK(f.send(http::verb::delete_, path, 1).status == 200);
  CHECK(f.get("/api/workspaces/2/webhooks").body["webhooks"].empty());
  auto missing = f.send(http::verb::delete_, path, 1);
  CHECK(missing.status == 404);
  CHECK(error_of(missing) == "Webhook not found");
}

TEST_CASE("api: webhook bodies: name, events and url are checked") {
  ApiFixture f;
  auto post = [&](const std::string& body) {
    return f.send(http::verb::post, "/api/workspaces/2/webhooks", 1, body);
  };
  CHECK(error_of(post(R"({"url":"http://127.0.0.1:9/","events":["contact.created"]})")) ==
        "name is required");
  CHECK(error_of(post(R"({"name":"h","url":"http://127.0.0.1:9/","events":[]})")) ==
        "events must be a non-empty list of contact.created, contact.updated, contact.deleted");
  CHECK(error_of(post(R"({"name":"h","url":"http://127.0.0.1:9/","events":["contact.merged"]})")) ==
        "events contains an unknown event name; known: contact.created, contact.updated, "
        "contact.deleted");
  CHECK(error_of(post(R"({"name":"h","events":["contact.created"]})")) == "url is required");
  CHECK(post(R"({"name":"h","url":"ftp://127.0.0.1/","events":["contact.created"]})").status ==
        400);
}

TEST_CASE("api: an unknown webhook event name is refused without echoing the client's text") {
  ApiFixture f;
  auto refused = f.send(http::verb::post, "/api/workspaces/2/webhooks", 1,
                        R"({"name":"h","url":"http://127.0.0.1:9/",)"
                        R"("events":["contact.created","<script>alert(1)</script>"]})");
  CHECK(refused.status == 400);
  std::string error = error_of(refused);
  CHECK(error.find("unknown event name") != std::string::npos);
  CHECK(error.find("script") == std::string::npos);
  CHECK(error.find("alert") == std::string::npos);
}

TEST_CASE(
    "api: the audit log lists deletes, key and webhook changes, newest first, for owners and "
    "admins") {
  ApiFixture f;
  int64_t id = f.append({ApiFixture::visit("a", 100, "Alice", "a@x.org")});
  REQUIRE(f.send(http::verb::delete_, kContacts + "/" + std::to_string(id), 1).status == 200);
  REQUIRE(f.send(http::verb::post, "/api/workspaces/2/api-keys", 1, R"({"name":"ci"})").status ==
          201);
  auto a = f.get("/api/workspaces/2/audit-log");
  REQUIRE(a.status == 200);
  CHECK(a.body["total"] == 2);
  REQUIRE(a.body["entries"].size() == 2);
  CHECK(a.body["entries"][0]["action"] == "api_key.create");
  CHECK(a.body["entries"][1]["action"] == "contact.delete");
  CHECK(a.body["entries"][1]["actor"] == json{{"user_id", 1}});
  CHECK(a.body["entries"][1]["target_id"] == id);
  auto member = f.get("/api/workspaces/2/audit-log", 3);
  CHECK(member.status == 403);
  CHECK(error_of(member) == "Only owners and admins can view the audit log");
}

TEST_CASE(
    "api: healthz, readyz (503 while catching up), metrics and the OpenAPI document need no "
    "credentials") {
  ApiFixture f;
  CHECK(f.get("/healthz", 0).status == 200);
  CHECK(f.get("/readyz", 0).status == 200);
  f.ready = false;
  auto catching_up = f.get("/readyz", 0);
  CHECK(catching_up.status == 503);
  CHECK(catching_up.body["status"] == "catching up");
  auto metrics = f.get("/metrics", 0);
  CHECK(metrics.status == 200);
  CHECK(metrics.body == "contacts_up 1\n");
  auto document = f.get("/openapi.yaml", 0);
  CHECK(document.status == 200);
  CHECK(document.body == std::string(openapi_document()));
  CHECK(f.send(http::verb::post, "/openapi.yaml", 0).status == 405);
}

}  // namespace
}  // namespace contacts

namespace contacts {
namespace {

TEST_CASE("api: a body without valid credentials is refused from the head, on every path") {
  ApiFixture f;
  CHECK(f.header_refusal("") == 401u);
  CHECK(f.header_refusal("Bearer nonsense") == 401u);
  CHECK(f.header_refusal("Bearer eyJhbGciOjF9.e30.AAAA") == 401u);
  CHECK(f.header_refusal("Bearer lnx_unknown") == 401u);
  for (const char* path : {"/healthz", "/metrics", "/nowhere", "/api/workspaces/0002/contacts"})
    CHECK(f.header_refusal("", path) == 401u);
  // Credentials that authenticate pass to the handler (which checks the role).
  CHECK_FALSE(f.header_refusal(f.jwt(1)));
  CHECK_FALSE(f.header_refusal(f.jwt(99)));
  // A request without a body buffers nothing: the handler answers it.
  HttpRequest no_body{http::verb::get, kContacts, 11};
  CHECK_FALSE(f.check(no_body));
}

TEST_CASE("api: the Bearer scheme is taken in any case") {
  ApiFixture f;
  CHECK(f.send_with("bearer " + mint_jwt(kSecret, 1, kNow + 3600), kContacts).status == 200);
  CHECK(f.send_with("BEARER " + mint_jwt(kSecret, 1, kNow + 3600), kContacts).status == 200);
}

TEST_CASE("api: a malformed JWT header is a 401 with the documented body, never a 500") {
  ApiFixture f;
  auto a = f.send_with("Bearer eyJhbGciOjF9.e30.AAAA", kContacts);
  CHECK(a.status == 401);
  CHECK(error_of(a) == "Invalid token");
}

TEST_CASE("api: key and webhook names that show nothing or hold a NUL are a 400") {
  ApiFixture f;
  for (const char* name : {R"("\u200b\u200b")", R"("a\u0000b")", R"("\u2060")"}) {
    INFO(name);
    auto key = f.send(http::verb::post, "/api/workspaces/2/api-keys", 1,
                      std::string(R"({"name":)") + name + R"(,"role":"member"})");
    CHECK(key.status == 400);
    CHECK(error_of(key) == "name must show a character and hold no NUL");
    auto hook = f.send(http::verb::post, "/api/workspaces/2/webhooks", 1,
                       std::string(R"({"name":)") + name +
                           R"(,"url":"http://127.0.0.1:9/h","events":["contact.created"]})");
    CHECK(hook.status == 400);
    CHECK(error_of(hook) == "name must show a character and hold no NUL");
  }
  CHECK(f.send(http::verb::post, "/api/workspaces/2/api-keys", 1,
               R"({"name":"ci\tkey","role":"member"})")
            .status == 201);
}

TEST_CASE("api: an id with leading zeros names no workspace") {
  ApiFixture f;
  CHECK(f.get("/api/workspaces/0002/contacts").status == 404);
}

TEST_CASE("api_route names the route by method and path, never by the path itself") {
  auto route = [](http::verb method, const char* target) {
    return std::string(api_route(HttpRequest{method, target, 11}));
  };
  CHECK(route(http::verb::get, "/api/workspaces/2/contacts?search=ada") == "contacts.list");
  CHECK(route(http::verb::get, "/api/workspaces/2/contacts/77") == "contacts.get");
  CHECK(route(http::verb::delete_, "/api/workspaces/2/contacts/77") == "contacts.delete");
  CHECK(route(http::verb::get, "/api/workspaces/2/contacts/77/events") == "timeline");
  CHECK(route(http::verb::post, "/api/workspaces/2/webhooks") == "webhooks.create");
  CHECK(route(http::verb::delete_, "/api/workspaces/2/api-keys/5") == "api_keys.revoke");
  CHECK(route(http::verb::get, "/api/workspaces/2/webhooks/5/deliveries") == "webhooks.deliveries");
  CHECK(route(http::verb::patch, "/api/workspaces/2/webhooks/5") == "webhooks.update");
  CHECK(route(http::verb::post, "/api/workspaces/2/webhooks/5/deliveries/msg_9/redeliver") ==
        "webhooks.redeliver");
  CHECK(route(http::verb::get, "/metrics") == "probe");
  CHECK(route(http::verb::get, "//api/workspaces/2/contacts/") == "contacts.list");
  // What no route takes (a 404 or a 405) is other.
  CHECK(route(http::verb::put, "/api/workspaces/2/contacts/77") == "other");
  CHECK(route(http::verb::post, "/readyz") == "other");
  CHECK(route(http::verb::get, "/api/workspaces/2/nothing/77") == "other");
  CHECK(route(http::verb::get, "/api/workspaces/2/contacts/77/events/1/2/3/4/5/6") == "other");
  // Every name route_name gives is listed, so the probe keeps it apart.
  for (auto [method, target] : {std::pair{http::verb::post, "/api/workspaces/2/webhooks/5/test"},
                                {http::verb::post, "/api/workspaces/2/webhooks/5/rotate-secret"},
                                {http::verb::get, "/api/workspaces/2/contacts/1/export"},
                                {http::verb::get, "/api/workspaces/2/audit-log"}})
    CHECK(std::find(kApiRoutes.begin(), kApiRoutes.end(), route(method, target)) !=
          kApiRoutes.end());
  for (auto name : kApiRoutes) CHECK(name.find('/') == std::string_view::npos);
}

}  // namespace
}  // namespace contacts
