// The Dispatcher's deliveries: one per subscription a change names, signed, retried on the
// schedule, logged, bounded in flight, and stopped cleanly (fixture: dispatcher_fixture.h).
#include <doctest/doctest.h>

#include "webhooks/dispatcher_fixture.h"

namespace contacts {
namespace {

using namespace std::chrono_literals;
using namespace dispatcher_testing;

// ---------------------------------------------------------------------------------------------
// Recording and sending

TEST_CASE(
    "Dispatcher records one delivery per subscription a change names and sends each once, signed") {
  Fixture f;
  f.put_webhook(1);
  f.put_webhook(2);
  f.changes.push(change(10, {1, 2}));
  f.start();

  for (int64_t webhook : {1, 2})
    CHECK(f.after_attempts(webhook, 10, 1).state == DeliveryState::kSucceeded);
  CHECK(f.changes.waiting() == 0);  // let go of once recorded
  f.one_full_tick();
  auto requests = f.sender.requests();
  REQUIRE(requests.size() == 2);
  std::sort(requests.begin(), requests.end(),
            [](const auto& a, const auto& b) { return a.url.host < b.url.host; });
  for (int64_t webhook : {1, 2}) {
    INFO("webhook ", webhook);
    const HttpPost& post = requests[static_cast<size_t>(webhook - 1)];
    CHECK(post.url.host == host_of(webhook));
    CHECK(post.url.https);
    CHECK(post.url.target == "/in");
    CHECK(post.body == body_of(10));
    CHECK(header(post, "Content-Type") == "application/json");
    CHECK(header(post, "X-Webhook-Event") == "contact.created");
    CHECK(header(post, "X-Webhook-Timestamp") == iso8601_millis(kOccurredAt));
    CHECK(header(post, "X-Webhook-Signature") ==
          x_webhook_signature(secret_of(webhook), body_of(10)));
    CHECK(header(post, "webhook-id") == "msg_10");
    CHECK(header(post, "webhook-timestamp") == std::to_string(kStart));
    CHECK(header(post, "webhook-signature") ==
          standard_webhook_signature(secret_of(webhook), "msg_10", kStart, body_of(10)));
  }
  CHECK(f.dispatcher->stats().attempts == 2);
  CHECK(f.dispatcher->stats().succeeded == 2);
  CHECK(f.store->pending() == 0);
}

TEST_CASE("Dispatcher records nothing for a subscription deleted before its change is taken") {
  Fixture f;
  f.put_webhook(1);
  f.changes.push(change(10, {1, 9}));  // 9 no longer exists
  f.start();

  CHECK(f.after_attempts(1, 10, 1).state == DeliveryState::kSucceeded);
  f.one_full_tick();
  CHECK_FALSE(f.store->exists(DeliveryRef{kWs, 9, 10}));
  CHECK(f.store->list(kWs, 9, 1, 10).total == 0);
  CHECK(f.changes.waiting() == 0);
  REQUIRE(f.sender.request_count() == 1);
  CHECK(f.sender.requests()[0].url.host == host_of(1));
}

TEST_CASE("Dispatcher cancels, without attempting, a due retry whose subscription was deleted") {
  Fixture f;
  f.put_webhook(1);
  f.sender.answer(FakeHttpSender::status(500));
  f.changes.push(change(10, {1}));
  f.start();
  REQUIRE(f.after_attempts(1, 10, 1).state == DeliveryState::kPending);

  f.delete_webhook(1);
  f.clock.set(kStart + 5);  // the retry is due
  REQUIRE(eventually([&] { return f.delivery(1, 10).state == DeliveryState::kCancelled; }));
  Delivery cancelled = f.delivery(1, 10);
  CHECK(cancelled.attempts == 1);
  CHECK(cancelled.last_error == "the webhook was deleted");
  CHECK_FALSE(cancelled.next_attempt_ms.has_value());
  CHECK(f.sender.request_count() == 1);
  CHECK(f.store->pending() == 0);
}

TEST_CASE(
    "Dispatcher does not send to a URL that does not parse: the attempt records why and is "
    "retried") {
  Fixture f;
  f.put_webhook(1, "ftp://hook1.example.com/in");
  f.changes.push(change(10, {1}));
  f.start();

  Delivery d = f.after_attempts(1, 10, 1);
  CHECK(d.state == DeliveryState::kPending);
  CHECK(d.last_error.value_or("").find("http:// or https://") != std::string::npos);
  CHECK(d.next_attempt_ms == (kStart + 5) * 1000);
  CHECK(f.sender.request_count() == 0);
}

// ---------------------------------------------------------------------------------------------
// Retries

// The dispatcher's events about attempts, as JSON; the process's logger is put back after.
class AttemptLog {
 public:
  AttemptLog() { log::configure(log::Format::kJson, log::Level::kDebug, out_); }
  ~AttemptLog() { log::configure(log::Format::kText, log::kDefaultLevel, log::Stream::kStderr); }
  std::vector<nlohmann::json> events() const {
    std::vector<nlohmann::json> events;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (j.contains("message_id")) events.push_back(j);
    }
    return events;
  }

