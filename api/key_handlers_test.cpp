// The API key routes and the audit log in-process (api/key_handlers.cpp): keys created, listed,
// revoked and bounded by their creator's role, over real views folded from an in-memory log.
#include <doctest/doctest.h>

#include "api/handlers.h"
#include "api/test_node.h"

namespace contacts {
namespace {

using api_test::ApiFixture;
using api_test::error_of;
using api_test::json;
using api_test::kContacts;
using api_test::kNow;

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

}  // namespace
}  // namespace contacts
