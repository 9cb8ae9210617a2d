// The subcommands of the contacts binary. Each returns the process exit code.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "app/flags.h"
#include "bus/embedded_log.h"
#include "bus/kafka_log.h"
#include "ingest/intake.h"
#include "privacy/key_store.h"
#include "views/view_store.h"

namespace contacts::app {

int run_serve(int argc, char** argv);
int run_api(int argc, char** argv);
int run_project(int argc, char** argv);
int run_webhooks(int argc, char** argv);
int run_lag(int argc, char** argv);
int run_ingest(int argc, char** argv);
int run_produce(int argc, char** argv);
int run_token(int argc, char** argv);
int run_keys(int argc, char** argv);
int run_rebuild(int argc, char** argv);
int run_compact(int argc, char** argv);
int run_seal(int argc, char** argv);
int run_rotate_master_key(int argc, char** argv);
int run_dlq(int argc, char** argv);
int run_bench(int argc, char** argv);

// Shared flag specs.
FlagSpec data_flag();
FlagSpec partitions_flag();
FlagSpec cache_flag();
FlagSpec key_filter_flag();
FlagSpec read_index_flag();
FlagSpec response_cache_flag();
FlagSpec brokers_flag();
FlagSpec topic_prefix_flag();
// The master key's files, --no-encryption and the erasure window: what opens the key store
// (app/key_commands.cpp).
std::vector<FlagSpec> key_flags();
// The log's flags and the key store's: produce, seal, compact, rotate-master-key.
std::vector<FlagSpec> log_and_key_flags();

std::string log_path(const std::string& data);
std::string webhooks_path(const std::string& data);
// The log a process opened, and its Kafka adapter when it is on Kafka (what only Kafka has:
// dead letters, the change topic, consumer groups), known from how it was opened.
class OpenedLog {
 public:
  OpenedLog() = default;
  explicit OpenedLog(std::unique_ptr<EmbeddedLog> log)
      : dead_letters_(log.get()), log_(std::move(log)) {}
  explicit OpenedLog(std::unique_ptr<KafkaLog> log)
      : kafka_(log.get()), dead_letters_(log.get()), log_(std::move(log)) {}
  explicit operator bool() const { return log_ != nullptr; }
  Log& operator*() const { return *log_; }
  Log* operator->() const { return log_.get(); }
  // Null on the embedded log.
  KafkaLog* kafka() const { return kafka_; }
  // Where dead letters are kept: contacts.dlq on Kafka, the embedded log itself.
  DeadLetterQueue* dead_letters() const { return dead_letters_; }
  // The key store personal data is sealed under (DATA/keys, or the topic contacts.keys); null
  // when opened without one or with --no-encryption.
  KeyStore* keys() const { return keys_.get(); }
  void set_keys(std::unique_ptr<KeyStore> keys) { keys_ = std::move(keys); }

 private:
  KafkaLog* kafka_ = nullptr;
  DeadLetterQueue* dead_letters_ = nullptr;
  std::unique_ptr<Log> log_;
  std::unique_ptr<KeyStore> keys_;  // destroyed first: its Kafka clients before the log's
};
// Opens the log: Kafka when --brokers is set, else the embedded log under `data` (creating
// it), and, `with_keys`, its key store (key_flags: refused without a master key unless
// --no-encryption). Prints the reason on failure (and returns an empty OpenedLog).
OpenedLog open_log(const Flags& flags, bool with_keys = false);
// The key store of `log` the key flags say (null with --no-encryption); an error without a
// master key, or with one that does not open the store.
Result<std::unique_ptr<KeyStore>> open_key_store(const Flags& flags, const OpenedLog& log);
// The file named by the first argument (stdin without one, or "-"), whole; nullopt, said why,
// when it cannot be read.
std::optional<std::string> read_input(const Flags& flags, const std::string& command);
// "embedded log, 8 partitions" or "Kafka at HOST:PORT, topic contacts.commands, 8 partitions".
std::string describe_log(const Flags& flags, const OpenedLog& log);
// The view store's sizes the flags give (an error names a bad one).
Result<ViewStoreOptions> view_options(const Flags& flags);
// Opens the views at `path` with the sizes the flags give (an error names a bad one).
Result<std::unique_ptr<ViewStore>> open_views(const std::string& path, const Flags& flags);
// Says why `intake` is not to be used (its bad lines, or the key store's failure), ending with
// "; nothing <what>"; false when it is whole.
bool intake_failed(const Intake& intake, const std::string& command, const std::string& what);
// Parses flags for a subcommand; prints usage or the error. Returns -1 to go on, else an exit code.
// The RocksDB this binary was built against, "7.8.3": --version, the backup manifest, /metrics.
std::string rocksdb_version();
// `synopsis` follows the command on the usage line: its verb and arguments.
int parse_or_exit(Flags& flags, const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, int argc, char** argv,
                  const std::string& synopsis = "[flags]");

}  // namespace contacts::app
