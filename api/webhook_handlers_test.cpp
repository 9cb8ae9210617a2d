// The webhook subscription routes in-process (api/webhook_handlers.cpp): created, listed, deleted
// and their bodies checked, over real views folded from an in-memory log. The operations on one
// subscription: webhook_operations_test.cpp.
#include <doctest/doctest.h>

#include "api/handlers.h"
#include "api/test_node.h"

namespace contacts {
namespace {

using api_test::ApiFixture;
using api_test::error_of;
using api_test::json;

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

}  // namespace
}  // namespace contacts
