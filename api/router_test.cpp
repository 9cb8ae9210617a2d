// Request-line parsing: ids, paging, path segments and query parameters.
#include "api/router.h"

#include <doctest/doctest.h>

#include <string>

namespace contacts {
namespace {

Paging paging(std::map<std::string, std::string> query) { return parse_paging(query); }

TEST_CASE("parse_paging defaults to page 1 and limit 50") {
  Paging p = paging({});
  CHECK(p.page == 1);
  CHECK(p.limit == kDefaultPageLimit);
  CHECK(kDefaultPageLimit == 50);
  p = paging({{"page", "3"}, {"limit", "20"}});
  CHECK(p.page == 3);
  CHECK(p.limit == 20);
}

TEST_CASE("parse_paging treats a non-numeric page or limit as missing") {
  for (const char* bad : {"", "abc", "1e3", "2.5", "+", "-", " 3", "3 ", "0x10"}) {
    INFO(bad);
    Paging p = paging({{"page", bad}, {"limit", bad}});
    CHECK(p.page == 1);
    CHECK(p.limit == 50);
  }
}

TEST_CASE("parse_paging clamps page to at least 1 and limit to 1..100") {
  CHECK(paging({{"page", "0"}}).page == 1);
  CHECK(paging({{"page", "-4"}}).page == 1);
  CHECK(paging({{"page", "+2"}}).page == 2);
  CHECK(paging({{"page", "99999999999999999999999"}}).page == kMaxPage);
  CHECK(paging({{"limit", "0"}}).limit == 1);
  CHECK(paging({{"limit", "-1"}}).limit == 1);
  CHECK(paging({{"limit", "1"}}).limit == 1);
  CHECK(paging({{"limit", "100"}}).limit == 100);
  CHECK(paging({{"limit", "101"}}).limit == kMaxPageLimit);
  CHECK(paging({{"limit", "99999999999999999999999"}}).limit == 100);
  CHECK(paging({{"limit", std::string(31, '9')}}).limit == 50);  // too long to be a number at all
}

TEST_CASE("parse_id accepts decimal ids from 1 to 2^53 - 1") {
  CHECK(parse_id("1") == 1);
  CHECK(parse_id("42") == 42);
  CHECK(parse_id("9007199254740991") == 9007199254740991);
}

TEST_CASE("parse_id rejects non-digits, zero, leading zeros, signs, exponents and 2^53") {
  for (const char* bad :
       {"", "abc", "0", "00", "0002", "01", "1e3", "-1", "+1", " 1", "1 ", "1.0", "0x1", "١",
        "9007199254740992", "99999999999999999", "18446744073709551617"}) {
    INFO(bad);
    CHECK_FALSE(parse_id(bad).has_value());
  }
}

TEST_CASE("parse_target splits the path into decoded segments") {
  Target t = parse_target("/workspaces/2/contacts/15");
  CHECK(t.segments == std::vector<std::string>{"workspaces", "2", "contacts", "15"});
  CHECK(t.query.empty());
  CHECK(parse_target("//a///b/").segments == std::vector<std::string>{"a", "b"});
  CHECK(parse_target("/").segments.empty());
  // %2F decodes inside a segment without splitting it; '+' in a path stays a '+'.
  CHECK(parse_target("/a%20b/c%2Fd/e+f").segments == std::vector<std::string>{"a b", "c/d", "e+f"});
}

TEST_CASE("parse_target decodes %20 and + as spaces in query values and keys") {
  Target t = parse_target("/contacts?search=alice%20martin&q=a+b&page=2&x%20y=1");
  CHECK(t.query.at("search") == "alice martin");
  CHECK(t.query.at("q") == "a b");
  CHECK(t.query.at("page") == "2");
  CHECK(t.query.at("x y") == "1");
  CHECK(parse_target("/c?search=%C3%89lodie").query.at("search") == "\xC3\x89lodie");
  CHECK(parse_target("/c?plus=%2B").query.at("plus") == "+");
}

TEST_CASE("parse_target keeps the first of repeated parameters and tolerates odd queries") {
  Target t = parse_target("/c?page=1&page=2&flag&empty=&=v&&");
  CHECK(t.query.at("page") == "1");
  CHECK(t.query.at("flag") == "");
  CHECK(t.query.at("empty") == "");
  CHECK(t.query.at("") == "v");
  CHECK(parse_target("/c?").query.empty());
}

TEST_CASE("percent_decode leaves malformed escapes as they are") {
  CHECK(percent_decode("100%", false) == "100%");
  CHECK(percent_decode("%4", false) == "%4");
  CHECK(percent_decode("%zz", false) == "%zz");
  CHECK(percent_decode("%41%62", false) == "Ab");
  CHECK(percent_decode("a%2", true) == "a%2");
  CHECK(percent_decode("%20", false) == " ");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK(percent_decode("a+b", true) == "a b");
}

TEST_CASE("percent_encode escapes everything but unreserved characters and round trips") {
  CHECK(percent_encode("a-b_c.d~e") == "a-b_c.d~e");
  CHECK(percent_encode("a b+c/d") == "a%20b%2Bc%2Fd");
  CHECK(percent_encode("\xC3\xA9") == "%C3%A9");
  const std::string text = "Élodie & co / 100% + more?";
  CHECK(percent_decode(percent_encode(text), true) == text);
}

}  // namespace
}  // namespace contacts
