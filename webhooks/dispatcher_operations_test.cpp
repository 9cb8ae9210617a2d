// The Dispatcher and the operations on a subscription: pause and resume, redelivery, and the
// overlap of a rotated secret (fixture: dispatcher_fixture.h).
#include <doctest/doctest.h>

#include "webhooks/dispatcher_fixture.h"

namespace contacts {
namespace {

using namespace std::chrono_literals;
using namespace dispatcher_testing;

void set_active(Fixture& f, int64_t id, bool active) {
  Webhook row = Fixture::webhook_row(id);
  row.is_active = active;
  f.put_webhook(row);
}

TEST_CASE(
    "Dispatcher keeps a paused subscription's deliveries pending and unattempted, and sends them "
    "in order once it is resumed") {
  Fixture f;
  set_active(f, 1, false);
  for (int64_t position : {3, 1, 2}) f.changes.push(change(position, {1}));
  f.start();

  REQUIRE(eventually([&] { return f.store->list(kWs, 1, 1, 10).total == 3; }));
  REQUIRE(eventually([&] { return !f.delivery(1, 3).next_attempt_ms.has_value(); }));
  f.one_full_tick();
  CHECK(f.sender.request_count() == 0);
  for (int64_t position : {1, 2, 3}) {
    Delivery waiting = f.delivery(1, position);
    CHECK(waiting.state == DeliveryState::kPending);
    CHECK(waiting.attempts == 0);
    CHECK_FALSE(waiting.next_attempt_ms.has_value());  // parked: not scheduled
  }
  CHECK(f.store->pending() == 3);

  set_active(f, 1, true);
  for (int64_t position : {1, 2, 3})
    CHECK(f.after_attempts(1, position, 1).state == DeliveryState::kSucceeded);
  auto requests = f.sender.requests();
  REQUIRE(requests.size() == 3);
  for (size_t i = 0; i < requests.size(); ++i)
    CHECK(header(requests[i], "webhook-id") == "msg_" + std::to_string(i + 1));
  CHECK(f.store->pending() == 0);
}

TEST_CASE("Dispatcher sends deliveries parked before a restart once their subscription resumes") {
  Fixture f;
  set_active(f, 1, false);
  f.changes.push(change(5, {1}));
  f.start();
  REQUIRE(eventually([&] {
    return f.store->exists(DeliveryRef{kWs, 1, 5}) && !f.delivery(1, 5).next_attempt_ms;
  }));
  f.dispatcher->stop();
  f.dispatcher.reset();

  set_active(f, 1, true);  // resumed while no dispatcher ran
  f.start();
  CHECK(f.after_attempts(1, 5, 1).state == DeliveryState::kSucceeded);
  CHECK(f.sender.request_count() == 1);
}

TEST_CASE("Dispatcher does not use up a delivery's retries while its subscription is paused") {
  Fixture f;  // schedule 5, 60: three attempts at most
  f.put_webhook(1);
  f.sender.answer(FakeHttpSender::status(500));
  f.changes.push(change(7, {1}));
  f.start();
  REQUIRE(f.after_attempts(1, 7, 1).state == DeliveryState::kPending);

  set_active(f, 1, false);
  for (int64_t later : {5, 65, 100000}) {
    f.clock.set(kStart + later);  // every retry would be due by now
    f.one_full_tick();
  }
  CHECK(f.sender.request_count() == 1);
  Delivery waiting = f.delivery(1, 7);
  CHECK(waiting.state == DeliveryState::kPending);
  CHECK(waiting.attempts == 1);

  set_active(f, 1, true);
  Delivery resumed = f.after_attempts(1, 7, 2);
  CHECK(resumed.state == DeliveryState::kSucceeded);
  CHECK(resumed.last_attempt_at == kStart + 100000);
}

TEST_CASE("Dispatcher cancels the parked deliveries of a paused subscription that is deleted") {
  Fixture f;
  set_active(f, 1, false);
  f.changes.push(change(4, {1}));
  f.start();
  REQUIRE(eventually([&] {
    return f.store->exists(DeliveryRef{kWs, 1, 4}) && !f.delivery(1, 4).next_attempt_ms;
  }));
  f.delete_webhook(1);
  REQUIRE(eventually([&] { return f.delivery(1, 4).state == DeliveryState::kCancelled; }));
  CHECK(f.sender.request_count() == 0);
  CHECK(f.store->pending() == 0);
}

TEST_CASE(
    "Dispatcher sends a redelivered delivery again with the same webhook-id and body, its attempts "
    "restarted") {
  Fixture f;  // schedule 5, 60
  f.put_webhook(1);
  f.sender.answer(FakeHttpSender::status(500));
  f.sender.answer(FakeHttpSender::status(500));
  f.sender.answer(FakeHttpSender::status(500));
  f.changes.push(change(10, {1}));
  f.start();
  REQUIRE(f.after_attempts(1, 10, 1).state == DeliveryState::kPending);
  f.clock.set(kStart + 5);
  REQUIRE(f.after_attempts(1, 10, 2).state == DeliveryState::kPending);
  f.clock.set(kStart + 65);
  REQUIRE(f.after_attempts(1, 10, 3).state == DeliveryState::kFailed);
  CHECK(f.delivery(1, 10).body.empty());  // a delivery that is done keeps no body

  f.clock.set(kStart + 1000);
  auto again = f.store->redeliver(DeliveryRef{kWs, 1, 10}, body_of(10), f.clock.now_millis());
  REQUIRE(again.ok());
  CHECK(again->state == DeliveryState::kPending);
  CHECK(again->attempts == 0);
  CHECK_FALSE(again->last_error.has_value());
  REQUIRE(eventually([&] { return f.delivery(1, 10).state == DeliveryState::kSucceeded; }));
  Delivery done = f.delivery(1, 10);
  CHECK(done.attempts == 1);
  CHECK(done.last_attempt_at == kStart + 1000);
  auto requests = f.sender.requests();
  REQUIRE(requests.size() == 4);
  CHECK(header(requests[3], "webhook-id") == "msg_10");
  CHECK(requests[3].body == body_of(10));
  CHECK(requests[3].body == requests[0].body);
  CHECK(f.store->list(kWs, 1, 1, 10).total == 1);  // the same delivery, not a new one
  CHECK_FALSE(f.store->redeliver(DeliveryRef{kWs, 1, 11}, body_of(11), 0).ok());
}

TEST_CASE(
    "Dispatcher records nothing of an attempt that was in flight when its delivery was "
    "redelivered; the new round is attempted after it") {
  Fixture f;
  f.put_webhook(1);
  f.sender.hold(FakeHttpSender::status(500));
  f.changes.push(change(10, {1}));
  f.start();
  REQUIRE(eventually([&] { return f.sender.held() == 1; }));

  REQUIRE(f.store->redeliver(DeliveryRef{kWs, 1, 10}, body_of(10), f.clock.now_millis()).ok());
  f.one_full_tick();
  CHECK(f.sender.request_count() == 1);  // not twice at once
  REQUIRE(f.sender.release_one());       // the old round's 500
  REQUIRE(eventually([&] { return f.delivery(1, 10).state == DeliveryState::kSucceeded; }));
  Delivery done = f.delivery(1, 10);
  CHECK(done.attempts == 1);
  CHECK(done.last_status == 200);
  CHECK(done.round == 1);
  CHECK(f.sender.request_count() == 2);
}

TEST_CASE(
    "Dispatcher signs with the new and the previous secret until the previous one expires, then "
    "with the new one alone") {
  Fixture f;
  Webhook row = Fixture::webhook_row(1);
  row.secret = secret_of(2);
  row.previous_secret = secret_of(1);
  row.previous_secret_expires_at = kStart + 10;
  f.put_webhook(row);
  f.changes.push(change(10, {1}));
  f.start();
  REQUIRE(f.after_attempts(1, 10, 1).state == DeliveryState::kSucceeded);

  f.clock.set(kStart + 10);
  f.changes.push(change(11, {1}));
  REQUIRE(f.after_attempts(1, 11, 1).state == DeliveryState::kSucceeded);
  auto requests = f.sender.requests();
  REQUIRE(requests.size() == 2);
  CHECK(header(requests[0], "webhook-signature") ==
        standard_webhook_signature(secret_of(2), "msg_10", kStart, body_of(10)) + " " +
            standard_webhook_signature(secret_of(1), "msg_10", kStart, body_of(10)));
  CHECK(header(requests[0], "X-Webhook-Signature") ==
        x_webhook_signature(secret_of(2), body_of(10)));
  CHECK(header(requests[1], "webhook-signature") ==
        standard_webhook_signature(secret_of(2), "msg_11", kStart + 10, body_of(11)));
  CHECK(header(requests[1], "X-Webhook-Signature") ==
        x_webhook_signature(secret_of(2), body_of(11)));
}

}  // namespace
}  // namespace contacts
