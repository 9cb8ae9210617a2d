// What the process roles (DESIGN.md sections 8 and 9) share: their flags, the HTTP listeners
// they serve until a signal, the read-your-writes submitter and /metrics. Each role composes
// these with its own parts in its own file:
//   role_serve.cpp     serve: embedded log or Kafka, every part in one process
//   role_writer.cpp    project: a member of the writer group on Kafka, publishing changes
//   role_replica.cpp   api --replica: views of its own, folded quietly
//   role_webhooks.cpp  webhooks: a member of the dispatcher group on the change topic
//   role_ingest.cpp    ingest: the ingest listener alone
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <optional>
#include <string>

#include "api/handlers.h"
#include "app/commands.h"
#include "core/clock.h"
#include "http/probe.h"
#include "ingest/ingest_handler.h"
#include "projector/live_fold.h"
#include "webhooks/dispatcher.h"

namespace contacts::app {

// Which role a process runs: its flags, usage text and description.
enum class Node { kAll, kWriter, kReplica, kWebhooks, kIngest };

// What the flags of a node say, checked.
struct NodeConfig {
  std::string api_host, ingest_host;
  uint16_t api_port = 0, ingest_port = 0;
  long long max_body = 0, threads = 0;
  long long wait_threads = 0;  // of the API's waiting pool; ingest's has half as many
  // Open connections each listener may hold, and each source address on each.
  long long api_connections = 0, ingest_connections = 0, per_client = 0;
  DispatcherOptions hooks;
};

// Parses the node's flags; prints the usage or the error and returns the exit code when it
// should not go on.
std::optional<int> parse_node_flags(Node node, Flags& flags, NodeConfig& config, int argc,
                                    char** argv);

// Appends a command and waits until the live projector applied it: read-your-writes, across
// a rebuild's swap too.
class LogSubmitter final : public CommandSubmitter {
 public:
  LogSubmitter(Log& log, LiveFold& fold) : log_(log), fold_(fold) {}
  Result<int64_t> submit(Command command) override;

 private:
  Log& log_;
  LiveFold& fold_;
};

// A replica or dispatcher node emits nothing: no outbox entries, no dead letters (the
// writer's). It drops what a rebuild queued into its views, since nothing here takes it.
Status stay_quiet(Log& log, ViewStore& views, Projector& projector);

// The ingest listener's parts: its handler's context, its options and its metrics.
struct IngestParts {
  IngestParts(const OpenedLog& log, const Flags& flags, const NodeConfig& config);
  Handler handler();
  // Adds the ingest series (records accepted, the listener's requests) to `metrics`.
  void add_to(Exposition& metrics) const;

  std::atomic<uint64_t> accepted{0};
  SystemClock clock;
  HttpProbe probe{"ingest", {kIngestRoutes.begin(), kIngestRoutes.end()}};
  IngestContext context;
  HttpServerOptions options;
};

// Runs the listeners until SIGTERM/SIGINT, then lets open requests finish (up to
// kDrainTimeout). The first listener gets `threads` I/O threads, the others half as many each.
void run_until_signalled(std::vector<std::pair<HttpServer*, boost::asio::io_context*>> servers,
                         long long threads);

// What a role adds to the HTTP side of a node with views.
struct RoleParts {
  DeliveryStore* deliveries = nullptr;          // webhook deliveries kept here, if any
  std::function<bool(WorkspaceId)> holds;       // null: every workspace
  std::function<void(Exposition&)> metrics;     // the role's own series, added first
  const DispatcherStats* dispatcher = nullptr;  // null: zeros
  bool ingest = false;                          // the ingest listener too (serve)
};

// Serves the API (and ingest) of a node with views until SIGTERM/SIGINT, then lets open
// requests finish. Returns the exit code; the caller stops its parts afterwards.
// Also listens on the control socket (app/control.h), for online rebuilds.
int serve_http(Node node, const Flags& flags, const NodeConfig& config, const OpenedLog& log,
               LiveFold& fold, const RoleParts& parts);

// The erasure compaction (README, Personal data): flushes and compacts the live views, the key
// store and the webhook store (any of them absent is skipped), so that what erasures removed
// leaves no byte in their files. A node runs it every kErasureCompactionInterval after an
// erasure; `contacts compact` runs it now.
inline constexpr std::chrono::minutes kErasureCompactionInterval{60};
Status compact_erased(const LiveViews* views, KeyStore* keys, const DeliveryStore* deliveries);

// Adds the series every process has to `metrics`: contacts_build_info, process_*, and the sizes
// of the stores `log` holds here (the embedded log and its key store).
void add_process_series(Exposition& metrics, const OpenedLog& log);

// Role entry points (their files). Each configures and starts `fold`.
int run_node_serve(Flags& flags, const NodeConfig& config, const OpenedLog& log, LiveFold& fold);
int run_node_writer(Flags& flags, const NodeConfig& config, const OpenedLog& log, LiveFold& fold);
int run_node_replica(Flags& flags, const NodeConfig& config, const OpenedLog& log, LiveFold& fold);
int run_node_webhooks(Flags& flags, const NodeConfig& config, const OpenedLog& log, LiveFold& fold);
int run_node_ingest(const Flags& flags, const NodeConfig& config, const OpenedLog& log);

// The command's name ("serve", "project", ...).
std::string_view node_command(Node node);

}  // namespace contacts::app
