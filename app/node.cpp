#include "app/node.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "api/auth.h"
#include "app/backup.h"
#include "app/control.h"
#include "core/command_codec.h"
#include "core/log.h"
#include "core/version.h"
#include "privacy/embedded_key_store.h"

namespace contacts::app {

namespace {

constexpr std::chrono::seconds kDrainTimeout{10};
// Threads of the API's waiting pool (requests that may wait: any but GET and HEAD); ingest's
// pool gets half as many. Each sleeps while its request waits, so the count bounds how many
// writes wait at once, not the CPU they take.
constexpr long long kDefaultWaitThreads = 32;

// One I/O thread per core: reads never block (writes wait on the pool), and more threads than
// cores only queue behind each other (docs/decisions.md, "API threads").
long long default_http_threads() { return std::max(1U, std::thread::hardware_concurrency()); }

// The flags of `node`'s command: the ingest node has no API, views or webhooks, so their flags
// are not offered (an unknown flag is an error, not ignored).
std::vector<FlagSpec> node_flags(Node node) {
  std::vector<FlagSpec> specs = {
      data_flag(),
      {"listen", "CONTACTS_LISTEN", "127.0.0.1:8080", "API listener HOST:PORT"},
      {"ingest-listen", "CONTACTS_INGEST_LISTEN", "127.0.0.1:8081", "ingest listener HOST:PORT"},
      brokers_flag(),
      topic_prefix_flag(),
      partitions_flag(),
      key_flags()[0],
      key_flags()[1],
      key_flags()[2],
      key_flags()[3],
      {"jwt-secret", "CONTACTS_JWT_SECRET", "", "HS256 secret for JWTs (none: JWTs refused)", false,
       /*secret=*/true},
      {"ingest-token", "CONTACTS_INGEST_TOKEN", "",
       "bearer token of POST /v1/commands (none: refuse all)", false, /*secret=*/true},
      {"ingest-max-body", "CONTACTS_INGEST_MAX_BODY", std::to_string(kDefaultIngestBodyLimit),
       "largest ingest body in bytes (413 past it)"},
      {"http-threads", "CONTACTS_HTTP_THREADS", std::to_string(default_http_threads()),
       "API I/O threads, default the cores present (ingest gets half as many); reads run on "
       "them, and requests that may wait (any but GET and HEAD) on the waiting pool"},
      {"http-wait-threads", "CONTACTS_HTTP_WAIT_THREADS", std::to_string(kDefaultWaitThreads),
       "threads of the API's pool for requests that may wait: a DELETE or POST waits until the "
       "projector applied it, an ingest POST for the log (ingest's pool gets half as many)"},
      {"max-connections", "CONTACTS_MAX_CONNECTIONS", "auto",
       "most open API connections; auto: three quarters of the open-file limit (raised to its "
       "hard limit at start) after a reserve for the stores, at most 16384"},
      {"ingest-max-connections", "CONTACTS_INGEST_MAX_CONNECTIONS", "auto",
       "most open ingest connections; auto: a quarter of that share, at most 4096"},
      {"max-connections-per-client", "CONTACTS_MAX_CONNECTIONS_PER_CLIENT",
       std::to_string(kDefaultMaxConnectionsPerClient),
       "most open connections of one source address on each listener (0: no limit, for a "
       "trusted proxy in front)"},
      cache_flag(),
      key_filter_flag(),
      read_index_flag(),
      response_cache_flag(),
      {"fold-nice", "CONTACTS_FOLD_NICE", "0",
       "nice value (0 to 19) of the projector's threads: above 0 the fold yields the cores to "
       "API requests when both want them (reads keep their latency, writes are applied later)"},
      {"webhook-allow-private", "CONTACTS_WEBHOOK_ALLOW_PRIVATE", "",
       "let webhook URLs resolve to private, loopback and link-local addresses", true},
      {"webhook-retry-schedule", "CONTACTS_WEBHOOK_RETRY_SCHEDULE", kDefaultRetrySchedule,
       "seconds before each retry of a failed webhook delivery, comma-separated"}};
  if (node == Node::kIngest) {
    static const std::set<std::string> kNotIngest = {"listen",
                                                     "jwt-secret",
                                                     "max-connections",
                                                     "cache-mb",
                                                     "key-filter-mb",
                                                     "read-index-mb",
                                                     "response-cache-mb",
                                                     "fold-nice",
                                                     "webhook-allow-private",
                                                     "webhook-retry-schedule"};
    std::erase_if(specs, [](const FlagSpec& s) { return kNotIngest.count(s.name) > 0; });
  }
  return specs;
}

std::optional<std::string> optional_flag(const Flags& flags, const std::string& name) {
  if (!flags.has(name)) return std::nullopt;
  return flags.get(name);
}

const std::string& node_summary(Node node) {
  static const std::map<Node, std::string> summaries = {
      {Node::kAll,
       "Runs the log (embedded or Kafka), projector, webhooks, API and ingest in one process."},
      {Node::kWriter,
       "The writer on Kafka: a member of the group contacts-projector; folds the partitions it is "
       "assigned into its views, publishes every change on contacts.changes, serves the API."},
      {Node::kReplica,
       "A read replica on Kafka: folds the command topic into views of its own and serves the "
       "API."},
      {Node::kWebhooks,
       "A webhook dispatcher on Kafka: a member of the group contacts-webhooks on "
       "contacts.changes; "
       "keeps views of its own (subscriptions, roles) and serves the API with deliveries."},
      {Node::kIngest, "The ingest listener alone, appending to Kafka."}};
  return summaries.at(node);
}

// Why the checked flags of `node` do not make a node; empty when they do.
std::string check_node_flags(Node node, const Flags& flags, NodeConfig& config) {
  std::string error;
  const bool api = node != Node::kIngest;
  if (api && !split_host_port(flags.get("listen"), config.api_host, config.api_port))
    return "--listen must be HOST:PORT";
  if (!split_host_port(flags.get("ingest-listen"), config.ingest_host, config.ingest_port))
    return "--ingest-listen must be HOST:PORT";
  if (!flags.integer("ingest-max-body", 1024, 1LL << 32, config.max_body, error) ||
      !flags.integer("http-threads", 1, 256, config.threads, error) ||
      !flags.integer("http-wait-threads", 1, 1024, config.wait_threads, error) ||
      !flags.integer("max-connections-per-client", 0, 1 << 20, config.per_client, error))
    return error;
  ConnectionBudget budget = connection_budget(raise_open_file_limit());
  config.api_connections = static_cast<long long>(budget.api);
  config.ingest_connections = static_cast<long long>(budget.ingest);
  if ((api && flags.get("max-connections") != "auto" &&
       !flags.integer("max-connections", 1, 1 << 20, config.api_connections, error)) ||
      (flags.get("ingest-max-connections") != "auto" &&
       !flags.integer("ingest-max-connections", 1, 1 << 20, config.ingest_connections, error)))
    return error + " (or auto)";
  if (api) {
    config.hooks.allow_private = flags.enabled("webhook-allow-private");
    auto schedule = parse_retry_schedule(flags.get("webhook-retry-schedule"));
    if (!schedule.ok()) return "--webhook-retry-schedule: " + schedule.status().message();
    config.hooks.retry_schedule = *schedule;
  }
  if (node != Node::kAll && !flags.has("brokers"))
    return "--brokers is required: on the embedded log, `contacts serve` runs every part in one "
           "process";
  if (node == Node::kReplica && !flags.enabled("replica"))
    return "--replica is required: an API node keeps views of its own (the writer's are `contacts "
           "serve`'s)";
  return {};
}

std::string node_description(Node node, const std::string& prefix) {
  switch (node) {
    case Node::kWriter:
      return " (writer in group " + prefix + "contacts-projector)";
    case Node::kWebhooks:
      return " (webhook dispatcher in group " + prefix + "contacts-webhooks)";
    case Node::kReplica:
      return " (read replica)";
    default:
      return "";
  }
}

// Wraps a handler so that each request's duration and status land in `probe`, under the route
// `route_of` names (a pure function of the request: the handler stays as it is).
template <typename Handle>
Handler measured(HttpProbe& probe, std::string_view (*route_of)(const HttpRequest&),
                 Handle handle) {
  return [&probe, route_of, handle](const HttpRequest& r) {
    auto start = std::chrono::steady_clock::now();
    HttpResponse response = handle(r);
    probe.record(route_of(r), std::chrono::steady_clock::now() - start, response.result_int());
    return response;
  };
}

// /metrics of a node with views, on each of its listeners.
std::string metrics_text(const OpenedLog& log, const RoleParts& parts, LiveFold& fold,
                         const IngestParts& ingest, const HttpProbe& api_probe,
                         const Clock& clock) {
  Exposition metrics;
  add_process_series(metrics, log);
  if (parts.metrics) parts.metrics(metrics);
  if (parts.dispatcher) parts.dispatcher->add_to(metrics);
  if (parts.deliveries) {
    add_backlog_metrics(metrics, *parts.deliveries, clock.now_millis());
    add_store_sizes(metrics, "deliveries", parts.deliveries->sizes());
  }
  fold.add_metrics(metrics);
  if (parts.ingest) ingest.add_to(metrics);
  api_probe.add_to(metrics);
  return metrics.text();
}

// Runs `node` on the log and views it opened.
int run_role(Node node, Flags& flags, const NodeConfig& config, const OpenedLog& log,
             LiveFold& fold) {
  switch (node) {
    case Node::kAll:
      return run_node_serve(flags, config, log, fold);
    case Node::kWriter:
      return run_node_writer(flags, config, log, fold);
    case Node::kReplica:
      return run_node_replica(flags, config, log, fold);
    case Node::kWebhooks:
      return run_node_webhooks(flags, config, log, fold);
    case Node::kIngest:
      break;
  }
  return run_node_ingest(flags, config, log);
}

int run_node(Node node, int argc, char** argv) {
  const std::string command(node_command(node));
  Flags flags;
  NodeConfig config;
  if (auto rc = parse_node_flags(node, flags, config, argc, argv)) return *rc;
  auto log = open_log(flags, /*with_keys=*/true);
  if (!log) return 1;
  if (node == Node::kIngest) return run_node_ingest(flags, config, log);
  auto views = view_options(flags);
  if (!views.ok()) {
    log::error(views.status().message(), {{"command", command}});
    return 1;
  }
  LiveFoldOptions options;
  options.views = *views;
  long long nice = 0;
  std::string error;
  if (!flags.integer("fold-nice", 0, 19, nice, error)) {
    log::error(error, {{"command", command}});
    return 1;
  }
  options.fold_nice = static_cast<int>(nice);
  options.rebuild_before_serving = node != Node::kWriter;
  options.keys = log.keys();
  options.erases = node == Node::kAll || node == Node::kWriter;
  auto fold = LiveFold::open(*log, flags.get("data"), options);
  if (!fold.ok()) {
    log::error(fold.status().message(), {{"command", command}});
    return 1;
  }
  return run_role(node, flags, config, log, **fold);
}

}  // namespace

// Runs the erasure compaction every kErasureCompactionInterval when the node deleted a contact
// (every node with views folds deletes: the writer's, a replica's, a dispatcher's) or finished a
// webhook delivery (whose body it then dropped) since the last one; stops with the node.
class ErasureCompactor {
 public:
  ErasureCompactor(LiveFold& fold, const DispatcherStats* dispatcher,
                   std::function<Status()> compact)
      : fold_(fold),
        dispatcher_(dispatcher),
        compact_(std::move(compact)),
        thread_([this] { run(); }) {}
  ~ErasureCompactor() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    uint64_t compacted_at = 0;
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kErasureCompactionInterval, [&] { return stopping_; })) {
      auto projector = fold_.projector();
      uint64_t activity = projector ? projector->stats().deletes.load() : 0;
      if (dispatcher_) activity += dispatcher_->succeeded.load() + dispatcher_->failed.load();
      if (activity == compacted_at) continue;
      lock.unlock();
      if (auto s = compact_(); !s.ok())
        log::error("the erasure compaction failed (retried in an hour)", {{"error", s.message()}});
      else
        compacted_at = activity;
      lock.lock();
    }
  }

  LiveFold& fold_;
  const DispatcherStats* dispatcher_;
  std::function<Status()> compact_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

