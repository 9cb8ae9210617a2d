// Backup and restore of a node's data directory (README, Backup and restore): RocksDB
// checkpoints of its stores, taken in an order that keeps them consistent, and a manifest.
//
// Order: the views first (their applied offsets are in the same RocksDB as their rows, so the
// copy is self-consistent), then the webhook deliveries (a change the views' copy still queues
// may be in them too: the store records it once), then, with the fold held still, the log and
// the key store. The log's copy thus holds every record the views' copy applied (a restored
// node folds the rest), and the key store's every key the log's copy was sealed under (a key
// is stored before a record sealed under it is appended), with no key destroyed between the
// two (only the fold destroys keys). On Kafka the log and the key store are Kafka's topics:
// the backup holds the views and the deliveries, and its manifest says so.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "app/commands.h"
#include "core/status.h"
#include "privacy/embedded_key_store.h"
#include "projector/live_fold.h"
#include "webhooks/delivery_store.h"

namespace contacts::app {

// The manifest's file in a backup directory; written last: a directory without it is not a
// backup.
inline constexpr const char* kManifestFile = "manifest.json";
// How long `contacts backup` waits for a running node to answer.
inline constexpr std::chrono::seconds kBackupReplyTimeout{3600};

// What a backup copies: the stores a node (or the command) holds open; any may be null.
struct BackupSources {
  ViewStore* views = nullptr;
  const DeliveryStore* deliveries = nullptr;
  const EmbeddedLog* log = nullptr;         // null on Kafka
  const EmbeddedKeyStore* keys = nullptr;   // null on Kafka, or with --no-encryption
  int32_t partitions = 0;                   // of the log
  std::string kafka_topic;                  // the command topic, on Kafka
  std::function<void()> hold_fold, resume;  // around the log's and key store's copies
};

// Refuses a `dir` that exists and is not empty (kInvalid).
Status check_backup_target(const std::string& dir);

// Checkpoints `sources` into `dir` (created if absent; it must be empty) in the order above,
// then writes the manifest; returns it. A failure removes what it wrote.
Result<nlohmann::json> write_backup(const BackupSources& sources, const std::string& dir);

// The backup a running node takes when its control socket is asked (app/control.h): the
// reply, {"backed_up": true, "manifest": {...}} or {"backed_up": false, "error": "..."}.
std::string backup_running_node(LiveFold& fold, const OpenedLog& log,
                                const DeliveryStore* deliveries, const std::string& dir);

int run_backup(int argc, char** argv);
int run_restore(int argc, char** argv);

}  // namespace contacts::app
