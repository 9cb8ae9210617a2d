// contacts serve: the embedded log, the projector, the API and the ingest listener in one process.
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/http_probe.h"
#include "app/commands.h"
#include "core/command_codec.h"
#include "ingest/ingest_handler.h"
#include "projector/projector.h"
#include "webhooks/dispatcher.h"

namespace contacts::app {

namespace {

constexpr std::chrono::seconds kDrainTimeout{10};

// Appends a command and waits until the projector applied it: read-your-writes.
class LogSubmitter final : public CommandSubmitter {
 public:
  LogSubmitter(Log& log, Projector& projector) : log_(log), projector_(projector) {}

  Result<int64_t> submit(Command command) override {
    auto positions = log_.append({{std::to_string(command.workspace_id.value), encode_command(command)}});
    if (!positions.ok()) return Status{Code::kUnavailable, "Log unavailable"};
    LogPosition at = positions->front();
    if (!projector_.wait_applied(at, kApplyTimeout))
      return Status{Code::kUnavailable, "Timed out waiting for the change to apply"};
    return id_from_position(at.partition, at.offset, log_.partitions());
  }

 private:
  Log& log_;
  Projector& projector_;
};

std::string metrics_text(Log& log, Projector& projector, const std::atomic<uint64_t>& accepted,
                         const HttpProbe& api_probe, const HttpProbe& ingest_probe, const Dispatcher& dispatcher) {
  std::ostringstream out;
  const DispatcherStats& hooks = dispatcher.stats();
  out << "# TYPE contacts_webhook_attempts_total counter\ncontacts_webhook_attempts_total " << hooks.attempts.load() << "\n";
  out << "# TYPE contacts_webhook_deliveries_total counter\n"
      << "contacts_webhook_deliveries_total{result=\"succeeded\"} " << hooks.succeeded.load() << "\n"
      << "contacts_webhook_deliveries_total{result=\"failed\"} " << hooks.failed.load() << "\n";
  out << "# TYPE contacts_webhook_retries_scheduled_total counter\ncontacts_webhook_retries_scheduled_total "
      << hooks.retries_scheduled.load() << "\n";
  out << "# TYPE contacts_webhook_in_flight gauge\ncontacts_webhook_in_flight " << hooks.in_flight.load() << "\n";
  out << "# TYPE contacts_applied_records_total counter\ncontacts_applied_records_total "
      << projector.stats().applied_records.load() << "\n";
  out << "# TYPE contacts_dead_letters_total counter\ncontacts_dead_letters_total "
      << projector.stats().dead_letters.load() << "\n";
  out << "# TYPE contacts_fold_batches_total counter\ncontacts_fold_batches_total " << projector.stats().batches.load()
      << "\n";
  out << "# TYPE contacts_ingest_accepted_total counter\ncontacts_ingest_accepted_total " << accepted.load() << "\n";
  out << "# TYPE contacts_consumer_lag gauge\n";
  for (int32_t p = 0; p < log.partitions(); ++p)
    out << "contacts_consumer_lag{partition=\"" << p << "\"} "
        << log.end_offset(Partition(p)).value - projector.applied(Partition(p)).value << "\n";
  std::string http = "# TYPE contacts_http_request_duration_seconds histogram\n";
  api_probe.render(http);
  ingest_probe.render(http);
  return out.str() + http;
}

std::vector<FlagSpec> serve_flags() {
  return {data_flag(),
          {"listen", "CONTACTS_LISTEN", "127.0.0.1:8080", "API listener HOST:PORT"},
          {"ingest-listen", "CONTACTS_INGEST_LISTEN", "127.0.0.1:8081", "ingest listener HOST:PORT"},
          brokers_flag(),
          topic_prefix_flag(),
          partitions_flag(),
          {"jwt-secret", "CONTACTS_JWT_SECRET", "", "HS256 secret for JWTs (none: JWTs refused)"},
          {"ingest-token", "CONTACTS_INGEST_TOKEN", "", "bearer token of POST /v1/commands (none: refuse all)"},
          {"ingest-max-body", "CONTACTS_INGEST_MAX_BODY", std::to_string(kDefaultIngestBodyLimit),
           "largest ingest body in bytes (413 past it)"},
          {"http-threads", "CONTACTS_HTTP_THREADS", "8", "API I/O threads (ingest gets half as many); handlers that wait for the projector block one"},
          cache_flag(),
          {"webhook-allow-private", "CONTACTS_WEBHOOK_ALLOW_PRIVATE", "",
           "let webhook URLs resolve to private, loopback and link-local addresses", true},
          {"webhook-retry-schedule", "CONTACTS_WEBHOOK_RETRY_SCHEDULE", kDefaultRetrySchedule,
           "seconds before each retry of a failed webhook delivery, comma-separated"}};
}

std::optional<std::string> optional_flag(const Flags& flags, const std::string& name) {
  if (!flags.has(name)) return std::nullopt;
  return flags.get(name);
}

}  // namespace

int run_serve(int argc, char** argv) {
  Flags flags;
  auto specs = serve_flags();
  if (int rc = parse_or_exit(flags, "serve", "Runs the log, projector, API and ingest in one process.", specs, argc, argv);
      rc >= 0)
    return rc;
  std::string api_host, ingest_host, error;
  uint16_t api_port = 0, ingest_port = 0;
  long long max_body = 0, threads = 0;
  if (!split_host_port(flags.get("listen"), api_host, api_port)) error = "--listen must be HOST:PORT";
  else if (!split_host_port(flags.get("ingest-listen"), ingest_host, ingest_port)) error = "--ingest-listen must be HOST:PORT";
  else if (flags.integer("ingest-max-body", 1024, 1LL << 32, max_body, error) &&
           flags.integer("http-threads", 1, 256, threads, error))
    error.clear();
  DispatcherOptions hooks;
  hooks.allow_private = flags.enabled("webhook-allow-private");
  if (error.empty()) {
    auto schedule = parse_retry_schedule(flags.get("webhook-retry-schedule"));
    if (schedule.ok()) hooks.retry_schedule = *schedule;
    else error = "--webhook-retry-schedule: " + schedule.status().message();
  }
  if (!error.empty()) {
    std::cerr << "contacts serve: " << error << "\n";
    return 2;
  }

  auto log = open_log(flags);
  if (!log) return 1;
  auto views = ViewStore::open(views_path(flags.get("data")), view_options(flags));
  if (!views.ok()) {
    std::cerr << "contacts serve: " << views.status().message() << "\n";
    return 1;
  }
  auto deliveries = DeliveryStore::open(webhooks_path(flags.get("data")));
  if (!deliveries.ok()) {
    std::cerr << "contacts serve: " << deliveries.status().message() << "\n";
    return 1;
  }
  Dispatcher dispatcher(**views, **deliveries, hooks);
  Projector projector(*log, **views);
  projector.on_changes([&](const std::vector<Change>&) { dispatcher.notify(); });
  if (auto* kafka = dynamic_cast<KafkaLog*>(log.get())) {
    projector.on_dead_letter([kafka](const LogEntry& entry, const std::string& reason) {
      if (auto s = kafka->dead_letter(entry, reason); !s.ok())
        std::cerr << "contacts: dead letter not sent to " << kafka->dlq_topic() << ": " << s.message() << "\n";
    });
  }
  dispatcher.start();
  projector.start();

  SystemClock clock;
  Authenticator auth(**views, optional_flag(flags, "jwt-secret"), clock);
  LogSubmitter submitter(*log, projector);
  std::atomic<uint64_t> accepted{0};
  HttpProbe api_probe("api"), ingest_probe("ingest");
  ApiContext api_ctx{**views, auth, submitter, clock, [&] { return projector.caught_up(); },
                     [&] { return metrics_text(*log, projector, accepted, api_probe, ingest_probe, dispatcher); },
                     deliveries->get(), hooks.allow_private};
  IngestContext ingest_ctx{*log, optional_flag(flags, "ingest-token"), clock, &accepted};

  // Two I/O pools: a burst of ingest uploads never queues behind API reads, nor the reverse.
  boost::asio::io_context api_ioc, ingest_ioc;
  auto measured = [](HttpProbe& probe, auto handle) {
    return [&probe, handle](const HttpRequest& r) {
      auto start = std::chrono::steady_clock::now();
      HttpResponse response = handle(r);
      probe.record(std::chrono::steady_clock::now() - start, response.result_int());
      return response;
    };
  };
  HttpServer api(api_ioc, measured(api_probe, [&](const HttpRequest& r) { return handle_api_request(api_ctx, r); }),
                 HttpServerOptions{});
  HttpServerOptions ingest_options;
  ingest_options.body_limit = static_cast<size_t>(max_body);
  ingest_options.header_check = [&](const http::request_header<>& h) { return check_ingest_header(ingest_ctx, h); };
  HttpServer ingest(ingest_ioc,
                    measured(ingest_probe, [&](const HttpRequest& r) { return handle_ingest_request(ingest_ctx, r); }),
                    ingest_options);
  for (auto [server, host, port] : {std::tuple{&api, api_host, api_port}, std::tuple{&ingest, ingest_host, ingest_port}}) {
    if (auto s = server->listen(host, port); !s.ok()) {
      std::cerr << "contacts serve: " << s.message() << "\n";
      projector.stop();
      dispatcher.stop();
      return 1;
    }
  }
  // SIGTERM/SIGINT: stop accepting, let open requests finish (up to kDrainTimeout), then stop.
  boost::asio::signal_set signals(api_ioc, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(api_ioc);
  auto deadline = std::chrono::steady_clock::time_point::max();
  std::function<void()> check_drained = [&] {
    bool drained = api.open_connections() == 0 && ingest.open_connections() == 0;
    if (drained || std::chrono::steady_clock::now() >= deadline) {
      api_ioc.stop();
      ingest_ioc.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait([&](const boost::system::error_code&) { check_drained(); });
  };
  signals.async_wait([&](const boost::system::error_code&, int) {
    api.stop();
    ingest.stop();
    deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    check_drained();
  });
  std::cout << "contacts: API listening on http://" << api_host << ":" << api.port() << ", ingest on http://"
            << ingest_host << ":" << ingest.port() << ", data in " << flags.get("data") << " ("
            << describe_log(flags, *log) << ")" << std::endl;

  std::vector<std::thread> pool;
  for (long long i = 0; i < std::max(1LL, threads / 2); ++i) pool.emplace_back([&] { ingest_ioc.run(); });
  for (long long i = 1; i < threads; ++i) pool.emplace_back([&] { api_ioc.run(); });
  auto ingest_guard = boost::asio::make_work_guard(ingest_ioc);  // runs until stopped
  api_ioc.run();
  for (auto& t : pool) t.join();
  projector.stop();
  dispatcher.stop();  // in-flight attempts finish and are recorded
  std::cout << "contacts: stopped" << std::endl;
  return 0;
}

}  // namespace contacts::app
