// The offline subcommands: produce, token, keys, rebuild, lag, and the helpers they share with
// serve (the key store's are in app/key_commands.cpp).
#include "app/commands.h"

#include <rocksdb/version.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "api/auth.h"
#include "api/handlers.h"
#include "app/control.h"
#include "bus/kafka_group.h"
#include "core/clock.h"
#include "core/command_codec.h"
#include "ingest/intake.h"
#include "projector/projector.h"
#include "projector/rebuild.h"

namespace contacts::app {

namespace fs = std::filesystem;

constexpr size_t kProduceBatchRecords = 10000;

FlagSpec data_flag() {
  return {"data", "CONTACTS_DATA", "./data", "data directory (log and views)"};
}
FlagSpec partitions_flag() {
  return {"partitions", "CONTACTS_PARTITIONS", "8",
          "partitions of the log, fixed when it is created"};
}
FlagSpec cache_flag() {
  return {"cache-mb", "CONTACTS_CACHE_MB", "256", "RocksDB block cache of the views, in MiB"};
}
FlagSpec key_filter_flag() {
  return {"key-filter-mb", "CONTACTS_KEY_FILTER_MB", "16",
          "Bloom filter of the views' command ids and emails, in MiB (about 13M keys at 1% false "
          "positives)"};
}
FlagSpec read_index_flag() {
  return {
      "read-index-mb", "CONTACTS_READ_INDEX_MB", std::to_string(kDefaultReadIndexBytes >> 20),
      "memory for the read index of big workspaces (their contacts, list order and search "
      "grams, kept twice: about 1,200 bytes a contact), in MiB; past it the least recently read "
      "workspaces are dropped and read from RocksDB (0: none)"};
}
FlagSpec response_cache_flag() {
  return {"response-cache-mb", "CONTACTS_RESPONSE_CACHE_MB",
          std::to_string(kDefaultResponseCacheBytes >> 20),
          "memory for rendered responses of contact lists, searches, contacts and timelines, "
          "kept until a commit changes them, in MiB; past it they are all dropped (0: none)"};
}
FlagSpec brokers_flag() {
  return {"brokers", "CONTACTS_BROKERS", "", "Kafka bootstrap servers (absent: the embedded log)"};
}

std::string log_path(const std::string& data) { return (fs::path(data) / "log").string(); }
std::string webhooks_path(const std::string& data) {
  return (fs::path(data) / "webhooks").string();
}

std::string rocksdb_version() {
  return std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." +
         std::to_string(ROCKSDB_PATCH);
}

int parse_or_exit(Flags& flags, const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, int argc, char** argv,
                  const std::string& synopsis) {
  std::string error;
  if (!flags.parse(specs, argc, argv, error)) {
    std::cerr << "contacts " << command << ": " << error << "\n"
              << usage(command, summary, specs, synopsis);
    return 2;
  }
  if (flags.help()) {
    std::cout << usage(command, summary, specs, synopsis);
    return 0;
  }
  return -1;
}

FlagSpec topic_prefix_flag() {
  return {"topic-prefix", "CONTACTS_TOPIC_PREFIX", "",
          "prefix of the Kafka topic names (P + contacts.commands, ...)"};
}

OpenedLog open_log_only(const Flags& flags) {
  long long partitions = 8;
  std::string error;
  if (!flags.integer("partitions", 1, 4096, partitions, error)) {
    std::cerr << "contacts: " << error << "\n";
    return {};
  }
  std::error_code ec;
  fs::create_directories(flags.get("data"), ec);
  if (flags.has("brokers")) {
    KafkaOptions options;
    options.brokers = flags.get("brokers");
    options.topic_prefix = flags.has("topic-prefix") ? flags.get("topic-prefix") : "";
    options.partitions = static_cast<int32_t>(partitions);
    if (flags.has("erasure-window")) {
      auto window = parse_duration_seconds(flags.get("erasure-window"));
      if (!window || *window < 1) {
        std::cerr << "contacts: --erasure-window must be like 30s, 10m, 1h or 7d\n";
        return {};
      }
      options.changes_retention = std::chrono::seconds(*window);
    }
    auto log = KafkaLog::open(options);
    if (!log.ok()) {
      std::cerr << "contacts: " << log.status().message() << "\n";
      return {};
    }
    return OpenedLog(std::move(*log));
  }
  auto log = EmbeddedLog::open(log_path(flags.get("data")), static_cast<int32_t>(partitions));
  if (!log.ok()) {
    std::cerr << "contacts: " << log.status().message() << "\n";
    return {};
  }
  return OpenedLog(std::move(*log));
}

OpenedLog open_log(const Flags& flags, bool with_keys) {
  OpenedLog log = open_log_only(flags);
  if (!log || !with_keys) return log;
  auto keys = open_key_store(flags, log);
  if (!keys.ok()) {
    std::cerr << "contacts: " << keys.status().message() << "\n";
    return {};
  }
  log.set_keys(std::move(*keys));
  return log;
}

std::string describe_log(const Flags& flags, const OpenedLog& log) {
  std::string partitions = std::to_string(log->partitions()) + " partitions";
  if (const auto* kafka = log.kafka())
    return "Kafka at " + flags.get("brokers") + ", topic " + kafka->commands_topic() + ", " +
           partitions;
  return "embedded log, " + partitions;
}

Result<ViewStoreOptions> view_options(const Flags& flags) {
  ViewStoreOptions options;
  long long mb = 0;
  std::string error;
  if (!flags.integer("cache-mb", 8, 1 << 20, mb, error)) return Status{Code::kInvalid, error};
  options.block_cache_bytes = static_cast<size_t>(mb) << 20;
  if (!flags.integer("key-filter-mb", 1, 1024, mb, error)) return Status{Code::kInvalid, error};
  options.key_filter_bytes = static_cast<size_t>(mb) << 20;
  if (flags.has("read-index-mb")) {  // the commands that serve reads
    if (!flags.integer("read-index-mb", 0, 1 << 20, mb, error))
      return Status{Code::kInvalid, error};
    options.read_index_bytes = static_cast<size_t>(mb) << 20;
  }
  if (flags.has("response-cache-mb")) {
    if (!flags.integer("response-cache-mb", 0, 1 << 20, mb, error))
      return Status{Code::kInvalid, error};
    options.response_cache_bytes = static_cast<size_t>(mb) << 20;
  }
  return options;
}

Result<std::unique_ptr<ViewStore>> open_views(const std::string& path, const Flags& flags) {
  auto options = view_options(flags);
  if (!options.ok()) return options.status();
  return ViewStore::open(path, *options);
}

std::vector<FlagSpec> log_and_key_flags() {
  std::vector<FlagSpec> specs = {data_flag(), partitions_flag(), brokers_flag(),
                                 topic_prefix_flag()};
  for (auto& spec : key_flags()) specs.push_back(spec);
  return specs;
}

std::optional<std::string> read_input(const Flags& flags, const std::string& command) {
  std::stringstream buffer;
  if (flags.positional().empty() || flags.positional()[0] == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::ifstream in(flags.positional()[0], std::ios::binary);
  if (!in) {
    std::cerr << "contacts " << command << ": cannot read " << flags.positional()[0] << "\n";
    return std::nullopt;
  }
  buffer << in.rdbuf();
  return buffer.str();
}

bool intake_failed(const Intake& intake, const std::string& command, const std::string& what) {
  if (intake.error_count > 0) {
    for (const auto& e : intake.errors) std::cerr << "line " << e.line << ": " << e.reason << "\n";
    std::cerr << "contacts " << command << ": " << intake.error_count
              << " invalid line(s); nothing " << what << "\n";
    return true;
  }
  if (!intake.unavailable.ok()) {
    std::cerr << "contacts " << command << ": " << intake.unavailable.message() << "; nothing "
              << what << "\n";
    return true;
  }
  return false;
}

int run_produce(int argc, char** argv) {
  Flags flags;
  if (int rc = parse_or_exit(flags, "produce",
                             "Appends NDJSON commands from FILE (or stdin) to the log, all or "
                             "nothing, with personal fields sealed.",
                             log_and_key_flags(), argc, argv, "[FILE | -] [flags]");
      rc >= 0)
    return rc;
  auto body = read_input(flags, "produce");
  if (!body) return 1;
  auto log = open_log(flags, /*with_keys=*/true);
  if (!log) return 1;
  Intake intake = intake_ndjson(*body, SystemClock().now_seconds(), log.keys());
  if (intake_failed(intake, "produce", "appended")) return 1;
  // Validated as a whole above; appended in bounded batches so that one huge file never becomes
  // one huge write (the log would have to replay it in memory after a restart).
  size_t appended = 0;
  for (size_t at = 0; at < intake.records.size(); at += kProduceBatchRecords) {
    size_t end = std::min(intake.records.size(), at + kProduceBatchRecords);
    std::vector<LogRecord> batch(
        std::make_move_iterator(intake.records.begin() + static_cast<long>(at)),
        std::make_move_iterator(intake.records.begin() + static_cast<long>(end)));
    auto positions = log->append(batch);
    if (!positions.ok()) {
      std::cerr << "contacts produce: " << positions.status().message()
                << " after appending the first " << appended << " commands\n";
      return 1;
    }
    appended = end;
  }
  std::cout << "appended " << appended << " commands\n";
  return 0;
}

int run_token(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {
      {"jwt-secret", "CONTACTS_JWT_SECRET", "", "HS256 secret the API verifies tokens with", false,
       /*secret=*/true},
      {"user", "", "", "user id (the token's sub)"},
      {"ttl", "", "1h", "lifetime: seconds or 30s, 10m, 1h, 2d"}};
  if (int rc = parse_or_exit(flags, "token", "Mints a JWT for a user.", specs, argc, argv); rc >= 0)
    return rc;
  long long user = 0;
  std::string error;
  if (!flags.has("jwt-secret"))
    error = "--jwt-secret (or CONTACTS_JWT_SECRET) is required";
  else
    flags.integer("user", 1, kMaxSafeInteger, user, error);
  auto ttl = parse_duration_seconds(flags.get("ttl"));
  if (error.empty() && !ttl) error = "--ttl must be like 3600, 30s, 10m, 1h or 2d";
  if (!error.empty()) {
    std::cerr << "contacts token: " << error << "\n";
    return 2;
  }
  std::cout << mint_jwt(flags.get("jwt-secret"), user, SystemClock().now_seconds() + *ttl) << "\n";
  return 0;
}

int run_keys(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {data_flag(),
                                 partitions_flag(),
                                 brokers_flag(),
                                 topic_prefix_flag(),
                                 {"workspace", "", "", "workspace id the key is scoped to"},
                                 {"role", "", "owner", "owner, admin or member"},
                                 {"name", "", "bootstrap", "a name shown in listings"}};
  if (int rc = parse_or_exit(flags, "keys", "Appends a new API key to the log and prints it once.",
                             specs, argc, argv, "create --workspace N [flags]");
      rc >= 0)
    return rc;
  std::string error;
  long long ws = 0;
  if (flags.positional().size() != 1 || flags.positional()[0] != "create")
    error = "usage: contacts keys create --workspace N";
  else
    flags.integer("workspace", 1, kMaxSafeInteger, ws, error);
  auto role = role_from(flags.get("role"));
  if (error.empty() && !role) error = "--role must be owner, admin or member";
  if (!error.empty()) {
    std::cerr << "contacts keys: " << error << "\n";
    return 2;
  }
  NewApiKey key = generate_api_key();
  Command c;
  c.type = CommandType::kApiKeyCreate;
  c.command_id = new_command_id("keys");
  c.workspace_id = WorkspaceId(ws);
  c.occurred_at = SystemClock().now_seconds();
  c.key_name = flags.get("name");
  c.role = *role;
  c.key_hash = key.hash;
  c.key_prefix = key.prefix;
  std::string record = encode_command(c);
  if (!decode_command(record).ok()) {
    std::cerr << "contacts keys: invalid key command: " << decode_command(record).status().message()
              << "\n";
    return 2;
  }
  auto log = open_log(flags);
  if (!log) return 1;
  auto appended = log->append({{std::to_string(ws), record}});
  if (!appended.ok()) {
    std::cerr << "contacts keys: " << appended.status().message() << "\n";
    return 1;
  }
  std::cout << key.full_key << "\n";
  return 0;
}

namespace {

// "1,234,567"
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// One view of a rebuild's progress ({"phase", "folded", "target", "rate", "eta_seconds"}): a bar
// for a terminal, or a plain line.
std::string progress_text(const nlohmann::json& r, bool bar) {
  const uint64_t folded = r.value("folded", uint64_t{0}), target = r.value("target", uint64_t{0});
  const double share = target > 0 ? std::min(1.0, static_cast<double>(folded) / target) : 0.0;
  std::ostringstream out;
  if (bar) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(share * kWidth);
    out << "[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] ";
  } else {
    out << "rebuild " << r.value("phase", std::string()) << ": ";
  }
  out << static_cast<int>(share * 100) << "%  " << grouped(folded) << " / " << grouped(target)
      << " records  " << grouped(static_cast<uint64_t>(r.value("rate", 0.0))) << " records/s";
  if (r.contains("eta_seconds"))
    out << "  ETA " << static_cast<int64_t>(r["eta_seconds"].get<double>() + 0.5) << " s";
  if (bar) out << "  " << r.value("phase", std::string()) << "   ";
  return out.str();
}

// Follows the rebuild of the node on `socket` until it ends.
int follow_rebuild(const std::string& socket) {
  const bool tty = isatty(STDERR_FILENO);
  auto last_line = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  for (;;) {
    auto reply = control_request(socket, "status");
    if (!reply.ok()) {
      std::cerr << (tty ? "\n" : "") << "contacts rebuild: " << reply.status().message()
                << " (a node that restarts resumes the rebuild)\n";
      return 1;
    }
    auto rebuild = nlohmann::json::parse(*reply, nullptr, false).value("rebuild", nlohmann::json());
    const std::string phase = rebuild.value("phase", std::string());
    const bool over = phase != "folding" && phase != "swapping";
    if (tty) {
      std::cerr << "\r" << progress_text(rebuild, true) << (over ? "\n" : "") << std::flush;
    } else if (over || std::chrono::steady_clock::now() - last_line >= std::chrono::seconds(1)) {
      std::cerr << progress_text(rebuild, false) << "\n";
      last_line = std::chrono::steady_clock::now();
    }
    if (phase == "done") {
      std::cout << "rebuilt the views of the running node from "
                << rebuild.value("folded", uint64_t{0}) << " records in "
                << static_cast<int64_t>(rebuild.value("seconds", 0.0) * 1000) << " ms\n";
      return 0;
    }
    if (over) {
      std::cerr << "contacts rebuild: "
                << (phase == "failed" ? "failed: " + rebuild.value("error", std::string())
                                      : "the rebuild was " + phase)
                << "; the old views serve on\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// Rebuilds through the node running on `socket`.
int rebuild_online(const std::string& socket, const std::string& started) {
  auto reply = nlohmann::json::parse(started, nullptr, false);
  if (!reply.value("started", false)) {
    std::cerr << "contacts rebuild: " << reply.value("error", std::string("refused")) << "\n";
    return 1;
  }
  std::cerr << "rebuilding the views of the node running here while it serves (Ctrl-C leaves "
               "the rebuild running; `contacts rebuild --cancel` stops it)\n";
  return follow_rebuild(socket);
}

}  // namespace

int run_rebuild(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {
      data_flag(),
      partitions_flag(),
      cache_flag(),
      key_filter_flag(),
      brokers_flag(),
      topic_prefix_flag(),
      {"cancel", "", "", "cancel the rebuild of the node running on --data", true}};
  for (auto& spec : key_flags()) specs.push_back(spec);
  if (int rc = parse_or_exit(
          flags, "rebuild",
          "Rebuilds the views from offset 0 into a fresh view set and swaps it in. When a node "
          "runs on --data, it rebuilds while it serves (through its control socket, "
          "DATA/control.sock); otherwise this command does it.",
          specs, argc, argv);
      rc >= 0)
    return rc;
  const std::string socket = control_path(flags.get("data"));
  auto reply = control_request(socket, flags.enabled("cancel") ? "cancel" : "rebuild");
  if (flags.enabled("cancel")) {
    if (!reply.ok()) {
      std::cerr << "contacts rebuild: " << reply.status().message() << "\n";
      return 1;
    }
    auto j = nlohmann::json::parse(*reply, nullptr, false);
    const bool cancelled = j.value("cancelled", false);
    const std::string phase = j.value("rebuild", nlohmann::json::object()).value("phase", "");
    std::cout << (cancelled             ? "cancelled the rebuild; the old views serve on"
                  : phase == "swapping" ? "too late to cancel: the rebuild is swapping its views in"
                                        : "no rebuild is running")
              << "\n";
    return cancelled ? 0 : 1;
  }
  if (reply.ok()) return rebuild_online(socket, *reply);
  // No node listens (or none could: a path too long for a socket): this command folds, and
  // RocksDB's lock on the live views refuses it if a node holds them after all.
  if (reply.status().code() != Code::kUnavailable && reply.status().code() != Code::kInvalid) {
    std::cerr << "contacts rebuild: " << reply.status().message() << "\n";
    return 1;
  }
  auto log = open_log(flags, /*with_keys=*/true);
  if (!log) return 1;
  RebuildOptions options;
  options.keys = log.keys();
  options.data_dir = flags.get("data");
  auto views_options = view_options(flags);
  if (!views_options.ok()) {
    std::cerr << "contacts rebuild: " << views_options.status().message() << "\n";
    return 1;
  }
  options.views = *views_options;
  if (auto* kafka = log.kafka()) {
    // On Kafka, writers (`contacts project`) commit to their group the offsets below which every
    // change is on the change topic: quiet up to those too, whoever published them.
    auto committed =
        group_offsets(flags.get("brokers"), flags.get("topic-prefix") + "contacts-projector",
                      kafka->commands_topic());
    if (!committed.ok()) {
      std::cerr << "contacts rebuild: " << committed.status().message() << "\n";
      return 1;
    }
    options.quiet_floor.assign(static_cast<size_t>(log->partitions()), 0);
    for (const auto& o : *committed)
      if (o.partition >= 0 && o.partition < log->partitions())
        options.quiet_floor[static_cast<size_t>(o.partition)] = o.committed;
    // Past the quiet boundary, a writer on Kafka publishes every change; `serve`'s dispatcher
    // takes the ones no subscription wants and drops them.
    options.scope = ChangeScope::kAll;
  }
  const bool tty = isatty(STDERR_FILENO);
  const auto started = std::chrono::steady_clock::now();
  auto last_line = started;
  options.progress = [&](uint64_t done, uint64_t all) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    nlohmann::json state = {{"phase", "folding"}, {"folded", done}, {"target", all}};
    if (seconds > 0) state["rate"] = static_cast<double>(done) / seconds;
    if (done > 0 && all > done) state["eta_seconds"] = (all - done) * seconds / done;
    if (tty) {
      std::cerr << "\r" << progress_text(state, true) << std::flush;
    } else if (std::chrono::steady_clock::now() - last_line >= std::chrono::seconds(1)) {
      std::cerr << progress_text(state, false) << "\n";
      last_line = std::chrono::steady_clock::now();
    }
  };
  auto rebuilt = rebuild_views(*log, options);
  if (tty) std::cerr << "\n";
  if (!rebuilt.ok()) {
    std::cerr << "contacts rebuild: " << rebuilt.status().message() << "\n";
    return 1;
  }
  std::cout << "rebuilt views from " << rebuilt->records << " records into " << rebuilt->path
            << "\n";
  return 0;
}

}  // namespace contacts::app

namespace contacts::app {

int run_lag(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {
      brokers_flag(),
      topic_prefix_flag(),
      {"group", "", "contacts-projector",
       "contacts-projector (on the command topic) or contacts-webhooks (on the change topic)"}};
  if (int rc = parse_or_exit(
          flags, "lag",
          "Prints a consumer group's committed offsets, the topic's end offsets and the lag per "
          "partition (the topic prefix is prepended to the group too).",
          specs, argc, argv);
      rc >= 0)
    return rc;
  const std::string group = flags.get("group");
  std::string error;
  if (!flags.has("brokers"))
    error = "--brokers is required";
  else if (group != "contacts-projector" && group != "contacts-webhooks")
    error = "--group must be contacts-projector or contacts-webhooks";
  if (!error.empty()) {
    std::cerr << "contacts lag: " << error << "\n";
    return 2;
  }
  const std::string prefix = flags.get("topic-prefix");
  const std::string topic =
      prefix + (group == "contacts-projector" ? "contacts.commands" : "contacts.changes");
  auto offsets = group_offsets(flags.get("brokers"), prefix + group, topic);
  if (!offsets.ok()) {
    std::cerr << "contacts lag: " << offsets.status().message() << "\n";
    return 1;
  }
  int64_t total = 0;
  std::cout << "partition committed end lag\n";
  for (const auto& o : *offsets) {
    int64_t lag = o.end - std::max<int64_t>(o.committed, 0);
    total += lag;
    std::cout << o.partition << " "
              << (o.committed < 0 ? std::string("-") : std::to_string(o.committed)) << " " << o.end
              << " " << lag << "\n";
  }
  std::cout << "total " << total << "\n";
  return 0;
}

}  // namespace contacts::app
