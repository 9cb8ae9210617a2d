// handle_api_request in-process: what every route shares (authentication, membership, 404s and
// 405s, the checks of a request's head), the operations endpoints and the route labels of the
// metrics (shared/seed/contacts-api.md), over real views folded from an in-memory log. Each
// route's own answers: contact_handlers_test.cpp, key_handlers_test.cpp,
// webhook_handlers_test.cpp.
#include "api/handlers.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "api/test_node.h"
#include "http/openapi.h"

namespace contacts {
namespace {

using api_test::ApiFixture;
using api_test::error_of;
using api_test::kContacts;
using api_test::kNow;
using api_test::kSecret;

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