std::string_view node_command(Node node) {
  switch (node) {
    case Node::kAll:
      return "serve";
    case Node::kWriter:
      return "project";
    case Node::kReplica:
      return "api";
    case Node::kWebhooks:
      return "webhooks";
    case Node::kIngest:
      break;
  }
  return "ingest";
}

std::optional<int> parse_node_flags(Node node, Flags& flags, NodeConfig& config, int argc,
                                    char** argv) {
  const std::string command(node_command(node));
  auto specs = node_flags(node);
  if (node == Node::kReplica)
    specs.push_back({"replica", "CONTACTS_REPLICA", "",
                     "required: this node keeps views of its own and emits nothing", true});
  if (int rc = parse_or_exit(flags, command, node_summary(node), specs, argc, argv); rc >= 0)
    return rc;
  std::string error = check_node_flags(node, flags, config);
  if (error.empty()) return std::nullopt;
  std::cerr << "contacts " << command << ": " << error << "\n";
  return 2;
}

Result<int64_t> LogSubmitter::submit(Command command) {
  const std::string key = std::to_string(command.workspace_id.value);
  // A writer that does not own the workspace's partition could not read its own write:
  // refused before anything is appended, so a retry elsewhere applies it once.
  if (!fold_.owns(partition_for(key, log_.partitions())))
    return Status{Code::kUnavailable,
                  "This node does not hold this workspace's partition; ask a replica"};
  auto positions = log_.append({{key, encode_command(command)}});
  if (!positions.ok()) return Status{Code::kUnavailable, "Log unavailable"};
  LogPosition at = positions->front();
  if (!fold_.wait_applied(at, kApplyTimeout))
    return Status{Code::kUnavailable, "Timed out waiting for the change to apply"};
  return id_from_position(at.partition, at.offset, log_.partitions());
}

