// Entity tags from a body's bytes, the If-None-Match list and its weak comparison, and the 304
// a matching request gets (RFC 9110 sections 8.8.3, 13.1.2 and 15.4.5).
#include "http/etag.h"

#include <doctest/doctest.h>

#include <string>

namespace contacts {
namespace {

HttpRequest get_with(std::initializer_list<std::string_view> if_none_match,
                     http::verb method = http::verb::get) {
  HttpRequest request{method, "/api/workspaces/2/contacts", 11};
  for (std::string_view field : if_none_match) request.insert(http::field::if_none_match, field);
  return request;
}

HttpResponse page(unsigned status = 200, std::string body = R"({"contacts":[]})") {
  HttpResponse response = json_response(status, std::move(body));
  response.set(http::field::cache_control, "private, no-cache");
  response.set(http::field::vary, "Authorization");
  return response;
}

TEST_CASE("etag: a strong tag of 16 lower-case hex digits of the body's XXH3-64 hash") {
  CHECK(entity_tag("") == "\"2d06800538d394c2\"");  // XXH3_64bits of no bytes
  const std::string tag = entity_tag(R"({"contacts":[]})");
  REQUIRE(tag.size() == 18);
  CHECK(tag.front() == '"');
  CHECK(tag.back() == '"');
  CHECK(tag.substr(1, 16).find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("etag: equal bytes give equal tags, one changed byte another tag") {
  CHECK(entity_tag(R"({"total":1})") == entity_tag(std::string(R"({"total":1})")));
  CHECK(entity_tag(R"({"total":1})") != entity_tag(R"({"total":2})"));
  CHECK(entity_tag(R"({"total":1})") != entity_tag(R"({"total":1} )"));
}

TEST_CASE("etag: If-None-Match matches the same tag, alone or in a list") {
  CHECK(none_match("\"abc\"", "\"abc\""));
  CHECK_FALSE(none_match("\"abd\"", "\"abc\""));
  CHECK(none_match("\"x\", \"abc\"", "\"abc\""));
  CHECK(none_match("\"abc\",\"x\"", "\"abc\""));
  CHECK_FALSE(none_match("\"x\", \"y\"", "\"abc\""));
  CHECK_FALSE(none_match("\"ABC\"", "\"abc\""));  // opaque tags compare byte for byte
  CHECK_FALSE(none_match("\"\"", "\"abc\""));
  CHECK(none_match("\"\"", "\"\""));
}

TEST_CASE("etag: the comparison is weak: W/\"x\" matches \"x\"") {
  CHECK(none_match("W/\"abc\"", "\"abc\""));
  CHECK(none_match("\"x\", W/\"abc\"", "\"abc\""));
  CHECK(none_match("\"abc\"", "W/\"abc\""));
  CHECK_FALSE(none_match("W/\"abd\"", "\"abc\""));
}

TEST_CASE("etag: * matches any tag, alone only") {
  CHECK(none_match("*", "\"abc\""));
  CHECK(none_match("  *\t", "\"abc\""));
  CHECK_FALSE(none_match("*, \"abc\"", "\"abc\""));
  CHECK_FALSE(none_match("\"abc\", *", "\"abc\""));
}

TEST_CASE("etag: spaces, tabs and empty list elements around tags are allowed") {
  CHECK(none_match("  \"abc\"  ", "\"abc\""));
  CHECK(none_match("\t\"x\"\t,\t\"abc\"", "\"abc\""));
  CHECK(none_match(", ,\"x\" , , \"abc\",", "\"abc\""));
  CHECK_FALSE(none_match("", "\"abc\""));
  CHECK_FALSE(none_match(" , ", "\"abc\""));
}

TEST_CASE("etag: a malformed value matches nothing, even beside a matching tag") {
  for (std::string_view bad :
       {"abc", "\"abc", "abc\"", "w/\"abc\"", "W/abc", "W/ \"abc\"", "\"abc\"x", "\"abc\" \"x\"",
        "\"abc\";q=1", "\"ab c\"", "\"abc\", x", "x, \"abc\"", "\"abc\", \"x", "**"}) {
    CHECK_MESSAGE(!none_match(bad, "\"abc\""), bad);
  }
  CHECK_FALSE(none_match("\"a\x7f\"", "\"a\x7f\""));        // DEL is no etagc
  CHECK(none_match("\"caf\xc3\xa9\"", "\"caf\xc3\xa9\""));  // obs-text is
}

TEST_CASE("etag: a 200 to a GET gets its tag; without If-None-Match it is otherwise unchanged") {
  HttpResponse response = conditional(get_with({}), page());
  CHECK(response.result_int() == 200);
  CHECK(response[http::field::etag] == entity_tag(R"({"contacts":[]})"));
  CHECK(response.body() == R"({"contacts":[]})");
  CHECK(conditional(get_with({"\"other\""}), page()).result_int() == 200);
  CHECK(conditional(get_with({"\"other\""}), page())[http::field::etag] ==
        entity_tag(R"({"contacts":[]})"));
}

TEST_CASE("etag: a matching If-None-Match makes a 304 with the tag and cache fields, no body") {
  const std::string tag = entity_tag(R"({"contacts":[]})");
  for (const std::string& field : {tag, "W/" + tag, "\"x\", " + tag, std::string("*")}) {
    CAPTURE(field);
    HttpResponse response = conditional(get_with({field}), page());
    CHECK(response.result_int() == 304);
    CHECK(response.body().empty());
    CHECK(response[http::field::etag] == tag);
    CHECK(response[http::field::cache_control] == "private, no-cache");
    CHECK(response[http::field::vary] == "Authorization");
    CHECK(response.count(http::field::content_type) == 0);
    CHECK(response.count(http::field::content_length) == 0);  // not the 200's length: none
  }
  // Several If-None-Match fields are one list.
  CHECK(conditional(get_with({"\"x\"", tag}), page()).result_int() == 304);
  CHECK(conditional(get_with({"\"x\"", "nonsense", tag}), page()).result_int() == 200);
}

TEST_CASE("etag: HEAD is conditional as GET is; other methods and statuses get no tag") {
  CHECK(conditional(get_with({"*"}, http::verb::head), page()).result_int() == 304);
  HttpResponse deleted = conditional(get_with({"*"}, http::verb::delete_), page());
  CHECK(deleted.result_int() == 200);
  CHECK(deleted.count(http::field::etag) == 0);
  for (unsigned status : {201u, 401u, 403u, 404u, 500u}) {
    HttpResponse response = conditional(get_with({"*"}), page(status, R"({"error":"x"})"));
    CHECK(response.result_int() == status);
    CHECK(response.count(http::field::etag) == 0);
    CHECK(response.body() == R"({"error":"x"})");
  }
}

}  // namespace
}  // namespace contacts
