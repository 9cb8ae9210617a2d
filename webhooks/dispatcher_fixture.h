// The Dispatcher with its seams faked, for its tests: a FakeHttpSender answers each attempt as
// the test scripts it, a FixedClock says when retries fall due, and a queue stands in for the
// outbox. The views and the delivery store are real, in a temporary directory. No test waits
// for real time: each polls (1 ms) for a state, and a dispatcher that never reaches it fails
// the test after ten seconds. Test-only (dispatcher_test.cpp, dispatcher_operations_test.cpp).
#pragma once

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
#include "webhooks/dispatcher.h"
#include "webhooks/fake_http_sender.h"
#include "webhooks/signing.h"

namespace contacts::dispatcher_testing {

using namespace std::chrono_literals;

inline const WorkspaceId kWs(5);
inline constexpr int64_t kStart = 1711586400;  // the fake clock's time when each test starts
inline constexpr int64_t kOccurredAt = 1711586000;

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
inline std::string change(int64_t position, const std::vector<int64_t>& webhooks) {
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

inline std::string body_of(int64_t position) {
  return delivery_body("contact.created", iso8601_millis(kOccurredAt), 100 + position,
                       "Alice Martin", std::string("alice@example.com"));
}

inline std::string secret_of(int64_t webhook_id) {
  return "whsec_c2VjcmV0LW9mLXdlYmhvb2stbnVtYmVy" + std::to_string(webhook_id);
}
inline std::string url_of(int64_t webhook_id) {
  return "https://hook" + std::to_string(webhook_id) + ".example.com/in";
}
inline std::string host_of(int64_t webhook_id) {
  return "hook" + std::to_string(webhook_id) + ".example.com";
}

inline std::string header(const HttpPost& post, std::string_view name) {
  for (const auto& h : post.headers) {
    if (h.name == name) return h.value;
  }
  return "(missing)";
}

inline DispatcherOptions test_options() {
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

}  // namespace contacts::dispatcher_testing
