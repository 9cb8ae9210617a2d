// contacts: the one binary. Dispatches to a subcommand (DESIGN.md section 8).
#include <librdkafka/rdkafka.h>

#include <cstring>
#include <iostream>

#include "app/backup.h"
#include "app/commands.h"
#include "core/log.h"
#include "core/version.h"

namespace {

const char* kUsage = R"(usage: contacts COMMAND [flags]

commands:
  serve     run everything in one process (log, projector, webhooks, API, ingest)
  project   the writer on Kafka: folds its partitions, publishes contacts.changes
  api       --replica: a read replica on Kafka with views of its own
  webhooks  a webhook dispatcher on Kafka, fed by contacts.changes
  ingest    the ingest listener alone, appending to Kafka
  produce   append NDJSON commands from a file or stdin to the log
  rebuild   rebuild the views from offset 0 and swap them in
  compact   the erasure compaction, now: erased people's bytes leave the node's files
  backup    a consistent copy of the data directory's stores, of a running node too
  restore   a backup into an empty data directory
  seal      seal the personal fields of NDJSON commands, for producers writing to Kafka
  rotate-master-key  wrap the key store's keys again under a new master key
  dlq       list the dead letters (records that are not commands), replay them after a fix
  token     mint a JWT for a user with the configured secret
  keys      create a workspace API key without going through HTTP
  bench     fold a generated workload and measure reads
  lag       a Kafka consumer group's committed offsets and lag per partition

Run 'contacts COMMAND --help' for the flags of a command; 'contacts --version' for the version.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace contacts::app;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0) {
    std::cout << "contacts " << contacts::kVersion << " (RocksDB " << rocksdb_version()
              << ", librdkafka " << rd_kafka_version_str() << ")\n";
    return 0;
  }
  std::string command = argv[1];
  int rest_argc = argc - 2;
  char** rest = argv + 2;
  // A server's events go to stdout with its status lines; a CLI command's to stderr, so its
  // stdout stays its output (README, Logs).
  bool server = command == "serve" || command == "api" || command == "project" ||
                command == "webhooks" || command == "ingest";
  auto problem = contacts::log::configure_from_environment(server ? contacts::log::Stream::kStdout
                                                                  : contacts::log::Stream::kStderr);
  if (!problem.empty()) {
    std::cerr << "contacts: " << problem << "\n";
    return 2;
  }
  if (command == "serve") return run_serve(rest_argc, rest);
  if (command == "api") return run_api(rest_argc, rest);
  if (command == "project") return run_project(rest_argc, rest);
  if (command == "webhooks") return run_webhooks(rest_argc, rest);
  if (command == "lag") return run_lag(rest_argc, rest);
  if (command == "ingest") return run_ingest(rest_argc, rest);
  if (command == "produce") return run_produce(rest_argc, rest);
  if (command == "rebuild") return run_rebuild(rest_argc, rest);
  if (command == "compact") return run_compact(rest_argc, rest);
  if (command == "backup") return run_backup(rest_argc, rest);
  if (command == "restore") return run_restore(rest_argc, rest);
  if (command == "seal") return run_seal(rest_argc, rest);
  if (command == "rotate-master-key") return run_rotate_master_key(rest_argc, rest);
  if (command == "dlq") return run_dlq(rest_argc, rest);
  if (command == "token") return run_token(rest_argc, rest);
  if (command == "keys") return run_keys(rest_argc, rest);
  if (command == "bench") return run_bench(rest_argc, rest);
  std::cerr << "contacts: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
