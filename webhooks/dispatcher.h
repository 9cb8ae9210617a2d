// Dispatcher: takes the changes the projector queued (from a ChangeSource: the views' outbox,
// or the change topic), records one
// delivery per subscription in its DeliveryStore, and POSTs them, signed (DESIGN.md section
// 7), retrying on a schedule until a 2xx or the last attempt. One thread runs an Asio
// io_context; every attempt is asynchronous, bounded per subscription and in total, so one
// slow endpoint never holds up another.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "views/view_store.h"
#include "webhooks/change_source.h"
#include "webhooks/delivery_store.h"

namespace contacts {

inline constexpr const char* kDefaultRetrySchedule = "5,300,1800,7200,18000,36000,50400,72000,86400";

struct DispatcherOptions {
  bool allow_private = false;
  // Seconds to wait before each retry: an attempt, then one retry per entry.
  std::vector<int64_t> retry_schedule;
  std::chrono::milliseconds timeout{10000};
  size_t per_webhook_in_flight = 4;
  size_t max_in_flight = 64;
};

// "5,300,1800": seconds, each positive; kInvalid otherwise.
Result<std::vector<int64_t>> parse_retry_schedule(std::string_view text);

struct DispatcherStats {
  std::atomic<uint64_t> attempts{0};
  std::atomic<uint64_t> succeeded{0};
  std::atomic<uint64_t> failed{0};  // gave up after the last attempt
  std::atomic<uint64_t> retries_scheduled{0};
  std::atomic<int64_t> in_flight{0};
};

class Dispatcher {
 public:
  // `views` tell each subscription's URL and secret, and whether it still exists.
  Dispatcher(ViewStore& views, ChangeSource& changes, DeliveryStore& store, DispatcherOptions options);
  ~Dispatcher();

  void start();
  // Starts no new attempt, lets the ones in flight finish and be recorded (each is bounded by
  // the timeout), then returns.
  void stop();
  // There may be new changes to take.
  void notify();
  const DispatcherStats& stats() const { return stats_; }

 private:
  struct Outcome {
    int status = 0;  // HTTP status, 0 when none was received
    std::string error;
  };
  void tick();
  void schedule_tick(std::chrono::milliseconds after);
  void take_changes();
  void start_due();
  void attempt(int64_t due_ms, Delivery delivery, std::string url, std::string secret);
  void finish(int64_t due_ms, Delivery delivery, const Outcome& outcome);

  ViewStore& views_;
  ChangeSource& changes_;
  DeliveryStore& store_;
  const DispatcherOptions options_;
  boost::asio::io_context ioc_;
  boost::asio::steady_timer timer_;
  boost::asio::ssl::context tls_;
  std::map<int64_t, size_t> in_flight_per_webhook_;
  std::set<std::tuple<int64_t, int64_t, int64_t>> in_flight_;  // ws, webhook, position
  std::atomic<bool> stopping_{false};
  std::atomic<bool> notified_{false};
  DispatcherStats stats_;
  std::thread thread_;
};

}  // namespace contacts