 private:
  std::ostringstream out_;
};

TEST_CASE(
    "Dispatcher logs each failed attempt at warn and the last at error, with the delivery's id "
    "and the reason, and a success at debug") {
  AttemptLog attempt_log;
  Fixture f;  // schedule 5, 60
  f.put_webhook(1);
  f.put_webhook(2, "https://hooks.example.com/in?token=user-secret");
  f.sender.answer(FakeHttpSender::status(500));
  f.changes.push(change(7, {1}));
  f.start();
  f.after_attempts(1, 7, 1);
  f.sender.answer(FakeHttpSender::failure("timed out"));
  f.clock.set(kStart + 5);
  f.after_attempts(1, 7, 2);
  f.sender.answer(FakeHttpSender::status(503));
  f.clock.set(kStart + 65);
  f.after_attempts(1, 7, 3);
  f.changes.push(change(8, {2}));  // then 200
  f.after_attempts(2, 8, 1);

  auto events = attempt_log.events();
  REQUIRE(events.size() == 4);
  const std::vector<std::tuple<std::string, int, std::string, int>> expected = {
      {"warn", 1, "HTTP 500", 500},
      {"warn", 2, "timed out", 0},
      {"error", 3, "HTTP 503", 503},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("attempt ", i + 1);
    const auto& [level, attempt, reason, status] = expected[i];
    CHECK(events[i].at("level") == level);
    CHECK(events[i].at("message_id") == "msg_7");
    CHECK(events[i].at("webhook_id") == 1);
    CHECK(events[i].at("workspace_id") == kWs.value);
    CHECK(events[i].at("attempt") == attempt);
    CHECK(events[i].at("reason") == reason);
    CHECK(events[i].at("status") == status);
  }
  CHECK(events[0].at("msg") == "webhook attempt failed");
  CHECK(events[2].at("msg") == "webhook delivery failed, no more attempts");
  CHECK(events[3].at("level") == "debug");
  CHECK(events[3].at("msg") == "webhook delivered");
  CHECK(events[3].at("message_id") == "msg_8");
  CHECK(events[3].at("status") == 200);
  for (const auto& event : events) {  // neither the URL nor the body
    CHECK(event.dump().find("user-secret") == std::string::npos);
    CHECK(event.dump().find("hooks.example.com") == std::string::npos);
    CHECK_FALSE(event.contains("url"));
  }
}

TEST_CASE(
    "Dispatcher retries at each scheduled time with the same webhook-id, then marks the delivery "
    "failed") {
  Fixture f;  // schedule 5, 60
  f.put_webhook(1);
  f.sender.answer(FakeHttpSender::status(500));
  f.sender.answer(FakeHttpSender::failure("timed out"));
  f.sender.answer(FakeHttpSender::status(503));
  f.changes.push(change(7, {1}));
  f.start();

  Delivery first = f.after_attempts(1, 7, 1);
  CHECK(first.state == DeliveryState::kPending);
  CHECK(first.last_status == 500);
  CHECK(first.last_error == "HTTP 500");
  CHECK(first.next_attempt_ms == (kStart + 5) * 1000);
  f.clock.set(kStart + 4);  // not yet due
  f.one_full_tick();
  CHECK(f.sender.request_count() == 1);

  f.clock.set(kStart + 5);
  Delivery second = f.after_attempts(1, 7, 2);
  CHECK(second.state == DeliveryState::kPending);
  CHECK_FALSE(second.last_status.has_value());
  CHECK(second.last_error == "timed out");
  CHECK(second.next_attempt_ms == (kStart + 5 + 60) * 1000);

  f.clock.set(kStart + 65);
  Delivery last = f.after_attempts(1, 7, 3);
  CHECK(last.state == DeliveryState::kFailed);
  CHECK(last.last_status == 503);
  CHECK(last.last_error == "HTTP 503");
  CHECK(last.last_attempt_at == kStart + 65);
  CHECK_FALSE(last.next_attempt_ms.has_value());

  f.clock.set(kStart + 100000);
  f.one_full_tick();
  auto requests = f.sender.requests();
  REQUIRE(requests.size() == 3);
  const std::vector<int64_t> sent_at = {kStart, kStart + 5, kStart + 65};
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO("attempt ", i + 1);
    CHECK(header(requests[i], "webhook-id") == "msg_7");
    CHECK(requests[i].body == body_of(7));
    CHECK(header(requests[i], "webhook-timestamp") == std::to_string(sent_at[i]));
  }
  CHECK(f.dispatcher->stats().attempts == 3);
  CHECK(f.dispatcher->stats().retries_scheduled == 2);
  CHECK(f.dispatcher->stats().failed == 1);
  CHECK(f.store->pending() == 0);
}

