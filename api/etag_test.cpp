// Conditional GETs through handle_api_request: a list page, a contact and a timeline carry an
// ETag of their bytes and answer 304 to it until a command changes them; errors and the other
// routes carry none. The tag and If-None-Match themselves: http/etag_test.cpp.
#include "http/etag.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "api/handlers.h"
#include "api/test_node.h"

namespace contacts {
namespace {

using api_test::json;
using api_test::kContacts;

// User 1 owns workspace 2, user 4 workspace 5.
class EtagFixture : public api_test::TestNode {
 public:
  EtagFixture() : TestNode("etag_test") { append({member(2, 1, "owner"), member(5, 4, "owner")}); }

  // The answer to `method target` by `user` (no credentials when 0) with If-None-Match fields.
  HttpResponse send(const std::string& target,
                    std::initializer_list<std::string> if_none_match = {}, int64_t user = 1,
                    http::verb method = http::verb::get) {
    HttpRequest request = TestNode::request(method, target, user);
    for (const auto& field : if_none_match) request.insert(http::field::if_none_match, field);
    return handle_api_request(ctx(), request);
  }
};

std::string tag_of(const HttpResponse& response) {
  return std::string(response[http::field::etag]);
}

TEST_CASE(
    "api etag: list, contact and timeline 200s carry the tag of their bytes, not cached "
    "by others") {
  EtagFixture f;
  const int64_t id = f.append({EtagFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string one = kContacts + "/" + std::to_string(id);
  for (const std::string& target : {kContacts, kContacts + "?search=ali&page=1&limit=10", one,
                                    one + "/events", one + "/events?page=2&limit=1"}) {
    CAPTURE(target);
    HttpResponse response = f.send(target);
    REQUIRE(response.result_int() == 200);
    CHECK(tag_of(response) == entity_tag(response.body()));
    CHECK(response[http::field::cache_control] == "private, no-cache");
    CHECK(response[http::field::vary] == "Authorization");
    CHECK(tag_of(f.send(target)) == tag_of(response));  // nothing changed: the same tag
  }
  CHECK(tag_of(f.send(kContacts)) != tag_of(f.send(kContacts + "?limit=10")));
}

TEST_CASE("api etag: 304 while unchanged; a command that changes the page gives a new tag") {
  EtagFixture f;
  const int64_t id = f.append({EtagFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string one = kContacts + "/" + std::to_string(id);
  for (const std::string& target : {kContacts, one, one + "/events"}) {
    CAPTURE(target);
    const std::string before = tag_of(f.send(target));
    HttpResponse not_modified = f.send(target, {before});
    CHECK(not_modified.result_int() == 304);
    CHECK(not_modified.body().empty());
    CHECK(tag_of(not_modified) == before);
    CHECK(not_modified[http::field::cache_control] == "private, no-cache");
    CHECK(f.send(target, {"W/" + before}).result_int() == 304);
    CHECK(f.send(target, {"\"0000000000000000\", " + before}).result_int() == 304);
  }
  // Alice is seen again, later and by a new name: her row, her contact and her timeline change.
  const std::vector<std::string> tags = {tag_of(f.send(kContacts)), tag_of(f.send(one)),
                                         tag_of(f.send(one + "/events"))};
  f.append({EtagFixture::visit("b", 200, "Alice Martin", "a@x.org")});
  const std::vector<std::string> targets = {kContacts, one, one + "/events"};
  for (size_t i = 0; i < targets.size(); ++i) {
    CAPTURE(targets[i]);
    HttpResponse changed = f.send(targets[i], {tags[i]});
    CHECK(changed.result_int() == 200);
    CHECK(tag_of(changed) != tags[i]);
    CHECK(f.send(targets[i], {tag_of(changed)}).result_int() == 304);
  }
}

TEST_CASE("api etag: a command into another workspace leaves the tags as they were") {
  EtagFixture f;
  const int64_t id = f.append({EtagFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string one = kContacts + "/" + std::to_string(id);
  const std::string list = tag_of(f.send(kContacts)), contact = tag_of(f.send(one)),
                    timeline = tag_of(f.send(one + "/events"));
  f.append({EtagFixture::visit("b", 200, "Alice", "a@x.org", 5)});
  CHECK(f.send(kContacts, {list}).result_int() == 304);
  CHECK(f.send(one, {contact}).result_int() == 304);
  CHECK(f.send(one + "/events", {timeline}).result_int() == 304);
}

TEST_CASE("api etag: errors, deletes and the other routes carry no tag and are never a 304") {
  EtagFixture f;
  const int64_t id = f.append({EtagFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string one = kContacts + "/" + std::to_string(id);
  auto untagged = [](const HttpResponse& response, unsigned status) {
    CHECK(response.result_int() == status);
    CHECK(response.count(http::field::etag) == 0);
    CHECK(response.count(http::field::cache_control) == 0);
  };
  untagged(f.send(kContacts + "/424242", {"*"}), 404);
  untagged(f.send(kContacts + "/424242/events", {"*"}), 404);
  untagged(f.send(kContacts + "?search=%FF", {"*"}), 400);
  untagged(f.send(kContacts, {"*"}, 0), 401);
  untagged(f.send(kContacts, {"*"}, 4), 403);
  untagged(f.send("/api/workspaces/2/audit-log", {"*"}), 200);
  untagged(f.send(one + "/export", {"*"}), 200);
  untagged(f.send(one, {"*"}, 1, http::verb::delete_), 200);
}

TEST_CASE("kept reads: a repeated read is answered from memory, with the same bytes and tag") {
  EtagFixture f;
  const int64_t id = f.append({EtagFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string one = kContacts + "/" + std::to_string(id);
  for (const std::string& target : {kContacts + "?search=ali", one, one + "/events"}) {
    CAPTURE(target);
    HttpResponse first = f.send(target);
    const uint64_t hits = f.views().rendered_reads().stats().hits;
    HttpResponse again = f.send(target);
    CHECK(f.views().rendered_reads().stats().hits == hits + 1);
    CHECK(again.body() == first.body());
    CHECK(tag_of(again) == tag_of(first));
    CHECK(again[http::field::content_type] == first[http::field::content_type]);
    CHECK(f.send(target, {tag_of(first)}).result_int() == 304);
  }
}

TEST_CASE("kept reads: a deleted contact is gone from its kept contact, timeline and list") {
  EtagFixture f;
  const int64_t id = f.append({EtagFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string one = kContacts + "/" + std::to_string(id);
  for (const std::string& target : {kContacts, kContacts + "?search=ali", one})
    REQUIRE(f.send(target).body().find("Alice") != std::string::npos);
  REQUIRE(f.send(one + "/events").result_int() == 200);
  REQUIRE(f.send(one, {}, 1, http::verb::delete_).result_int() == 200);
  CHECK(f.views().rendered_reads().stats().responses == 0);  // nothing of her stays in memory
  CHECK(f.send(one).result_int() == 404);
  CHECK(f.send(one + "/events").result_int() == 404);
  for (const std::string& target : {kContacts, kContacts + "?search=ali"}) {
    HttpResponse list = f.send(target);
    CHECK(list.body().find("Alice") == std::string::npos);
    CHECK(json::parse(list.body())["total"] == 0);
  }
}

TEST_CASE("kept reads: a deleted room shows as a null room_id in a kept timeline") {
  EtagFixture f;
  const int64_t id = f.append({EtagFixture::visit("a", 100, "Alice", "a@x.org")});
  const std::string events = kContacts + "/" + std::to_string(id) + "/events";
  CHECK(json::parse(f.send(events).body())["events"][0]["room_id"] == 5);
  f.append({{{"type", "room_delete"},
             {"command_id", "r5"},
             {"workspace_id", 2},
             {"occurred_at", 200},
             {"room_id", 5}}});
  CHECK(json::parse(f.send(events).body())["events"][0]["room_id"].is_null());
}

}  // namespace
}  // namespace contacts
