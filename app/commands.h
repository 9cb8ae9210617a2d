// The subcommands of the contacts binary. Each returns the process exit code.
#pragma once

#include <memory>
#include <string>

#include "app/flags.h"
#include "bus/embedded_log.h"
#include "bus/kafka_log.h"
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
int run_bench(int argc, char** argv);

// Shared flag specs.
FlagSpec data_flag();
FlagSpec partitions_flag();
FlagSpec cache_flag();
FlagSpec key_filter_flag();
FlagSpec brokers_flag();
FlagSpec topic_prefix_flag();

std::string log_path(const std::string& data);
std::string views_path(const std::string& data);
std::string webhooks_path(const std::string& data);
// Opens the log: Kafka when --brokers is set, else the embedded log under `data` (creating
// it). Prints the reason on failure.
std::unique_ptr<Log> open_log(const Flags& flags);
// "embedded log, 8 partitions" or "Kafka at HOST:PORT, topic contacts.commands, 8 partitions".
std::string describe_log(const Flags& flags, const Log& log);
// Opens the views at `path` with the sizes the flags give (an error names a bad one).
Result<std::unique_ptr<ViewStore>> open_views(const std::string& path, const Flags& flags);
// Parses flags for a subcommand; prints usage or the error. Returns -1 to go on, else an exit code.
int parse_or_exit(Flags& flags, const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, int argc, char** argv);

}  // namespace contacts::app
