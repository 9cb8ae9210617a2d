// contacts serve | project | api --replica | webhooks | ingest: the processes of DESIGN.md
// sections 8 and 9, from one wiring. `serve` runs every part in one process (embedded log or
// Kafka); the others are the parts of a deployment on Kafka.
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include "api/auth.h"
#include "api/handlers.h"
#include "http/probe.h"
#include "app/commands.h"
#include "core/command_codec.h"
#include "core/console.h"
#include "ingest/ingest_handler.h"
#include "bus/kafka_group.h"
#include "projector/change_publisher.h"
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
    const std::string key = std::to_string(command.workspace_id.value);
    // A writer that does not own the workspace's partition could not read its own write:
    // refused before anything is appended, so a retry elsewhere applies it once.
    if (!projector_.owns(partition_for(key, log_.partitions())))
      return Status{Code::kUnavailable, "This node does not hold this workspace's partition; ask a replica"};
    auto positions = log_.append({{key, encode_command(command)}});
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
                         const HttpProbe& api_probe, const HttpProbe& ingest_probe, const Dispatcher* dispatcher,
                         const ChangePublisher* publisher) {
  std::ostringstream out;
  if (publisher)
    out << "# TYPE contacts_changes_published_total counter\ncontacts_changes_published_total "
        << publisher->published() << "\n";
  static const DispatcherStats none;
  const DispatcherStats& hooks = dispatcher ? dispatcher->stats() : none;
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
  auto ends = log.end_offsets();
  for (int32_t p : projector.owned())
    out << "contacts_consumer_lag{partition=\"" << p << "\"} "
        << ends[static_cast<size_t>(p)].value - projector.applied(Partition(p)).value << "\n";
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
          key_filter_flag(),
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

namespace {

// Which parts a process runs (DESIGN.md sections 8 and 9).
enum class Node {
  kAll,       // serve: the writer's fold, the outbox and webhooks, the API, ingest
  kWriter,    // project: a member of the writer group; folds its partitions, publishes changes
  kReplica,   // api --replica: views of its own, folded quietly; the API only
  kWebhooks,  // webhooks: a member of the dispatcher group on the change topic (views of its own)
  kIngest,    // ingest: the ingest listener only
};

std::string_view node_command(Node node) {
  switch (node) {
    case Node::kAll: return "serve";
    case Node::kWriter: return "project";
    case Node::kReplica: return "api";
    case Node::kWebhooks: return "webhooks";
    case Node::kIngest: break;
  }
  return "ingest";
}


// Runs the listeners until SIGTERM/SIGINT, then lets open requests finish (up to kDrainTimeout).
void run_until_signalled(std::vector<std::pair<HttpServer*, boost::asio::io_context*>> servers, long long threads) {
  boost::asio::io_context& main_ioc = *servers.front().second;
  boost::asio::signal_set signals(main_ioc, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(main_ioc);
  auto deadline = std::chrono::steady_clock::time_point::max();
  std::function<void()> check_drained = [&] {
    bool drained = true;
    for (auto [server, ioc] : servers) drained = drained && server->open_connections() == 0;
    if (drained || std::chrono::steady_clock::now() >= deadline) {
      for (auto [server, ioc] : servers) ioc->stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait([&](const boost::system::error_code&) { check_drained(); });
  };
  signals.async_wait([&](const boost::system::error_code&, int) {
    for (auto [server, ioc] : servers) server->stop();
    deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    check_drained();
  });
  // The first listener gets `threads` threads, the others half as many each: a burst of
  // ingest uploads never queues behind API reads, nor the reverse.
  std::vector<std::thread> pool;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  for (size_t i = 1; i < servers.size(); ++i) {
    guards.push_back(boost::asio::make_work_guard(*servers[i].second));  // runs until stopped
    for (long long t = 0; t < std::max(1LL, threads / 2); ++t) pool.emplace_back([ioc = servers[i].second] { ioc->run(); });
  }
  for (long long t = 1; t < threads; ++t) pool.emplace_back([&] { main_ioc.run(); });
  main_ioc.run();
  for (auto& t : pool) t.join();
}

// What the flags of a node say, checked.
struct NodeConfig {
  std::string api_host, ingest_host;
  uint16_t api_port = 0, ingest_port = 0;
  long long max_body = 0, threads = 0;
  DispatcherOptions hooks;
};

// Parses the node's flags; prints the usage or the error and returns the exit code when it
// should not go on.
std::optional<int> parse_node_flags(Node node, Flags& flags, NodeConfig& config, int argc, char** argv) {
  const std::string command(node_command(node));
  auto specs = serve_flags();
  if (node == Node::kReplica)
    specs.push_back({"replica", "CONTACTS_REPLICA", "", "required: this node keeps views of its own and emits nothing", true});
  static const std::map<Node, std::string> summaries = {
      {Node::kAll, "Runs the log (embedded or Kafka), projector, webhooks, API and ingest in one process."},
      {Node::kWriter, "The writer on Kafka: a member of the group contacts-projector; folds the partitions it is "
                      "assigned into its views, publishes every change on contacts.changes, serves the API."},
      {Node::kReplica, "A read replica on Kafka: folds the command topic into views of its own and serves the API."},
      {Node::kWebhooks, "A webhook dispatcher on Kafka: a member of the group contacts-webhooks on contacts.changes; "
                        "keeps views of its own (subscriptions, roles) and serves the API with deliveries."},
      {Node::kIngest, "The ingest listener alone, appending to Kafka."}};
  if (int rc = parse_or_exit(flags, command, summaries.at(node), specs, argc, argv); rc >= 0) return rc;
  std::string error;
  if (!split_host_port(flags.get("listen"), config.api_host, config.api_port)) error = "--listen must be HOST:PORT";
  else if (!split_host_port(flags.get("ingest-listen"), config.ingest_host, config.ingest_port))
    error = "--ingest-listen must be HOST:PORT";
  else if (flags.integer("ingest-max-body", 1024, 1LL << 32, config.max_body, error) &&
           flags.integer("http-threads", 1, 256, config.threads, error))
    error.clear();
  config.hooks.allow_private = flags.enabled("webhook-allow-private");
  if (error.empty()) {
    auto schedule = parse_retry_schedule(flags.get("webhook-retry-schedule"));
    if (schedule.ok()) config.hooks.retry_schedule = *schedule;
    else error = "--webhook-retry-schedule: " + schedule.status().message();
  }
  if (error.empty() && node != Node::kAll && !flags.has("brokers"))
    error = "--brokers is required: on the embedded log, `contacts serve` runs every part in one process";
  if (error.empty() && node == Node::kReplica && !flags.enabled("replica"))
    error = "--replica is required: an API node keeps views of its own (the writer's are `contacts serve`'s)";
  if (error.empty()) return std::nullopt;
  std::cerr << "contacts " << command << ": " << error << "\n";
  return 2;
}

// Wraps a handler so that each request's duration and status land in `probe`.
template <typename Handle>
Handler measured(HttpProbe& probe, Handle handle) {
  return [&probe, handle](const HttpRequest& r) {
    auto start = std::chrono::steady_clock::now();
    HttpResponse response = handle(r);
    probe.record(std::chrono::steady_clock::now() - start, response.result_int());
    return response;
  };
}

// The parts of a node that run beside its listeners, on threads of their own: the projector,
// and by node the webhook dispatcher (serve, webhooks) or the writer group with its change
// publisher (project). stop() stops them in the order that loses nothing.
class Background {
 public:
  Background(Node node, const Flags& flags, const OpenedLog& log, ViewStore& views)
      : projector(*log, views), node_(node), flags_(flags), log_(*log), kafka_(log.kafka()),
        views_(views), prefix_(flags.get("topic-prefix")) {}

  Status start(const DispatcherOptions& hooks) {
    Status s;
    if (node_ == Node::kAll || node_ == Node::kWriter) send_dead_letters();
    else s = stay_quiet();
    if (s.ok() && (node_ == Node::kAll || node_ == Node::kWebhooks)) s = start_dispatcher(hooks);
    if (s.ok() && node_ == Node::kWriter) s = join_writers();
    if (!s.ok()) return s;
    projector.start();
    return {};
  }

  void stop() {
    projector.stop();
    if (publisher) publisher->stop();  // publishes what is left and commits
    if (writers_) writers_->close();   // leaves the group: the partitions move at once
    writers_.reset();
    if (dispatcher) dispatcher->stop();  // in-flight attempts finish and are recorded
    dispatcher.reset();
    changes_.reset();  // a dispatcher group member leaves its group
  }

  Projector projector;
  std::unique_ptr<DeliveryStore> deliveries;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<ChangePublisher> publisher;

 private:
  void send_dead_letters() {
    if (!kafka_) return;
    projector.on_dead_letter([kafka = kafka_](const LogEntry& entry, const std::string& reason) {
      if (auto s = kafka->dead_letter(entry, reason); !s.ok())
        std::cerr << "contacts: dead letter not sent to " << kafka->dlq_topic() << ": " << s.message() << "\n";
    });
  }

  // A replica or dispatcher node emits nothing: no outbox entries, no dead letters (the
  // writer's), and it drops what a rebuild queued into its views, since nothing here takes it.
  Status stay_quiet() {
    projector.set_quiet_before(std::vector<int64_t>(static_cast<size_t>(log_.partitions()),
                                                    std::numeric_limits<int64_t>::max()));
    for (auto entries = views_.outbox(10000); !entries.empty(); entries = views_.outbox(10000)) {
      std::vector<int64_t> positions;
      for (const auto& entry : entries) positions.push_back(entry.position_id);
      if (auto s = views_.remove_outbox(positions); !s.ok()) return s;
    }
    return {};
  }

  Status start_dispatcher(const DispatcherOptions& hooks) {
    auto opened = DeliveryStore::open(webhooks_path(flags_.get("data")));
    if (!opened.ok()) return opened.status();
    deliveries = std::move(*opened);
    if (node_ == Node::kAll) {
      changes_ = std::make_unique<OutboxSource>(views_);
    } else {
      // A change names the subscriptions that wanted it; they exist here once the local views
      // have folded the change's own position.
      auto source = KafkaChangeSource::open(
          {flags_.get("brokers"), prefix_ + "contacts-webhooks", kafka_->changes_topic(), "contacts-webhooks"},
          [this, partitions = log_.partitions()](int64_t position) {
            auto [p, offset] = position_from_id(position, partitions);
            return projector.applied(p).value > offset.value;
          });
      if (!source.ok()) return source.status();
      changes_ = std::move(*source);
    }
    dispatcher = std::make_unique<Dispatcher>(views_, *changes_, *deliveries, hooks);
    if (node_ == Node::kAll) projector.on_changes([this](const std::vector<Change>&) { dispatcher->notify(); });
    dispatcher->start();
    return {};
  }

  // Folds only the partitions the group assigns, each from the offset its own views stored, and
  // quietly up to the offset the group committed (the previous owner published those changes).
  Status join_writers() {
    projector.set_change_scope(ChangeScope::kAll);
    std::vector<int32_t> all;
    for (int32_t p = 0; p < log_.partitions(); ++p) all.push_back(p);
    projector.set_owned(all, false);
    publisher = std::make_unique<ChangePublisher>(views_, *kafka_, projector,
                                                  [this](const auto& offsets) { return writers_->commit(offsets); });
    KafkaGroupHandlers handlers;
    handlers.assigned = [this](const std::vector<int32_t>& partitions) { assigned(partitions); };
    handlers.revoking = [this](const std::vector<int32_t>& partitions) {
      // Between two batches: publish what they applied and commit, then let them go.
      if (auto s = publisher->flush(); !s.ok()) std::cerr << "contacts project: " << s.message() << "\n";
      projector.set_owned(partitions, false);
      print_line("contacts: project: revoked partitions " + partition_list(partitions));
    };
    auto group = KafkaGroup::join({flags_.get("brokers"), prefix_ + "contacts-projector", kafka_->commands_topic(),
                                   "contacts-project", /*pause_assigned=*/true},
                                  std::move(handlers));
    if (!group.ok()) return group.status();
    writers_ = std::move(*group);
    projector.between_steps([this] {
      if (auto polled = writers_->poll(0, 0); !polled.ok())
        std::cerr << "contacts project: " << polled.status().message() << "\n";
    });
    projector.on_queued([this](std::vector<QueuedChange>&& entries) { publisher->queue(std::move(entries)); });
    publisher->start();
    return {};
  }

  void assigned(const std::vector<int32_t>& partitions) {
    auto committed = writers_->committed(partitions);
    for (int attempt = 1; attempt < 5 && !committed.ok(); ++attempt) {  // e.g. the coordinator is loading
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      committed = writers_->committed(partitions);
    }
    if (!committed.ok())
      std::cerr << "contacts project: " << committed.status().message()
                << " (changes of these partitions may be published again)\n";
    for (int32_t p : partitions) {
      int64_t quiet = committed.ok() && committed->count(p) ? committed->at(p) : 0;
      projector.set_quiet_before(p, quiet);
      publisher->assigned(p, quiet);
    }
    projector.set_owned(partitions, true);
    print_line("contacts: project: assigned partitions " + partition_list(partitions));
  }

  const Node node_;
  const Flags& flags_;
  Log& log_;
  KafkaLog* const kafka_;  // null on the embedded log
  ViewStore& views_;
  const std::string prefix_;
  std::unique_ptr<ChangeSource> changes_;
  std::unique_ptr<KafkaGroup> writers_;
};

// `contacts ingest`: the ingest listener alone.
int run_ingest_node(const Flags& flags, const NodeConfig& config, const OpenedLog& log, IngestContext& ingest_ctx,
                    HttpProbe& ingest_probe, const HttpServerOptions& ingest_options) {
  boost::asio::io_context ingest_ioc;
  HttpServer ingest(ingest_ioc,
                    measured(ingest_probe, [&](const HttpRequest& r) { return handle_ingest_request(ingest_ctx, r); }),
                    ingest_options);
  if (auto s = ingest.listen(config.ingest_host, config.ingest_port); !s.ok()) {
    std::cerr << "contacts ingest: " << s.message() << "\n";
    return 1;
  }
  print_line("contacts: ingest listening on http://" + config.ingest_host + ":" + std::to_string(ingest.port()) + " (" +
             describe_log(flags, log) + ")");
  run_until_signalled({{&ingest, &ingest_ioc}}, std::max(2LL, config.threads / 2));
  print_line("contacts: stopped");
  return 0;
}

std::string node_description(Node node, const std::string& prefix) {
  switch (node) {
    case Node::kWriter: return " (writer in group " + prefix + "contacts-projector)";
    case Node::kWebhooks: return " (webhook dispatcher in group " + prefix + "contacts-webhooks)";
    case Node::kReplica: return " (read replica)";
    default: return "";
  }
}

int run_node(Node node, int argc, char** argv) {
  const std::string command(node_command(node));
  Flags flags;
  NodeConfig config;
  if (auto rc = parse_node_flags(node, flags, config, argc, argv)) return *rc;
  auto log = open_log(flags);
  if (!log) return 1;
  std::atomic<uint64_t> accepted{0};
  SystemClock clock;
  HttpProbe api_probe("api"), ingest_probe("ingest");
  IngestContext ingest_ctx{*log, optional_flag(flags, "ingest-token"), clock, &accepted};
  HttpServerOptions ingest_options;
  ingest_options.body_limit = static_cast<size_t>(config.max_body);
  ingest_options.header_check = [&](const http::request_header<>& h) { return check_ingest_header(ingest_ctx, h); };
  if (node == Node::kIngest) return run_ingest_node(flags, config, log, ingest_ctx, ingest_probe, ingest_options);

  auto views = open_views(views_path(flags.get("data")), flags);
  if (!views.ok()) {
    std::cerr << "contacts " << command << ": " << views.status().message() << "\n";
    return 1;
  }
  Background background(node, flags, log, **views);
  if (auto s = background.start(config.hooks); !s.ok()) {
    std::cerr << "contacts " << command << ": " << s.message() << "\n";
    background.stop();
    return 1;
  }
  Projector& projector = background.projector;
  Authenticator auth(**views, optional_flag(flags, "jwt-secret"), clock);
  LogSubmitter submitter(*log, projector);
  ApiContext api_ctx{**views, auth, submitter, clock, [&] { return projector.caught_up(); },
                     [&] {
                       return metrics_text(*log, projector, accepted, api_probe, ingest_probe,
                                           background.dispatcher.get(), background.publisher.get());
                     },
                     background.deliveries.get(), config.hooks.allow_private, nullptr};
  if (node == Node::kWriter)
    api_ctx.holds = [&projector, partitions = log->partitions()](WorkspaceId ws) {
      return projector.owns(partition_for(std::to_string(ws.value), partitions));
    };
  boost::asio::io_context api_ioc, ingest_ioc;
  HttpServer api(api_ioc, measured(api_probe, [&](const HttpRequest& r) { return handle_api_request(api_ctx, r); }),
                 HttpServerOptions{});
  HttpServer ingest(ingest_ioc,
                    measured(ingest_probe, [&](const HttpRequest& r) { return handle_ingest_request(ingest_ctx, r); }),
                    ingest_options);
  std::vector<std::pair<HttpServer*, boost::asio::io_context*>> servers = {{&api, &api_ioc}};
  if (node == Node::kAll) servers.emplace_back(&ingest, &ingest_ioc);
  for (auto [server, host, port] : {std::tuple{&api, config.api_host, config.api_port},
                                    std::tuple{&ingest, config.ingest_host, config.ingest_port}}) {
    if (server == &ingest && node != Node::kAll) continue;
    if (auto s = server->listen(host, port); !s.ok()) {
      std::cerr << "contacts " << command << ": " << s.message() << "\n";
      background.stop();
      return 1;
    }
  }
  std::string where = "contacts: API listening on http://" + config.api_host + ":" + std::to_string(api.port());
  if (node == Node::kAll) where += ", ingest on http://" + config.ingest_host + ":" + std::to_string(ingest.port());
  print_line(where + node_description(node, flags.get("topic-prefix")) + ", data in " + flags.get("data") + " (" +
             describe_log(flags, log) + ")");

  run_until_signalled(servers, config.threads);
  background.stop();
  print_line("contacts: stopped");
  return 0;
}

}  // namespace

int run_serve(int argc, char** argv) { return run_node(Node::kAll, argc, argv); }
int run_api(int argc, char** argv) { return run_node(Node::kReplica, argc, argv); }
int run_project(int argc, char** argv) { return run_node(Node::kWriter, argc, argv); }
int run_webhooks(int argc, char** argv) { return run_node(Node::kWebhooks, argc, argv); }
int run_ingest(int argc, char** argv) { return run_node(Node::kIngest, argc, argv); }

}  // namespace contacts::app
