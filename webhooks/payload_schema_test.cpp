// The delivery body that webhooks/signing.cpp writes is what schemas/webhook_event.json states.
#include <doctest/doctest.h>

#include "tests/schema_check.h"
#include "webhooks/signing.h"

namespace contacts {
namespace {

bool accepts(const std::string& text) { return schema_accepts("webhook_event.json", text); }

TEST_CASE("delivery bodies validate against schemas/webhook_event.json") {
  std::string ts = iso8601_millis(1711586400);
  CHECK(accepts(
      delivery_body("contact.deleted", ts, 1, "Alice Martin", std::string("alice@example.com"))));
  CHECK(accepts(delivery_body("contact.created", ts, 9007199254740991, "Zoë", std::nullopt)));
  CHECK(accepts(
      delivery_body("contact.updated", iso8601_millis(0), 5, std::string(200, 'n'), std::nullopt)));
  // The schema is not a rubber stamp.
  CHECK_FALSE(accepts(delivery_body("contact.merged", ts, 1, "A", std::nullopt)));
  CHECK_FALSE(accepts(delivery_body("contact.created", "2024-03-28", 1, "A", std::nullopt)));
  CHECK_FALSE(accepts(delivery_body("contact.created", ts, 0, "A", std::nullopt)));
  CHECK_FALSE(accepts(
      R"({"event":"contact.created","timestamp":"2024-03-28T00:40:00.000Z","data":{"id":1,"name":"A"}})"));
}

TEST_CASE(
    "a test event's body validates against schemas/webhook_event.json, and only its own data") {
  std::string ts = iso8601_millis(1711586400);
  CHECK(accepts(test_event_body(ts, 21)));
  CHECK(
      test_event_body(ts, 21) ==
      R"({"event":"webhook.test","timestamp":"2024-03-28T00:40:00.000Z","data":{"webhook_id":21}})");
  CHECK_FALSE(accepts(test_event_body(ts, 0)));
  CHECK_FALSE(accepts(
      R"({"event":"webhook.test","timestamp":"2024-03-28T00:40:00.000Z","data":{"id":1,"name":"A","email":null}})"));
  CHECK_FALSE(accepts(
      R"({"event":"contact.created","timestamp":"2024-03-28T00:40:00.000Z","data":{"webhook_id":1}})"));
}

}  // namespace
}  // namespace contacts
