// The offline subcommands: produce, token, keys, rebuild, and the helpers they share with serve.
#include "app/commands.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "api/auth.h"
#include "api/handlers.h"
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
FlagSpec brokers_flag() {
  return {"brokers", "CONTACTS_BROKERS", "", "Kafka bootstrap servers (absent: the embedded log)"};
}

std::string log_path(const std::string& data) { return (fs::path(data) / "log").string(); }
std::string views_path(const std::string& data) { return (fs::path(data) / "views").string(); }
std::string webhooks_path(const std::string& data) {
  return (fs::path(data) / "webhooks").string();
}

int parse_or_exit(Flags& flags, const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, int argc, char** argv) {
  std::string error;
  if (!flags.parse(specs, argc, argv, error)) {
    std::cerr << "contacts " << command << ": " << error << "\n" << usage(command, summary, specs);
    return 2;
  }
  if (flags.help()) {
    std::cout << usage(command, summary, specs);
    return 0;
  }
  return -1;
}

FlagSpec topic_prefix_flag() {
  return {"topic-prefix", "CONTACTS_TOPIC_PREFIX", "",
          "prefix of the Kafka topic names (P + contacts.commands, ...)"};
}

OpenedLog open_log(const Flags& flags) {
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
  return options;
}

Result<std::unique_ptr<ViewStore>> open_views(const std::string& path, const Flags& flags) {
  auto options = view_options(flags);
  if (!options.ok()) return options.status();
  return ViewStore::open(path, *options);
}

int run_produce(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {data_flag(), partitions_flag(), brokers_flag(),
                                 topic_prefix_flag()};
  if (int rc =
          parse_or_exit(flags, "produce",
                        "Appends NDJSON commands from FILE (or stdin) to the log, all or nothing.",
                        specs, argc, argv);
      rc >= 0)
    return rc;
  std::stringstream buffer;
  if (flags.positional().empty() || flags.positional()[0] == "-") {
    buffer << std::cin.rdbuf();
  } else {
    std::ifstream in(flags.positional()[0], std::ios::binary);
    if (!in) {
      std::cerr << "contacts produce: cannot read " << flags.positional()[0] << "\n";
      return 1;
    }
    buffer << in.rdbuf();
  }
  std::string body = buffer.str();
  Intake intake = intake_ndjson(body, SystemClock().now_seconds());
  if (intake.error_count > 0) {
    for (const auto& e : intake.errors) std::cerr << "line " << e.line << ": " << e.reason << "\n";
    std::cerr << "contacts produce: " << intake.error_count
              << " invalid line(s); nothing appended\n";
    return 1;
  }
  auto log = open_log(flags);
  if (!log) return 1;
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
      {"jwt-secret", "CONTACTS_JWT_SECRET", "", "HS256 secret the API verifies tokens with"},
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
  if (int rc = parse_or_exit(flags, "keys",
                             "keys create: appends a new API key to the log and prints it once.",
                             specs, argc, argv);
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

int run_rebuild(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {data_flag(),       partitions_flag(), cache_flag(),
                                 key_filter_flag(), brokers_flag(),    topic_prefix_flag()};
  if (int rc = parse_or_exit(
          flags, "rebuild",
          "Rebuilds the views from offset 0 into a fresh directory and swaps them in.", specs, argc,
          argv);
      rc >= 0)
    return rc;
  auto log = open_log(flags);
  if (!log) return 1;
  RebuildOptions options;
  options.live_path = views_path(flags.get("data"));
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
  options.progress = [tty](uint64_t done, uint64_t all) {
    if (tty)
      std::cerr << "\rrebuilding views: " << done << " / " << all << " records" << std::flush;
  };
  auto total = rebuild_views(*log, options);
  if (tty) std::cerr << "\n";
  if (!total.ok()) {
    std::cerr << "contacts rebuild: " << total.status().message() << "\n";
    return 1;
  }
  std::cout << "rebuilt views from " << *total << " records into " << options.live_path << "\n";
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