Status stay_quiet(Log& log, ViewStore& views, Projector& projector) {
  projector.set_quiet_before(std::vector<int64_t>(static_cast<size_t>(log.partitions()),
                                                  std::numeric_limits<int64_t>::max()));
  for (auto entries = views.outbox(10000); !entries.empty(); entries = views.outbox(10000)) {
    std::vector<int64_t> positions;
    for (const auto& entry : entries) positions.push_back(entry.position_id);
    if (auto s = views.remove_outbox(positions); !s.ok()) return s;
  }
  return {};
}

IngestParts::IngestParts(const OpenedLog& log, const Flags& flags, const NodeConfig& config)
    : context{*log, optional_flag(flags, "ingest-token"), clock, &accepted, log.keys(), {}} {
  options.body_limit = static_cast<size_t>(config.max_body);
  options.max_connections = static_cast<size_t>(config.ingest_connections);
  options.max_connections_per_client = static_cast<size_t>(config.per_client);
  // POST /v1/commands waits for the log's append: off the I/O threads.
  options.waiting_threads = static_cast<size_t>(std::max(1LL, config.wait_threads / 2));
  options.header_check = [this](const http::request_header<>& h) {
    return check_ingest_header(context, h);
  };
}

Handler IngestParts::handler() {
  return measured(probe, ingest_route,
                  [this](const HttpRequest& r) { return handle_ingest_request(context, r); });
}

