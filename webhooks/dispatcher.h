// Dispatcher: takes the changes the projector queued (from a ChangeSource: the views' outbox,
// or the change topic), records one
// delivery per subscription in its DeliveryStore, and POSTs them, signed (DESIGN.md section
// 7), retrying on a schedule until a 2xx or the last attempt. One thread runs an Asio
// io_context; every attempt is asynchronous, bounded per subscription and in total, so one
// slow endpoint never holds up another.
//
// Its seams: a Clock (when a delivery is due, and the webhook-timestamp header) and an
// HttpSender (each attempt); the four-argument constructor uses the system clock and Beast.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "views/live_views.h"
#include "webhooks/change_source.h"
#include "webhooks/delivery_store.h"
#include "webhooks/http_sender.h"
#include "webhooks/retry_policy.h"

namespace contacts {

struct WebhookTarget;

struct DispatcherOptions {
  // For the AsioHttpSender that the four-argument constructor builds; a given sender decides.
  bool allow_private = false;
  // Seconds to wait before each retry: an attempt, then one retry per entry.
  std::vector<int64_t> retry_schedule;
  std::chrono::milliseconds timeout{10000};
  size_t per_webhook_in_flight = 4;
  size_t max_in_flight = 64;
  // How often the dispatcher looks for new changes and due attempts.
  std::chrono::milliseconds poll_interval{100};
};

struct DispatcherStats {
  std::atomic<uint64_t> attempts{0};
  std::atomic<uint64_t> succeeded{0};
  std::atomic<uint64_t> failed{0};  // gave up after the last attempt
  std::atomic<uint64_t> retries_scheduled{0};
  std::atomic<int64_t> in_flight{0};
  // Adds the webhook attempt series to `metrics`.
  void add_to(Exposition& metrics) const;
};

// Adds the backlog of `store` at `now_ms` (the pending deliveries, those due, and how long the
// earliest due attempt has waited) to `metrics`.
void add_backlog_metrics(Exposition& metrics, const DeliveryStore& store, int64_t now_ms);

class Dispatcher {
 public:
  // `views` tell each subscription's URL and secret, and whether it still exists. Attempts go
  // through an AsioHttpSender (options.allow_private); the time is the system's.
  Dispatcher(const LiveViews& views, ChangeSource& changes, DeliveryStore& store,
             DispatcherOptions options);
  // The same with the given clock and sender, which must outlive the dispatcher.
  Dispatcher(const LiveViews& views, ChangeSource& changes, DeliveryStore& store,
             DispatcherOptions options, const Clock& clock, HttpSender& sender);
  ~Dispatcher();

  void start();
  // Starts no new attempt, lets the ones in flight finish and be recorded (each is bounded by
  // the timeout), then returns.
  void stop();
  // Whether stop() has been called: from then on no attempt starts.
  bool stopping() const { return stopping_; }
  // There may be new changes to take.
  void notify();
  const DispatcherStats& stats() const { return stats_; }

 private:
  void tick();
  void schedule_tick(std::chrono::milliseconds after);
  void take_changes();
  void resume_parked();
  void start_due();
  void cancel(int64_t due_ms, Delivery delivery);
  void attempt(int64_t due_ms, Delivery delivery, const WebhookTarget& webhook);
  void finish(int64_t due_ms, Delivery delivery, const HttpOutcome& outcome);
  void record(const Delivery& delivery, int64_t due_ms);

  // Declared first: the io_context and its attempts go before the clock and sender they use.
  std::unique_ptr<const Clock> owned_clock_;
  std::unique_ptr<HttpSender> owned_sender_;
  const Clock& clock_;
  HttpSender& sender_;
  const LiveViews& views_;  // the set current at each step (a rebuild may swap it)
  ChangeSource& changes_;
  DeliveryStore& store_;
  const DispatcherOptions options_;
  boost::asio::io_context ioc_;
  boost::asio::steady_timer timer_;
  std::map<int64_t, size_t> in_flight_per_webhook_;
  std::set<std::tuple<int64_t, int64_t, int64_t>> in_flight_;  // ws, webhook, position
  std::set<std::pair<int64_t, int64_t>> parked_;  // ws, webhook: paused, with parked deliveries
  std::atomic<bool> stopping_{false};
  std::atomic<bool> notified_{false};
  DispatcherStats stats_;
  std::thread thread_;
};

}  // namespace contacts
