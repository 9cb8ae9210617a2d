#include "http/access_log.h"

#include <doctest/doctest.h>

#include <set>

namespace contacts {
namespace {

TEST_CASE("the logged target keeps the path and only the names of query parameters") {
  CHECK(loggable_target("/healthz") == "/healthz");
  CHECK(loggable_target("/api/workspaces/1/contacts?search=ada%40example.com&page=2&limit") ==
        "/api/workspaces/1/contacts?search&page&limit");
  CHECK(loggable_target("/x?&=secret&a=1") == "/x?a");
  CHECK(loggable_target("/x?") == "/x");
  std::string long_path = "/" + std::string(2000, 'a') + "?q=1";
  CHECK(loggable_target(long_path).size() == kMaxLoggedTarget);
  CHECK(loggable_target("/x?" + std::string(2000, 'n') + "=v").size() == kMaxLoggedTarget);
}

TEST_CASE("a proxy's request id is taken only when short and printable") {
  CHECK(acceptable_request_id("abc-123_X.y:z"));
  CHECK(acceptable_request_id(std::string(kMaxRequestIdLength, 'a')));
  CHECK_FALSE(acceptable_request_id(""));
  CHECK_FALSE(acceptable_request_id(std::string(kMaxRequestIdLength + 1, 'a')));
  CHECK_FALSE(acceptable_request_id("has space"));
  CHECK_FALSE(acceptable_request_id("new\nline"));
  CHECK_FALSE(acceptable_request_id("quote\""));
  CHECK_FALSE(acceptable_request_id("caf\xc3\xa9"));
}

TEST_CASE("a request gets its acceptable X-Request-Id, else a new random one") {
  boost::beast::http::request_header<> header;
  header.set("X-Request-Id", "from-the-proxy.1");
  CHECK(request_id_of(header) == "from-the-proxy.1");
  header.set("X-Request-Id", "bad id");
  auto replaced = request_id_of(header);
  CHECK(replaced.size() == 16);
  CHECK(replaced.find_first_not_of("0123456789abcdef") == std::string::npos);
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.insert(request_id_of({}));
  CHECK(ids.size() == 100);
}

}  // namespace
}  // namespace contacts