void IngestParts::add_to(Exposition& metrics) const {
  metrics.counter("contacts_ingest_accepted_total",
                  "Commands the ingest listener appended to the log.",
                  static_cast<double>(accepted.load()));
  probe.add_to(metrics);
}

void add_process_series(Exposition& metrics, const OpenedLog& log) {
  metrics.gauge("contacts_build_info", "1, labelled with the version of contacts and of RocksDB.",
                1, {{"version", std::string(kVersion)}, {"rocksdb", rocksdb_version()}});
  add_process_metrics(metrics);
  if (const auto* embedded = dynamic_cast<const EmbeddedLog*>(&*log))
    add_store_sizes(metrics, "log", embedded->sizes());
  if (const auto* keys = dynamic_cast<const EmbeddedKeyStore*>(log.keys()))
    add_store_sizes(metrics, "keys", keys->sizes());
}

void run_until_signalled(std::vector<std::pair<HttpServer*, boost::asio::io_context*>> servers,
                         long long threads) {
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
  // A burst of ingest uploads never queues behind API reads, nor the reverse.
  std::vector<std::thread> pool;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  for (size_t i = 1; i < servers.size(); ++i) {
    guards.push_back(boost::asio::make_work_guard(*servers[i].second));  // runs until stopped
    for (long long t = 0; t < std::max(1LL, threads / 2); ++t)
      pool.emplace_back([ioc = servers[i].second] { ioc->run(); });
  }
  for (long long t = 1; t < threads; ++t) pool.emplace_back([&] { main_ioc.run(); });
  main_ioc.run();
  for (auto& t : pool) t.join();
}