TEST_CASE(
    "Dispatcher marks a delivery succeeded when a retry gets a 2xx, clearing the last error") {
  Fixture f;
  f.put_webhook(1);
  f.sender.answer(FakeHttpSender::status(404));  // then 200
  f.changes.push(change(7, {1}));
  f.start();
  REQUIRE(f.after_attempts(1, 7, 1).last_error == "HTTP 404");

  f.clock.set(kStart + 5);
  Delivery d = f.after_attempts(1, 7, 2);
  CHECK(d.state == DeliveryState::kSucceeded);
  CHECK(d.last_status == 200);
  CHECK_FALSE(d.last_error.has_value());
  CHECK_FALSE(d.next_attempt_ms.has_value());
  CHECK(f.dispatcher->stats().succeeded == 1);
  CHECK(f.dispatcher->stats().failed == 0);
}

// ---------------------------------------------------------------------------------------------
// Bounds and stopping

// Of the attempts the sender holds (it is released oldest first), how many go to `webhook`.
size_t held_for(const FakeHttpSender& sender, int64_t webhook) {
  auto requests = sender.requests();
  const auto held = static_cast<std::ptrdiff_t>(sender.held());
  return static_cast<size_t>(
      std::count_if(requests.end() - held, requests.end(),
                    [&](const HttpPost& post) { return post.url.host == host_of(webhook); }));
}

// How many attempts went to `webhook` in all.
size_t sent_to(const FakeHttpSender& sender, int64_t webhook) {
  auto requests = sender.requests();
  return static_cast<size_t>(
      std::count_if(requests.begin(), requests.end(),
                    [&](const HttpPost& post) { return post.url.host == host_of(webhook); }));
}

TEST_CASE(
    "Dispatcher holds at most per_webhook_in_flight attempts per subscription and max_in_flight in "
    "all") {
  DispatcherOptions options = test_options();
  options.per_webhook_in_flight = 2;
  options.max_in_flight = 3;
  Fixture f(options);
  f.put_webhook(1);
  f.put_webhook(2);
  for (int64_t position = 1; position <= 4; ++position) f.changes.push(change(position, {1, 2}));
  f.sender.answer_otherwise(FakeHttpSender::status(200), /*hold=*/true);
  f.start();

  REQUIRE(eventually([&] { return f.sender.held() == 3; }));
  f.one_full_tick();
  CHECK(f.sender.held() == 3);
  // The slow subscription takes two slots at most, so the other is sent to meanwhile.
  CHECK(held_for(f.sender, 1) >= 1);
  CHECK(held_for(f.sender, 2) >= 1);
  CHECK(f.dispatcher->stats().in_flight == 3);

  // As each attempt ends, another starts, within the same bounds, until all eight are sent.
  for (size_t released = 1; released <= 8; ++released) {
    REQUIRE(f.sender.release_one());
    REQUIRE(eventually([&] { return f.dispatcher->stats().succeeded == released; }));
    f.one_full_tick();
    INFO("released ", released);
    CHECK(f.sender.held() <= 3);
    CHECK(held_for(f.sender, 1) <= 2);
    CHECK(held_for(f.sender, 2) <= 2);
    // A free slot stays free only when every subscription with deliveries left is at its bound.
    bool startable = false;
    for (int64_t webhook : {1, 2})
      startable |= sent_to(f.sender, webhook) < 4 && held_for(f.sender, webhook) < 2;
    CHECK_FALSE((f.sender.held() < 3 && startable));
  }
  CHECK(f.sender.request_count() == 8);
  for (int64_t position = 1; position <= 4; ++position) {
    for (int64_t webhook : {1, 2})
      CHECK(f.delivery(webhook, position).state == DeliveryState::kSucceeded);
  }
}

TEST_CASE(
    "Dispatcher::stop lets an attempt in flight finish and be recorded, and does not go on to the "
    "next one due") {
  DispatcherOptions options = test_options();
  options.per_webhook_in_flight = 1;
  Fixture f(options);
  f.put_webhook(1);
  f.sender.hold(FakeHttpSender::status(200));
  f.changes.push(change(1, {1}));
  f.changes.push(change(2, {1}));
  f.start();
  REQUIRE(eventually([&] { return f.sender.held() == 1; }));

  auto stopped = std::async(std::launch::async, [&] { f.dispatcher->stop(); });
  REQUIRE(eventually([&] { return f.dispatcher->stopping(); }));
  CHECK(stopped.wait_for(0ms) != std::future_status::ready);  // waits for the attempt
  REQUIRE(f.sender.release_one());
  stopped.get();

  Delivery finished = f.delivery(1, 1);
  CHECK(finished.state == DeliveryState::kSucceeded);
  CHECK(finished.attempts == 1);
  Delivery waiting = f.delivery(1, 2);
  CHECK(waiting.state == DeliveryState::kPending);
  CHECK(waiting.attempts == 0);
  CHECK(f.sender.request_count() == 1);
  CHECK(f.dispatcher->stats().in_flight == 0);
}

}  // namespace
}  // namespace contacts
