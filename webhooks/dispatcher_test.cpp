// The Dispatcher's state machine with its seams faked: a FakeHttpSender answers each attempt as
// the test scripts it, a FixedClock says when retries fall due, and a queue stands in for the
// outbox. The views and the delivery store are real, in a temporary directory. No test waits
// for real time: each polls (1 ms) for a state, and a dispatcher that never reaches it fails
// the test after ten seconds.
#include "webhooks/dispatcher.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "tests/temp_dir.h"
#include "views/batch_writer.h"
#include "views/view_store.h"
#include "webhooks/delivery_store.h"
#include "webhooks/fake_http_sender.h"
#include "webhooks/signing.h"

namespace contacts {
namespace {

using namespace std::chrono_literals;

const WorkspaceId kWs(5);
constexpr int64_t kStart = 1711586400;  // the fake clock's time when each test starts
constexpr int64_t kOccurredAt = 1711586000;

// Polls `done` every millisecond until it holds. False after ten seconds: the bound of a hang.
template <typename Predicate>
bool eventually(Predicate done) {
  for (int i = 0; i < 10000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

// The outbox: the changes pushed, taken oldest first, until the dispatcher lets them go.
class QueueChangeSource final : public ChangeSource {
 public:
  void push(std::string json) {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::to_string(next_key_++), std::move(json)});
  }
  std::vector<TakenChange> take(size_t max) override {
    std::lock_guard lock(mutex_);
    ++takes_;
    return {queue_.begin(),
            queue_.begin() + static_cast<std::ptrdiff_t>(std::min(max, queue_.size()))};
  }
  Status taken(const std::vector<TakenChange>& changes) override {
    std::lock_guard lock(mutex_);
    for (const auto& change : changes) {
      std::erase_if(queue_, [&](const TakenChange& queued) { return queued.key == change.key; });
    }
    return {};
  }
  // Changes not yet let go of.
  size_t waiting() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  // take() is the first thing each tick of the dispatcher does.
  uint64_t takes() const {
    std::lock_guard lock(mutex_);
    return takes_;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<TakenChange> queue_;
  int64_t next_key_ = 1;
  uint64_t takes_ = 0;
};

// An outbox entry as the fold queues it (schemas/change_event.json).
std::string change(int64_t position, const std::vector<int64_t>& webhooks) {
  nlohmann::json data = {
      {"id", 100 + position}, {"name", "Alice Martin"}, {"email", "alice@example.com"}};
  return nlohmann::json{{"position", position},
                        {"event", "contact.created"},
                        {"workspace_id", kWs.value},
                        {"occurred_at", kOccurredAt},
                        {"data", data},
                        {"webhooks", webhooks}}
      .dump();
}

std::string body_of(int64_t position) {
  return delivery_body("contact.created", iso8601_millis(kOccurredAt), 100 + position,
                       "Alice Martin", std::string("alice@example.com"));
}

std::string secret_of(int64_t webhook_id) {
  return "whsec_c2VjcmV0LW9mLXdlYmhvb2stbnVtYmVy" + std::to_string(webhook_id);
}
std::string url_of(int64_t webhook_id) {
  return "https://hook" + std::to_string(webhook_id) + ".example.com/in";
}
std::string host_of(int64_t webhook_id) {
  return "hook" + std::to_string(webhook_id) + ".example.com";
}

std::string header(const HttpPost& post, std::string_view name) {
  for (const auto& h : post.headers) {
    if (h.name == name) return h.value;
  }
  return "(missing)";
}

DispatcherOptions test_options() {
  DispatcherOptions options;
  options.retry_schedule = {5, 60};
  options.poll_interval = 1ms;
  return options;
}

// A dispatcher over real views and a real delivery store in a temporary directory, with a fake
// sender, a fake clock and a queue of changes. Started by start(); stopped on the way out,
// releasing whatever the sender holds so that stop() can return.
class Fixture {
 public:
  explicit Fixture(DispatcherOptions options = test_options()) : options_(std::move(options)) {
    auto opened_views = ViewStore::open(dir_.path() + "/views", ViewStoreOptions{});
    REQUIRE_MESSAGE(opened_views.ok(), opened_views.status().message());
    views = std::move(*opened_views);
    live = std::make_unique<LiveViews>(views);
    auto opened_store = DeliveryStore::open(dir_.path() + "/webhooks");
    REQUIRE_MESSAGE(opened_store.ok(), opened_store.status().message());
    store = std::move(*opened_store);
  }
  ~Fixture() {
    if (!dispatcher) return;
    auto stopped = std::async(std::launch::async, [this] { dispatcher->stop(); });
    while (stopped.wait_for(1ms) != std::future_status::ready) sender.release_all();
  }

  void start() {
    dispatcher = std::make_unique<Dispatcher>(*live, changes, *store, options_, clock, sender);
    dispatcher->start();
  }

  // The subscriptions as the fold writes them: these are the only lines that know their rows.
  void put_webhook(const Webhook& webhook) {
    ViewBatch batch = views->begin_batch();
    BatchViewWriter(batch).put_webhook(webhook);
    REQUIRE(views->commit(batch).ok());
  }
  void put_webhook(int64_t id, const std::string& url) { put_webhook(webhook_row(id, url)); }
  static Webhook webhook_row(int64_t id, const std::string& url = "") {
    return Webhook{id,
                   kWs,
                   "hook",
                   url.empty() ? url_of(id) : url,
                   kContactCreated,
                   true,
                   kStart,
                   secret_of(id),
                   "",
                   0};
  }
  void put_webhook(int64_t id) { put_webhook(id, url_of(id)); }
  void delete_webhook(int64_t id) {
    ViewBatch batch = views->begin_batch();
    BatchViewWriter(batch).delete_webhook(kWs, id);
    REQUIRE(views->commit(batch).ok());
  }

  Delivery delivery(int64_t webhook_id, int64_t position) const {
    auto found = store->get(DeliveryRef{kWs, webhook_id, position});
    REQUIRE_MESSAGE(found.has_value(), "no delivery for webhook ", webhook_id, " at ", position);
    return *found;
  }
  // Waits until the delivery is recorded with `attempts` attempts.
  Delivery after_attempts(int64_t webhook_id, int64_t position, int attempts) const {
    REQUIRE(eventually([&] {
      auto found = store->get(DeliveryRef{kWs, webhook_id, position});
      return found && found->attempts >= attempts;
    }));
    return delivery(webhook_id, position);
  }
  // Returns once the dispatcher has run a whole tick (taken changes, started what is due) that
  // began after this call: what it has not done by then, it did not do on what it saw.
  void one_full_tick() const {
    const uint64_t seen = changes.takes();
    REQUIRE(eventually([&] { return changes.takes() >= seen + 2; }));
  }

 private:
  TempDir dir_{"dispatcher_test"};  // declared first: outlives the stores
  DispatcherOptions options_;

 public:
  std::shared_ptr<ViewStore> views;
  std::unique_ptr<LiveViews> live;
  std::unique_ptr<DeliveryStore> store;
  QueueChangeSource changes;
  FakeHttpSender sender;
  FixedClock clock{kStart};
  std::unique_ptr<Dispatcher> dispatcher;  // last: stopped and gone before what it uses
};

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

// ---------------------------------------------------------------------------------------------
// Operations: pause and resume, redelivery, a rotated secret

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