int serve_http(Node node, const Flags& flags, const NodeConfig& config, const OpenedLog& log,
               LiveFold& fold, const RoleParts& parts) {
  const std::string command(node_command(node));
  SystemClock clock;
  HttpProbe api_probe("api", {kApiRoutes.begin(), kApiRoutes.end()});
  IngestParts ingest(log, flags, config);
  Authenticator auth(optional_flag(flags, "jwt-secret"), clock);
  LogSubmitter submitter(*log, fold);
  ApiContext api_ctx{fold.views(),
                     auth,
                     submitter,
                     clock,
                     [&] { return fold.caught_up(); },
                     [&] { return metrics_text(log, parts, fold, ingest, api_probe, clock); },
                     parts.deliveries,
                     config.hooks.allow_private,
                     parts.holds,
                     [&] { return fold.state_json(); }};
  auto compact = [&] { return compact_erased(&fold.views(), log.keys(), parts.deliveries); };
  // Erased people's bytes leave the files within the interval: a compaction after erasures.
  ErasureCompactor compactor(fold, parts.dispatcher, compact);
  // Without it the node serves all the same; only rebuilds while serving are out of reach.
  auto backup = [&](const std::string& dir) {
    return backup_running_node(fold, log, parts.deliveries, dir);
  };
  auto control = ControlSocket::open(control_path(flags.get("data")), fold, compact, backup);
  if (!control.ok())
    log::warn(control.status().message() + " (no rebuild while serving on this node)",
              {{"command", command}});
  boost::asio::io_context api_ioc, ingest_ioc;
  HttpServerOptions api_options;
  api_options.max_connections = static_cast<size_t>(config.api_connections);
  api_options.max_connections_per_client = static_cast<size_t>(config.per_client);
  api_options.waiting_threads = static_cast<size_t>(config.wait_threads);
  api_options.header_check = [&](const http::request_header<>& h) {
    return check_api_header(api_ctx, h);
  };
  ingest.context.metrics_text = api_ctx.metrics_text;  // one process: the same series
  HttpServer api(api_ioc,
                 measured(api_probe, api_route,
                          [&](const HttpRequest& r) { return handle_api_request(api_ctx, r); }),
                 api_options);
  HttpServer ingest_server(ingest_ioc, ingest.handler(), ingest.options);
  std::vector<std::pair<HttpServer*, boost::asio::io_context*>> servers = {{&api, &api_ioc}};
  if (parts.ingest) servers.emplace_back(&ingest_server, &ingest_ioc);
  for (auto [server, host, port] :
       {std::tuple{&api, config.api_host, config.api_port},
        std::tuple{&ingest_server, config.ingest_host, config.ingest_port}}) {
    if (server == &ingest_server && !parts.ingest) continue;
    if (auto s = server->listen(host, port); !s.ok()) {
      log::error(s.message(), {{"command", command}});
      return 1;
    }
  }
  std::string where =
      "API listening on http://" + config.api_host + ":" + std::to_string(api.port());
  if (parts.ingest)
    where +=
        ", ingest on http://" + config.ingest_host + ":" + std::to_string(ingest_server.port());
  log::info(where + node_description(node, flags.get("topic-prefix")) + ", data in " +
            flags.get("data") + " (" + describe_log(flags, log) + ")");
  run_until_signalled(servers, config.threads);
  return 0;
}

Status compact_erased(const LiveViews* views, KeyStore* keys, const DeliveryStore* deliveries) {
  if (views)
    if (auto live = views->get()) {
      if (auto s = live->flush(); !s.ok()) return s;
      if (auto s = live->compact(); !s.ok()) return s;
    }
  if (keys)
    if (auto s = keys->compact(); !s.ok()) return s;
  if (deliveries)
    if (auto s = deliveries->compact(); !s.ok()) return s;
  return {};
}

int run_serve(int argc, char** argv) { return run_node(Node::kAll, argc, argv); }
int run_api(int argc, char** argv) { return run_node(Node::kReplica, argc, argv); }
int run_project(int argc, char** argv) { return run_node(Node::kWriter, argc, argv); }
int run_webhooks(int argc, char** argv) { return run_node(Node::kWebhooks, argc, argv); }
int run_ingest(int argc, char** argv) { return run_node(Node::kIngest, argc, argv); }

}  // namespace contacts::app
