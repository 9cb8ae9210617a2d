// TestNode: a node in an API test: an in-memory log, views (and, if asked, a delivery store) in a
// temporary directory, a projector caught up after every append, and the ApiContext over them.
// Test-only, for api/*_test.cpp; one node a test case, used from the test's thread.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/handlers.h"
#include "bus/memory_log.h"
#include "core/clock.h"
#include "core/command_codec.h"
#include "projector/projector.h"
#include "tests/temp_dir.h"
#include "webhooks/delivery_store.h"

namespace contacts::api_test {

using nlohmann::json;

inline constexpr std::string_view kSecret = "api-test-secret";  // signs the tests' JWTs
inline constexpr int64_t kNow = 1'750'000'000;                  // the node's clock
inline constexpr int32_t kPartitions = 4;
inline const std::string kContacts = "/api/workspaces/2/contacts";

// Usage:
//   TestNode node("my_test");
//   node.append({TestNode::member(2, 1, "owner"), TestNode::visit("a", 100, "Alice", "a@x.org")});
//   HttpResponse page = handle_api_request(node.ctx(), node.request(http::verb::get, kContacts));
class TestNode : public CommandSubmitter {
 public:
  // `name` names the temporary directory; `with_deliveries`: the node keeps a DeliveryStore.
  explicit TestNode(const std::string& name, bool with_deliveries = false)
      : dir_(name), log_(kPartitions) {
    auto opened = ViewStore::open(dir_.path() + "/views", ViewStoreOptions{8 << 20, 4 << 20});
    REQUIRE(opened.ok());
    views_ = std::move(*opened);
    live_ = std::make_unique<LiveViews>(views_);
    if (with_deliveries) {
      auto store = DeliveryStore::open(dir_.path() + "/webhooks");
      REQUIRE(store.ok());
      store_ = std::move(*store);
    }
    projector_ = std::make_unique<Projector>(log_, *views_, 1024, 1);
    auth_ = std::make_unique<Authenticator>(std::string(kSecret), clock_);
    ctx_ = std::make_unique<ApiContext>(ApiContext{
        *live_, *auth_, *this, clock_, [this] { return ready; },
        [] { return std::string("contacts_up 1\n"); }, store_.get(), true, nullptr, nullptr});
  }

  // Appends the command and folds it; the id of its position.
  Result<int64_t> submit(Command command) override {
    auto positions =
        log_.append({{std::to_string(command.workspace_id.value), encode_command(command)}});
    if (!positions.ok()) return positions.status();
    REQUIRE(projector_->catch_up().ok());
    return id_from_position(positions->front().partition, positions->front().offset, kPartitions);
  }

  // Appends commands (JSON) and folds them; the id of the last.
  int64_t append(const std::vector<json>& commands) {
    std::vector<LogRecord> records;
    for (const auto& c : commands)
      records.push_back({std::to_string(c["workspace_id"].get<int64_t>()), c.dump()});
    auto positions = log_.append(records);
    REQUIRE(positions.ok());
    REQUIRE(projector_->catch_up().ok());
    return id_from_position(positions->back().partition, positions->back().offset, kPartitions);
  }

  static json member(int64_t ws, int64_t user, const std::string& role) {
    return {{"type", "member_upsert"},
            {"command_id", "m" + std::to_string(ws) + "-" + std::to_string(user)},
            {"workspace_id", ws},
            {"occurred_at", 1'700'000'000},
            {"user_id", user},
            {"role", role}};
  }
  static json member_remove(int64_t ws, int64_t user) {
    json c = member(ws, user, "member");
    c.erase("role");
    c["type"] = "member_remove";
    c["command_id"] = "r" + std::to_string(ws) + "-" + std::to_string(user);
    return c;
  }
  static json visit(const std::string& id, int64_t at, const std::string& name,
                    const std::string& email, int64_t ws = 2) {
    return {{"type", "room_join"},
            {"command_id", id},
            {"workspace_id", ws},
            {"occurred_at", at},
            {"participant", {{"name", name}, {"email", email}}},
            {"room", {{"id", 5}, {"name", "standup"}, {"display_name", "Standup"}}},
            {"metadata", {{"device", "web"}}}};
  }

  // The Authorization field of `user` (a JWT valid for an hour).
  static std::string jwt(int64_t user) { return "Bearer " + mint_jwt(kSecret, user, kNow + 3600); }
  // `method target` by `user` (no credentials when 0) with `body`.
  static HttpRequest request(http::verb method, const std::string& target, int64_t user = 1,
                             const std::string& body = "") {
    HttpRequest request{method, target, 11};
    if (user > 0) request.set(http::field::authorization, jwt(user));
    request.body() = body;
    return request;
  }

  const ApiContext& ctx() const { return *ctx_; }
  ViewStore& views() { return *views_; }
  const ViewStore& views() const { return *views_; }
  FixedClock& clock() { return clock_; }
  DeliveryStore* deliveries() { return store_.get(); }  // null unless with_deliveries

  bool ready = true;  // what ApiContext::ready answers

 private:
  TempDir dir_;  // declared first: outlives the stores
  MemoryLog log_;
  FixedClock clock_{kNow};
  std::shared_ptr<ViewStore> views_;
  std::unique_ptr<LiveViews> live_;
  std::unique_ptr<DeliveryStore> store_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<ApiContext> ctx_;
};

// A TestNode with two workspaces: user 1 owns workspace 2, 2 administers it and 3 is a member;
// user 4 owns workspace 5. Answers are parsed: `Answer::body` is the JSON, or the text as a string.
class ApiFixture : public TestNode {
 public:
  ApiFixture() : TestNode("handlers_test") {
    append({member(2, 1, "owner"), member(2, 2, "admin"), member(2, 3, "member"),
            member(5, 4, "owner")});
  }

  struct Answer {
    unsigned status = 0;
    json body;
  };
  Answer send(http::verb method, const std::string& target, int64_t user = 1,
              const std::string& body = "") {
    return answer(request(method, target, user, body));
  }
  Answer send_with(const std::string& authorization, const std::string& target,
                   http::verb method = http::verb::get, const std::string& body = "") {
    HttpRequest request{method, target, 11};
    request.set(http::field::authorization, authorization);
    request.body() = body;
    return answer(request);
  }
  Answer get(const std::string& target, int64_t user = 1) {
    return send(http::verb::get, target, user);
  }

  // check_api_header on a request head carrying `authorization` (none when empty) and a body.
  std::optional<unsigned> header_refusal(const std::string& authorization,
                                         const std::string& target = kContacts) {
    HttpRequest header{http::verb::post, target, 11};
    if (!authorization.empty()) header.set(http::field::authorization, authorization);
    header.set(http::field::content_length, "1048576");
    auto refused = check_api_header(ctx(), header);
    if (!refused) return std::nullopt;
    return refused->result_int();
  }
  std::optional<HttpResponse> check(const http::request_header<>& header) {
    return check_api_header(ctx(), header);
  }

 private:
  Answer answer(const HttpRequest& request) {
    HttpResponse response = handle_api_request(ctx(), request);
    auto body = json::parse(response.body(), nullptr, false);
    return {response.result_int(), body.is_discarded() ? json(response.body()) : body};
  }
};

inline std::string error_of(const ApiFixture::Answer& a) {
  return a.body.value("error", std::string());
}

}  // namespace contacts::api_test
