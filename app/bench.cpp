// contacts bench: generates a realistic workload (many workspaces, Zipf-skewed repeat visitors,
// some deletes), appends it to an embedded log, folds it, and measures API reads in-process.
#include <rocksdb/version.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/router.h"
#include "app/commands.h"
#include "core/command_codec.h"
#include "core/crypto.h"
#include "ingest/intake.h"
#include "privacy/embedded_key_store.h"
#include "privacy/sealing.h"
#include "projector/projector.h"

namespace contacts::app {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds this process has used, on all its threads (RocksDB's background ones too).
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

class Zipf {
 public:
  Zipf(size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) cdf_[i] = sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
    for (auto& v : cdf_) v /= sum;
  }
  size_t operator()(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

const char* kFirst[] = {"Alice",   "Bob",   "Chloé",   "David", "Élodie", "Farid", "Grace",
                        "Hiroshi", "Inès",  "Jonas",   "Kemal", "Lena",   "Mateo", "Nadia",
                        "Oscar",   "Priya", "Quentin", "Rosa",  "Søren",  "Tariq"};
const char* kLast[] = {"Martin", "Dubois",   "Smith", "Müller", "Rossi",
                       "Garcia", "Kowalski", "Ng",    "Okafor", "Silva"};

struct Workload {
  std::vector<LogRecord> records;
  size_t deletes = 0;
};

// Appends one visit line for visitor `v` of workspace `ws`.
std::string visit_line(int64_t ws, size_t v, size_t n, int64_t at, bool room) {
  char buf[512];
  std::string name =
      std::string(kFirst[v % 20]) + " " + kLast[(v / 20) % 10] + " " + std::to_string(v);
  if (room) {
    std::snprintf(
        buf, sizeof buf,
        R"({"type":"room_join","command_id":"c%zu","workspace_id":%lld,"occurred_at":%lld,"participant":{"name":"%s","email":"user%zu@example%lld.com"},"room":{"id":%zu,"name":"room-%zu","display_name":"Room %zu"},"metadata":{"device":"web"}})",
        n, static_cast<long long>(ws), static_cast<long long>(at), name.c_str(), v,
        static_cast<long long>(ws), v % 50 + 1, v % 50 + 1, v % 50 + 1);
  } else {
    std::snprintf(
        buf, sizeof buf,
        R"({"type":"booking","command_id":"c%zu","workspace_id":%lld,"occurred_at":%lld,"participant":{"name":"%s","email":"user%zu@example%lld.com"},"booking_page":{"id":%zu,"title":"Intro call","slug":"intro-%zu"},"metadata":null})",
        n, static_cast<long long>(ws), static_cast<long long>(at), name.c_str(), v,
        static_cast<long long>(ws), v % 10 + 1, v % 10 + 1);
  }
  return buf;
}

// Workspace 1 gets `big` distinct contacts; the rest spread over `workspaces` by Zipf, with
// repeat visitors by Zipf too; about 1% are deletes of a contact seen before.
Workload generate(size_t commands, size_t workspaces, size_t big, int32_t partitions,
                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  Workload w;
  w.records.reserve(commands + 1);
  std::vector<int64_t> next_offset(static_cast<size_t>(partitions), 0);
  std::map<std::pair<int64_t, size_t>, int64_t> contact_ids;  // (ws, visitor) -> id
  std::vector<std::pair<int64_t, size_t>> known;
  auto push = [&](int64_t ws, std::string line) {
    std::string key = std::to_string(ws);
    Partition p = partition_for(key, partitions);
    int64_t id =
        id_from_position(p, Offset(next_offset[static_cast<size_t>(p.value)]++), partitions);
    w.records.push_back({std::move(key), std::move(line)});
    return id;
  };
  push(
      1,
      R"({"type":"member_upsert","command_id":"owner","workspace_id":1,"occurred_at":1700000000,"user_id":1,"role":"owner"})");
  Zipf pick_ws(workspaces, 1.1), pick_visitor(20000, 1.1);
  const int64_t t0 = 1700000000;
  for (size_t n = 0; w.records.size() < commands; ++n) {
    int64_t at = t0 + static_cast<int64_t>(n);
    if (n < big) {
      push(1, visit_line(1, n, n, at, n % 3 != 0));
      continue;
    }
    int64_t ws = static_cast<int64_t>(pick_ws(rng)) + 2;
    if (rng() % 100 == 0 && !known.empty()) {
      auto victim = known[rng() % known.size()];
      auto it = contact_ids.find(victim);
      if (it == contact_ids.end()) continue;
      char buf[256];
      std::snprintf(
          buf, sizeof buf,
          R"({"type":"contact_delete","command_id":"c%zu","workspace_id":%lld,"occurred_at":%lld,"contact_id":%lld,"actor":{"user_id":1}})",
          n, static_cast<long long>(victim.first), static_cast<long long>(at),
          static_cast<long long>(it->second));
      push(victim.first, buf);
      contact_ids.erase(it);
      ++w.deletes;
      continue;
    }
    size_t visitor = pick_visitor(rng);
    int64_t id = push(ws, visit_line(ws, visitor, n, at, rng() % 3 != 0));
    if (contact_ids.emplace(std::pair{ws, visitor}, id).second) known.emplace_back(ws, visitor);
  }
  return w;
}

struct Latency {
  std::vector<double> ms;
  double percentile(double p) {
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0
                      : ms[std::min(ms.size() - 1,
                                    static_cast<size_t>(p * static_cast<double>(ms.size())))];
  }
};

class NoWrites final : public CommandSubmitter {
 public:
  Result<int64_t> submit(Command) override {
    return Status{Code::kUnavailable, "bench is read-only"};
  }
};

Latency measure(const ApiContext& ctx, const std::string& token, size_t count,
                const std::function<std::string(size_t)>& target) {
  Latency latency;
  for (size_t i = 0; i < count; ++i) {
    HttpRequest req{http::verb::get, target(i), 11};
    req.set(http::field::authorization, "Bearer " + token);
    auto start = Clock::now();
    auto res = handle_api_request(ctx, req);
    latency.ms.push_back(seconds_since(start) * 1000);
    if (res.result_int() != 200)
      std::cerr << "bench: " << req.target() << " answered " << res.result_int() << "\n";
  }
  return latency;
}

long peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {
      {"commands", "", "1000000", "commands to generate"},
      {"workspaces", "", "200", "workspaces besides the big one"},
      {"big-contacts", "", "100000",
       "distinct contacts of workspace 1 (read latencies are measured there)"},
      {"reads", "", "2000", "requests per read kind"},
      partitions_flag(),
      cache_flag(),
      key_filter_flag(),
      read_index_flag(),
      {"compact", "", "", "compact the views after the fold, before measuring reads", true},
      {"no-encryption", "", "",
       "append the commands in clear (default: sealed, as ingest seals them, under a key store in "
       "the bench's directory with CONTACTS_MASTER_KEY, or a master key of its own)",
       true},
      brokers_flag(),
      {"topic-prefix", "", "",
       "with --brokers: prefix of the bench's topics (default: bench-<pid>-<time>.)"},
      {"dir", "", "",
       "where to put the log and views (default: a fresh temp directory, removed after)"}};
  if (int rc = parse_or_exit(flags, "bench", "Folds a generated workload and measures reads.",
                             specs, argc, argv);
      rc >= 0)
    return rc;
  long long commands = 0, workspaces = 0, big = 0, reads = 0, partitions = 0;
  std::string error;
  if (!flags.integer("commands", 1000, 100'000'000, commands, error) ||
      !flags.integer("workspaces", 1, 1'000'000, workspaces, error) ||
      !flags.integer("big-contacts", 100, 10'000'000, big, error) ||
      !flags.integer("reads", 10, 1'000'000, reads, error) ||
      !flags.integer("partitions", 1, 4096, partitions, error)) {
    std::cerr << "contacts bench: " << error << "\n";
    return 2;
  }
  namespace fs = std::filesystem;
  bool temporary = !flags.has("dir");
  fs::path dir = temporary
                     ? fs::temp_directory_path() / ("contacts-bench-" + std::to_string(::getpid()))
                     : fs::path(flags.get("dir"));
  fs::remove_all(dir);
  fs::create_directories(dir);

  // Which RocksDB the figures are of: scripts/rocksdb's optimized build or the system's.
  std::printf("RocksDB %s\n", rocksdb::GetRocksVersionAsString().c_str());
  auto start = Clock::now();
  Workload w = generate(static_cast<size_t>(commands), static_cast<size_t>(workspaces),
                        static_cast<size_t>(big), static_cast<int32_t>(partitions), 42);
  std::printf("generated %zu commands (%zu deletes) in %.2fs\n", w.records.size(), w.deletes,
              seconds_since(start));

  std::unique_ptr<Log> log;
  if (flags.has("brokers")) {
    KafkaOptions options;
    options.brokers = flags.get("brokers");
    options.topic_prefix = flags.has("topic-prefix") ? flags.get("topic-prefix")
                                                     : "bench-" + std::to_string(::getpid()) + "-" +
                                                           std::to_string(std::time(nullptr)) + ".";
    options.partitions = static_cast<int32_t>(partitions);
    auto kafka = KafkaLog::open(options);
    if (!kafka.ok()) {
      std::cerr << "contacts bench: " << kafka.status().message() << "\n";
      return 1;
    }
    std::printf("log: Kafka at %s, topic %s (left on the broker)\n", options.brokers.c_str(),
                (*kafka)->commands_topic().c_str());
    log = std::move(*kafka);
  } else {
    auto embedded = EmbeddedLog::open((dir / "log").string(), static_cast<int32_t>(partitions));
    if (!embedded.ok()) {
      std::cerr << "contacts bench: " << embedded.status().message() << "\n";
      return 1;
    }
    log = std::move(*embedded);
  }
  if (log->partitions() != partitions) {
    std::cerr << "contacts bench: the topic has " << log->partitions() << " partitions, not "
              << partitions << "\n";
    return 1;
  }
  auto opened = open_views((dir / "views").string(), flags);
  if (!opened.ok()) {
    std::cerr << "contacts bench: " << opened.status().message() << "\n";
    return 1;
  }
  std::shared_ptr<ViewStore> views = std::move(*opened);
  LiveViews live(views);
  std::unique_ptr<EmbeddedKeyStore> keys;
  if (!flags.enabled("no-encryption")) {
    // What ingest does to each command: seal its participant and metadata.
    // CONTACTS_MASTER_KEY when set (a server started on --dir afterwards opens the same store),
    // else a key of the bench's own.
    std::string master = random_bytes(kAeadKeyBytes);
    if (const char* text = std::getenv("CONTACTS_MASTER_KEY"); text && *text) {
      auto parsed = parse_master_key(text);
      if (!parsed.ok()) {
        std::cerr << "contacts bench: " << parsed.status().message() << "\n";
        return 2;
      }
      master = std::move(*parsed);
    }
    auto store = EmbeddedKeyStore::open((dir / "keys").string(), master);
    if (!store.ok()) {
      std::cerr << "contacts bench: " << store.status().message() << "\n";
      return 1;
    }
    keys = std::move(*store);
    start = Clock::now();
    // In requests of 10,000 commands, as a producer sends NDJSON to ingest.
    constexpr size_t kRequest = 10000;
    for (size_t at = 0; at < w.records.size(); at += kRequest) {
      const size_t end = std::min(w.records.size(), at + kRequest);
      std::string body;
      for (size_t i = at; i < end; ++i) body += w.records[i].value + "\n";
      Intake intake = intake_ndjson(body, 0, keys.get());
      if (intake.error_count > 0 || !intake.unavailable.ok() || intake.records.size() != end - at) {
        std::cerr << "contacts bench: sealing failed: "
                  << (intake.errors.empty() ? intake.unavailable.message()
                                            : intake.errors[0].reason)
                  << "\n";
        return 1;
      }
      for (size_t i = at; i < end; ++i) w.records[i] = std::move(intake.records[i - at]);
    }
    std::printf("seal: %.0f commands/s (decoded, sealed and encoded again, as ingest does)\n",
                static_cast<double>(w.records.size()) / seconds_since(start));
  }
  start = Clock::now();
  constexpr size_t kChunk = 10000;
  for (size_t i = 0; i < w.records.size(); i += kChunk) {
    std::vector<LogRecord> chunk(
        w.records.begin() + static_cast<long>(i),
        w.records.begin() + static_cast<long>(std::min(w.records.size(), i + kChunk)));
    if (auto appended = log->append(chunk); !appended.ok()) {
      std::cerr << "contacts bench: " << appended.status().message() << "\n";
      return 1;
    }
  }
  double append_s = seconds_since(start);
  std::printf("log append: %.0f commands/s (%zu-record batches, %s)\n",
              static_cast<double>(w.records.size()) / append_s, kChunk,
              flags.has("brokers") ? "acknowledged by the brokers" : "synced");

  Projector projector(*log, *views);
  projector.set_keys(keys.get(), true);
  start = Clock::now();
  const double cpu_before = cpu_seconds();
  if (auto s = projector.catch_up(); !s.ok()) {
    std::cerr << "contacts bench: " << s.message() << "\n";
    return 1;
  }
  double fold_s = seconds_since(start);
  // CPU time is steadier than wall time on a shared machine: compare builds on both.
  double fold_cpu_us = (cpu_seconds() - cpu_before) * 1e6 / static_cast<double>(w.records.size());
  std::printf(
      "fold: %.0f commands/s (%zu commands in %.2fs, %.1f us of CPU a command, %llu dead "
      "letters)\n",
      static_cast<double>(w.records.size()) / fold_s, w.records.size(), fold_s, fold_cpu_us,
      static_cast<unsigned long long>(projector.stats().dead_letters.load()));

  if (flags.enabled("compact")) {
    start = Clock::now();
    if (auto s = views->compact(); !s.ok()) std::cerr << "contacts bench: " << s.message() << "\n";
    std::printf("compacted the views in %.2fs (reads below are of the steady state)\n",
                seconds_since(start));
  }
  SystemClock clock;
  Authenticator auth(std::string("bench-secret"), clock);
  NoWrites no_writes;
  ApiContext ctx{
      live,    auth,  no_writes, clock,  [] { return true; }, [] { return std::string(); },
      nullptr, false, nullptr,   nullptr};
  std::string token = mint_jwt("bench-secret", 1, clock.now_seconds() + 3600);
  ContactPage first = views->list(WorkspaceId(1), 1, 100, "");
  std::printf("workspace 1: %lld contacts\n", static_cast<long long>(first.total));
  // Timelines of contacts spread over the workspace's list (pages 10, 20, ... 1000 of 100), or
  // of its first page when it is smaller than that.
  std::vector<int64_t> ids;
  for (int64_t page = 1; page <= 100; ++page)
    for (const auto& c : views->list(WorkspaceId(1), page * 10, 100, "").contacts)
      ids.push_back(c.id);
  if (ids.empty())
    for (const auto& c : first.contacts) ids.push_back(c.id);
  if (ids.empty()) ids.push_back(1);  // none at all: the timeline reads answer 404, and say so
  std::mt19937_64 rng(7);
  size_t n = static_cast<size_t>(reads);
  auto list = measure(ctx, token, n, [&](size_t) {
    return "/api/workspaces/1/contacts?limit=50&page=" + std::to_string(rng() % 200 + 1);
  });
  auto timeline = measure(ctx, token, n, [&](size_t) {
    return "/api/workspaces/1/contacts/" + std::to_string(ids[rng() % ids.size()]) + "/events";
  });
  const char* needles[] = {"ali", "MART", "élo", "user12", "example1.com", "zzz", "ng 4", "søren"};
  auto search = measure(ctx, token, std::max<size_t>(10, n / 20), [&](size_t i) {
    return "/api/workspaces/1/contacts?search=" + percent_encode(needles[i % 8]);
  });
  std::printf("list     p50 %.3f ms  p99 %.3f ms  (pages 1-200 of 50)\n", list.percentile(0.5),
              list.percentile(0.99));
  std::printf("timeline p50 %.3f ms  p99 %.3f ms\n", timeline.percentile(0.5),
              timeline.percentile(0.99));
  std::printf("search   p50 %.3f ms  p99 %.3f ms  (over %lld contacts)\n", search.percentile(0.5),
              search.percentile(0.99), static_cast<long long>(first.total));
  std::printf("peak resident memory: %ld MiB\n", peak_rss_mb());
  live.swap(nullptr);
  views.reset();
  log.reset();
  if (temporary) fs::remove_all(dir);
  return 0;
}

}  // namespace contacts::app
