// The webhook operations in-process, over real views folded from an in-memory log and a real
// delivery store: what a test event records, what a redelivery sends, and where they answer.
// The routes, their 400s, 403s and 404s are pinned by tests/test_webhook_operations.py.
#include "api/webhook_operations.h"

#include <doctest/doctest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api/test_node.h"
#include "webhooks/signing.h"

namespace contacts {
namespace {

using api_test::json;
using api_test::kNow;

const WorkspaceId kWs(2);

// A node with a delivery store and one webhook subscription of workspace 2 (`webhook_id`).
class OperationsFixture : public api_test::TestNode {
 public:
  OperationsFixture() : TestNode("webhook_operations_test", true) {
    Command create;
    create.type = CommandType::kWebhookCreate;
    create.command_id = "hook";
    create.workspace_id = kWs;
    create.webhook_name = "CRM";
    create.webhook_url = "https://crm.example.com/in";
    create.webhook_events = kAllWebhookEvents;
    create.webhook_secret = new_webhook_secret();
    webhook_id = *submit(create);
  }

  // A room join of `name` <email>, folded; the contact's id.
  int64_t visit(const std::string& id, int64_t at, const std::string& name,
                const std::string& email) {
    Command c;
    c.type = CommandType::kRoomJoin;
    c.command_id = id;
    c.workspace_id = kWs;
    c.occurred_at = at;
    c.participant_name = name;
    c.participant_email = email;
    c.room_id = 5;
    c.room_name = "standup";
    REQUIRE(submit(c).ok());
    auto page = views().list(kWs, 1, 100, "");
    for (const auto& contact : page.contacts)
      if (contact.email == email) return contact.id;
    FAIL("no contact ", email);
    return 0;
  }

  WebhookCall call(const ApiContext* context = nullptr) const {
    return WebhookCall{context ? *context : ctx(), views(), kWs, Actor{7, 0}, webhook_id};
  }
  std::vector<AuditEntry> audit() const { return views().audit(kWs, 1, 100).entries; }

  int64_t webhook_id = 0;
};

TEST_CASE(
    "send_test_event records a pending webhook.test delivery whose message id is its audit "
    "entry's position") {
  OperationsFixture f;
  HttpResponse answer = send_test_event(f.call());
  REQUIRE(answer.result_int() == 202);
  auto delivery = json::parse(answer.body()).at("delivery");
  const AuditEntry entry = f.audit().front();
  CHECK(entry.action == "webhook.test");
  CHECK(entry.target_id == f.webhook_id);
  CHECK(delivery["message_id"] == "msg_" + std::to_string(entry.id));
  auto stored = f.deliveries()->get({kWs, f.webhook_id, entry.id});
  REQUIRE(stored.has_value());
  CHECK(stored->state == DeliveryState::kPending);
  CHECK(stored->event == "webhook.test");
  CHECK(stored->body == test_event_body(iso8601_millis(kNow), f.webhook_id));
  CHECK(stored->next_attempt_ms == kNow * 1000);
  CHECK(json::parse(stored->to_api_json()) == delivery);
}

TEST_CASE(
    "redeliver sends a pending delivery's own body, and a finished one's rebuilt from the "
    "contact's current row") {
  OperationsFixture f;
  const int64_t contact = f.visit("v1", 1'711'000'000, "Alice Martin", "alice@example.com");
  Delivery d;
  d.ref = {kWs, f.webhook_id, contact};
  d.event = "contact.created";
  d.contact_id = contact;
  d.timestamp = iso8601_millis(1'711'000'000);
  d.created_at = 1'711'000'000;
  d.body = delivery_body(d.event, d.timestamp, contact, "Alice Martin",
                         std::string("alice@example.com"));
  d.next_attempt_ms = kNow * 1000;
  REQUIRE(f.deliveries()->add({d}).ok());
  f.visit("v2", 1'711'000'100, "Alice M.", "alice@example.com");  // renamed since

  SUBCASE("pending: the body it has") {
    REQUIRE(redeliver(f.call(), d.message_id()).result_int() == 202);
    CHECK(f.deliveries()->get(d.ref)->body == d.body);
  }
  SUBCASE("finished: the same event and timestamp, with the contact as it is now") {
    Delivery done = d;
    done.state = DeliveryState::kSucceeded;
    done.attempts = 1;
    done.next_attempt_ms.reset();
    REQUIRE(f.deliveries()->update(done, kNow * 1000).ok());
    REQUIRE(f.deliveries()->get(d.ref)->body.empty());
    f.clock().set(kNow + 60);
    HttpResponse answer = redeliver(f.call(), d.message_id());
    REQUIRE(answer.result_int() == 202);
    auto again = f.deliveries()->get(d.ref);
    CHECK(again->body == delivery_body(d.event, d.timestamp, contact, "Alice M.",
                                       std::string("alice@example.com")));
    CHECK(again->next_attempt_ms == (kNow + 60) * 1000);
    CHECK(json::parse(answer.body()).at("delivery") == json::parse(again->to_api_json()));
    CHECK(f.audit().front().action == "webhook.redeliver");
    CHECK(f.audit().front().details["message_id"] == d.message_id());
  }
}

TEST_CASE(
    "redeliver answers 409, sending and auditing nothing, when a finished delivery's contact is "
    "gone") {
  OperationsFixture f;
  const int64_t contact = f.visit("v1", 1'711'000'000, "Alice Martin", "alice@example.com");
  Command remove;
  remove.type = CommandType::kContactDelete;
  remove.command_id = "d1";
  remove.workspace_id = kWs;
  remove.contact_id = contact;
  REQUIRE(f.submit(remove).ok());
  Delivery d;
  d.ref = {kWs, f.webhook_id, contact};
  d.event = "contact.created";
  d.contact_id = contact;
  d.timestamp = iso8601_millis(1'711'000'000);
  d.state = DeliveryState::kFailed;
  REQUIRE(f.deliveries()->add({d}).ok());
  const size_t audited = f.audit().size();

  HttpResponse answer = redeliver(f.call(), d.message_id());
  CHECK(answer.result_int() == 409);
  CHECK(json::parse(answer.body()) ==
        json{{"error", "The delivery's body is no longer kept and its contact no longer exists"}});
  CHECK(f.deliveries()->get(d.ref)->state == DeliveryState::kFailed);
  CHECK(f.audit().size() == audited);
}

TEST_CASE("test events and redeliveries answer 404 on a node that keeps no deliveries") {
  OperationsFixture f;
  ApiContext elsewhere = f.ctx();
  elsewhere.deliveries = nullptr;
  const size_t audited = f.audit().size();
  for (const HttpResponse& answer :
       {send_test_event(f.call(&elsewhere)), redeliver(f.call(&elsewhere), "msg_1")}) {
    CHECK(answer.result_int() == 404);
    CHECK(json::parse(answer.body()) ==
          json{{"error", "Deliveries are kept by the webhooks process"}});
  }
  CHECK(f.audit().size() == audited);
}

}  // namespace
}  // namespace contacts
