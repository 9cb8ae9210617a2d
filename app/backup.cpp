// `contacts backup` and `contacts restore` (app/backup.h).
#include "app/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/control.h"
#include "core/log.h"
#include "core/version.h"
#include "views/fold_version.h"
#include "views/view_sets.h"

namespace contacts::app {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "contacts-backup-1";
// The stores' directories, in a backup as in a data directory (the views as the first set).
constexpr const char* kViewsDir = "views";
constexpr const char* kLogDir = "log";
constexpr const char* kKeysDir = "keys";
constexpr const char* kWebhooksDir = "webhooks";

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

int64_t milliseconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

bool empty_or_absent(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
}

// Writes `text` to `path` durably (a temporary file renamed into place, then the directory
// synced): a manifest is there whole or not at all.
Status write_durably(const fs::path& path, const std::string& text) {
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return {Code::kInternal, "cannot write " + tmp};
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (written) fs::rename(tmp, path, ec);
  if (!written || ec) return {Code::kInternal, "cannot write " + path.string()};
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

// What the copies in `dir` hold: the views' fold version and applied offsets, the log's ends.
// Opening them also proves they open.
Result<nlohmann::json> describe_copies(const BackupSources& sources, const fs::path& dir,
                                       const std::vector<std::string>& stores) {
  nlohmann::json manifest = {{"format", kFormat},
                             {"created_at", utc_now()},
                             {"contacts", std::string(kVersion)},
                             {"fold_version_of_binary", fold_version()},
                             {"rocksdb", rocksdb_version()},
                             {"partitions", sources.partitions},
                             {"stores", stores}};
  if (sources.views) {
    ViewStoreOptions small;
    small.block_cache_bytes = small.read_index_bytes = 8 << 20;
    small.key_filter_bytes = 1 << 20;
    auto views = ViewStore::open((dir / kViewsDir).string(), small);
    if (!views.ok()) return views.status();
    manifest["fold_version"] = (*views)->fold_version();
    std::vector<int64_t> applied;
    for (int32_t p = 0; p < sources.partitions; ++p)
      applied.push_back((*views)->applied(Partition(p)).value);
    manifest["view_offsets"] = applied;
  }
  if (sources.log) {
    manifest["log"] = "embedded";
    auto log = EmbeddedLog::open_read_only((dir / kLogDir).string());
    if (!log.ok()) return log.status();
    std::vector<int64_t> ends;
    for (int32_t p = 0; p < sources.partitions; ++p)
      ends.push_back((*log)->end_offset(Partition(p)).value);
    manifest["log_end_offsets"] = ends;
    if (manifest.contains("view_offsets"))
      for (size_t p = 0; p < ends.size(); ++p)
        if (manifest["view_offsets"][p].get<int64_t>() > ends[p])
          return Status{Code::kInternal, "the views' copy applied partition " + std::to_string(p) +
                                             " past the log's copy: not a consistent backup"};
  } else {
    manifest["log"] = "kafka";
    manifest["commands_topic"] = sources.kafka_topic;
    manifest["not_in_backup"] =
        "the log and the key store: they are Kafka's topics (" + sources.kafka_topic +
        ", and its key topic), kept by the cluster; the views resume from view_offsets in it";
  }
  if (!sources.keys && sources.log)
    manifest["not_in_backup"] = "a key store: the node ran with --no-encryption";
  return manifest;
}

}  // namespace

Status check_backup_target(const std::string& dir) {
  if (empty_or_absent(dir)) return {};
  return {Code::kInvalid,
          dir + " exists and is not empty: a backup goes into a new (or empty) directory"};
}

Result<nlohmann::json> write_backup(const BackupSources& sources, const std::string& dir_name) {
  if (auto s = check_backup_target(dir_name); !s.ok()) return s;
  const fs::path dir(dir_name);
  const bool created = !fs::exists(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status{Code::kInternal, "cannot create " + dir_name + ": " + ec.message()};
  std::vector<std::string> stores;
  auto take = [&](const char* name, auto&& checkpoint) -> Status {
    Status s = checkpoint((dir / name).string());
    if (s.ok()) stores.push_back(name);
    return s;
  };
  Result<nlohmann::json> manifest = [&]() -> Result<nlohmann::json> {
    if (sources.views)
      if (auto s =
              take(kViewsDir, [&](const std::string& to) { return sources.views->checkpoint(to); });
          !s.ok())
        return s;
    if (sources.deliveries)
      if (auto s = take(kWebhooksDir,
                        [&](const std::string& to) { return sources.deliveries->checkpoint(to); });
          !s.ok())
        return s;
    if (sources.log) {
      if (sources.hold_fold) sources.hold_fold();
      Status s = take(kLogDir, [&](const std::string& to) { return sources.log->checkpoint(to); });
      if (s.ok() && sources.keys)
        s = take(kKeysDir, [&](const std::string& to) { return sources.keys->checkpoint(to); });
      if (sources.resume) sources.resume();
      if (!s.ok()) return s;
    }
    if (stores.empty()) return Status{Code::kNotFound, "nothing to back up: no log and no views"};
    auto described = describe_copies(sources, dir, stores);
    if (!described.ok()) return described;
    if (auto s = write_durably(dir / kManifestFile, described->dump(2) + "\n"); !s.ok()) return s;
    return described;
  }();
  if (!manifest.ok()) {
    for (const auto& name : {kViewsDir, kWebhooksDir, kLogDir, kKeysDir, kManifestFile})
      fs::remove_all(dir / name, ec);
    fs::remove(dir / (std::string(kManifestFile) + ".tmp"), ec);
    if (created) fs::remove(dir, ec);
  }
  return manifest;
}

std::string backup_running_node(LiveFold& fold, const OpenedLog& log,
                                const DeliveryStore* deliveries, const std::string& dir) {
  const auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration held_for{};
  auto backed_up = [&]() -> Result<nlohmann::json> {
    // A swap would retire the set being copied: one at a time. (Rebuilds started through this
    // socket wait for the backup: it answers one request at a time.)
    const RebuildPhase phase = fold.progress().phase;
    if (phase == RebuildPhase::kFolding || phase == RebuildPhase::kSwapping)
      return Status{
          Code::kUnavailable,
          "a rebuild is running; back up once it is done (`contacts rebuild` follows it)"};
    std::shared_ptr<ViewStore> views = fold.views().get();
    if (!views) return Status{Code::kUnavailable, "the node serves no views yet"};
    BackupSources sources;
    sources.views = views.get();
    sources.deliveries = deliveries;
    sources.partitions = log->partitions();
    std::shared_ptr<Projector> held;
    std::chrono::steady_clock::time_point held_at;
    if (const auto* kafka = log.kafka()) {
      sources.kafka_topic = kafka->commands_topic();
    } else {
      sources.log = dynamic_cast<const EmbeddedLog*>(&*log);
      sources.keys = dynamic_cast<const EmbeddedKeyStore*>(log.keys());
      // Between its batches: no key is destroyed while the log and key store are copied.
      sources.hold_fold = [&] {
        held_at = std::chrono::steady_clock::now();
        if ((held = fold.projector())) held->stop();
      };
      sources.resume = [&] {
        if (held) held->start();
        held_for = std::chrono::steady_clock::now() - held_at;
      };
    }
    return write_backup(sources, dir);
  }();
  const auto took = std::chrono::steady_clock::now() - started;
  if (backed_up.ok())
    log::info("backed up", {{"dir", dir},
                            {"duration_ms", milliseconds(took)},
                            {"fold_held_ms", milliseconds(held_for)}});
  else
    log::error("backup failed", {{"dir", dir}, {"error", backed_up.status().message()}});
  nlohmann::json reply = {{"backed_up", backed_up.ok()}};
  if (backed_up.ok())
    reply["manifest"] = *backed_up;
  else
    reply["error"] = backed_up.status().message();
  return reply.dump();
}

namespace {

// Backs up `data` with no node running on it: opens its stores (never creating one) and
// copies them.
int backup_stopped_node(const Flags& flags, const std::string& dir) {
  const std::string data = flags.get("data");
  const bool on_kafka = flags.has("brokers");
  if (!on_kafka && !fs::exists(fs::path(log_path(data)) / "CURRENT")) {
    std::cerr << "contacts backup: no log in " << data << " (nothing to back up)\n";
    return 1;
  }
  auto log = open_log(flags);
  if (!log) return 1;
  BackupSources sources;
  sources.partitions = log->partitions();
  std::unique_ptr<KeyStore> keys;
  if (auto* kafka = log.kafka()) {
    sources.kafka_topic = kafka->commands_topic();
  } else {
    sources.log = dynamic_cast<const EmbeddedLog*>(&*log);
    if (fs::exists(fs::path(data) / kKeysDir)) {
      auto opened = open_key_store(flags, log);
      if (!opened.ok() || !*opened) {
        std::cerr << "contacts backup: " << data << "/keys holds the keys personal data is sealed "
                  << "under: "
                  << (opened.ok() ? "--no-encryption would leave them out"
                                  : opened.status().message())
                  << "\n";
        return 1;
      }
      keys = std::move(*opened);
      sources.keys = dynamic_cast<const EmbeddedKeyStore*>(keys.get());
    }
  }
  auto sets = ViewSets::scan(data);
  std::unique_ptr<ViewStore> views;
  if (sets.ok() && fs::exists(fs::path(sets->live()) / "CURRENT")) {
    auto opened = open_views(sets->live(), flags);
    if (!opened.ok()) {
      std::cerr << "contacts backup: " << opened.status().message() << "\n";
      return 1;
    }
    views = std::move(*opened);
    sources.views = views.get();
  }
  std::unique_ptr<DeliveryStore> deliveries;
  if (fs::exists(fs::path(webhooks_path(data)) / "CURRENT")) {
    auto opened = DeliveryStore::open(webhooks_path(data));
    if (!opened.ok()) {
      std::cerr << "contacts backup: " << opened.status().message() << "\n";
      return 1;
    }
    deliveries = std::move(*opened);
    sources.deliveries = deliveries.get();
  }
  auto manifest = write_backup(sources, dir);
  if (!manifest.ok()) {
    std::cerr << "contacts backup: " << manifest.status().message() << "\n";
    return 1;
  }
  std::cout << "backed up " << data << " (no node running on it) into " << dir << ": "
            << (*manifest)["stores"].dump() << "\n";
  return 0;
}

}  // namespace

int run_backup(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {
      data_flag(),         {"to", "", "", "the backup's directory: new, or empty"},
      partitions_flag(),   brokers_flag(),
      topic_prefix_flag(), cache_flag(),
      key_filter_flag()};
  // The master key opens the key store when no node runs (the erasure window is Kafka's).
  for (auto& spec : key_flags())
    if (spec.name != "erasure-window") specs.push_back(spec);
  if (int rc = parse_or_exit(
          flags, "backup",
          "Copies the stores of --data (log, views, key store, webhook deliveries) into --to, "
          "consistently, with a manifest. A node running on --data takes the copy while it "
          "serves (through DATA/control.sock); otherwise this command does. On Kafka the log "
          "and keys are the cluster's: the views and deliveries are copied.",
          specs, argc, argv);
      rc >= 0)
    return rc;
  if (!flags.has("to")) {
    std::cerr << "contacts backup: --to DIR is required\n";
    return 2;
  }
  std::error_code ec;
  const std::string dir = fs::absolute(flags.get("to"), ec).lexically_normal().string();
  if (auto s = check_backup_target(dir); !s.ok()) {
    std::cerr << "contacts backup: " << s.message() << "\n";
    return 1;
  }
  auto reply =
      control_request(control_path(flags.get("data")), "backup " + dir, kBackupReplyTimeout);
  if (!reply.ok()) {
    if (reply.status().code() != Code::kUnavailable && reply.status().code() != Code::kInvalid) {
      std::cerr << "contacts backup: " << reply.status().message() << "\n";
      return 1;
    }
    // No node listens: this command copies the stores, and RocksDB's locks refuse it if a node
    // holds them after all.
    return backup_stopped_node(flags, dir);
  }
  auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (!j.is_object() || !j.value("backed_up", false)) {
    std::cerr << "contacts backup: "
              << (j.is_object() ? j.value("error", std::string("refused")) : *reply) << "\n";
    return 1;
  }
  std::cout << "backed up the running node's " << j["manifest"]["stores"].dump() << " into " << dir
            << "\n";
  return 0;
}

namespace {

// The manifest of the backup in `from`, checked: its format, its stores there, and (on the
// embedded log) views that applied no record the log's copy lacks.
Result<nlohmann::json> read_manifest(const fs::path& from) {
  std::ifstream in(from / kManifestFile);
  if (!in)
    return Status{Code::kNotFound, "no " + std::string(kManifestFile) + " in " + from.string() +
                                       ": not a backup (or one that did not finish)"};
  auto manifest = nlohmann::json::parse(in, nullptr, false);
  if (!manifest.is_object() || manifest.value("format", std::string()) != kFormat)
    return Status{Code::kInvalid,
                  (from / kManifestFile).string() + " is not a manifest of " + kFormat};
  const auto stores = manifest.value("stores", nlohmann::json::array());
  if (!stores.is_array() || stores.empty())
    return Status{Code::kInvalid, "the manifest names no stores"};
  for (const auto& store : stores) {
    const std::string name = store.is_string() ? store.get<std::string>() : "";
    if (name != kViewsDir && name != kLogDir && name != kKeysDir && name != kWebhooksDir)
      return Status{Code::kInvalid, "the manifest names an unknown store " + store.dump()};
    if (!fs::exists(from / name / "CURRENT"))
      return Status{Code::kInvalid, "the backup lacks its store " + name};
  }
  if (manifest.contains("view_offsets") && manifest.contains("log_end_offsets")) {
    const auto& views = manifest["view_offsets"];
    const auto& ends = manifest["log_end_offsets"];
    for (size_t p = 0; p < views.size() && p < ends.size(); ++p)
      if (views[p].get<int64_t>() > ends[p].get<int64_t>())
        return Status{Code::kInvalid, "the backup's views applied more of partition " +
                                          std::to_string(p) + " than its log holds"};
  }
  return manifest;
}

// Copies each store of the backup into `data`, each under a temporary name renamed into place.
Status copy_stores(const fs::path& from, const fs::path& data, const nlohmann::json& stores) {
  std::error_code ec;
  fs::create_directories(data, ec);
  if (ec) return {Code::kInternal, "cannot create " + data.string() + ": " + ec.message()};
  for (const auto& store : stores) {
    const std::string name = store.get<std::string>();
    const fs::path partial = data / (name + ".restoring");
    fs::copy(from / name, partial, fs::copy_options::recursive, ec);
    if (!ec) fs::rename(partial, data / name, ec);
    if (ec) return {Code::kInternal, "cannot copy " + (from / name).string() + ": " + ec.message()};
  }
  ::sync();  // the copies are on disk before a node is told to start on them
  return {};
}

}  // namespace

int run_restore(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {data_flag(),
                                 {"from", "", "", "the backup's directory (`contacts backup`)"}};
  if (int rc = parse_or_exit(flags, "restore",
                             "Copies the stores of a backup into --data, which must be empty "
                             "(or absent) and have no node running on it. A node started on it "
                             "folds what its log holds past the views, then serves.",
                             specs, argc, argv);
      rc >= 0)
    return rc;
  if (!flags.has("from")) {
    std::cerr << "contacts restore: --from DIR is required\n";
    return 2;
  }
  const fs::path from(flags.get("from")), data(flags.get("data"));
  std::string refused;
  if (control_request(control_path(data.string()), "status").ok())
    refused = "a node runs on " + data.string() + "; stop it, and restore into an empty directory";
  else if (!empty_or_absent(data))
    refused = data.string() + " is not empty: restore into a new (or empty) directory";
  if (!refused.empty()) {
    std::cerr << "contacts restore: " << refused << "\n";
    return 1;
  }
  auto manifest = read_manifest(from);
  if (!manifest.ok()) {
    std::cerr << "contacts restore: " << manifest.status().message() << "\n";
    return 1;
  }
  if (auto s = copy_stores(from, data, (*manifest)["stores"]); !s.ok()) {
    std::cerr << "contacts restore: " << s.message() << "; remove " << data.string()
              << " before trying again\n";
    return 1;
  }
  std::cout << "restored " << (*manifest)["stores"].dump() << " of the backup taken at "
            << manifest->value("created_at", std::string("?")) << " into " << data.string() << "\n";
  const int version = manifest->value("fold_version", fold_version());
  if (version != fold_version())
    std::cout << "its views are of fold version " << version << "; this contacts folds version "
              << fold_version() << ": a node started on them rebuilds them\n";
  if (manifest->value("log", std::string()) == "kafka")
    std::cout << "its views resume from their offsets in " << manifest->value("commands_topic", "")
              << ": start the node against the same cluster\n";
  return 0;
}

}  // namespace contacts::app
