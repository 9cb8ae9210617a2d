// contacts dlq: the dead letters of the log (records that are not valid commands), listed with
// their reason and source position, and replayed into the command log after a fix (a newer
// build that knows their format, say). On Kafka they are read from <prefix>contacts.dlq; on the
// embedded log from the log itself, which `list` reads beside a running server.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "app/commands.h"
#include "core/command_codec.h"
#include "projector/record.h"

namespace contacts::app {

namespace {

constexpr const char* kUsage =
    "usage: contacts dlq list [--values]\n"
    "       contacts dlq replay (--all | POSITION...)   POSITION: partition/offset, as listed";

// The dead letters of the log the flags name, and the log when it was opened to append.
struct Letters {
  std::vector<DeadLetter> letters;
  OpenedLog log;  // empty when listed read-only
};

// The dead letters of the log the flags name, and that log when opened to append; nullopt once
// the reason is printed.
std::optional<Letters> read_letters(const Flags& flags, bool to_append) {
  const std::string path = log_path(flags.get("data"));
  Letters out;
  Result<std::vector<DeadLetter>> letters = Status{Code::kNotFound, "no log at " + path};
  if (flags.has("brokers") || (to_append && std::filesystem::exists(path))) {
    out.log = open_log(flags);  // says why when it cannot
    if (!out.log) return std::nullopt;
    letters = out.log.dead_letters()->list();
  } else if (!to_append) {
    // Read-only: beside the server that holds the embedded log.
    auto log = EmbeddedLog::open_read_only(path);
    letters = log.ok() ? (*log)->list() : Result<std::vector<DeadLetter>>(log.status());
  }
  if (!letters.ok()) {
    std::cerr << "contacts dlq: " << letters.status().message() << "\n";
    return std::nullopt;
  }
  out.letters = std::move(*letters);
  return out;
}

int list(const Flags& flags) {
  auto read = read_letters(flags, false);
  if (!read) return 1;
  for (const auto& letter : read->letters) {
    if (flags.enabled("values")) {
      // One line each, as ingest reads NDJSON: the record as it is when it is one line; else
      // JSON compacted, anything else with its line breaks escaped (it is no command then).
      if (letter.value.find('\n') == std::string::npos) {
        std::cout << letter.value << "\n";
        continue;
      }
      auto json = nlohmann::json::parse(letter.value, nullptr, false);
      if (!json.is_discarded()) {
        std::cout << json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      } else {
        std::string line;
        for (char c : letter.value) line += c == '\n' ? std::string("\\n") : std::string(1, c);
        std::cout << line << "\n";
      }
      continue;
    }
    nlohmann::json line = {{"source", position_name(letter.source)},
                           {"reason", letter.reason},
                           {"key", letter.key},
                           {"value", letter.value}};
    std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

// Why `letter` would be dead-lettered again, or ok: it must now be a valid command whose key
// is its workspace.
Status still_invalid(const DeadLetter& letter) {
  auto command = decode_command(letter.value);
  return command.ok() ? check_key(letter.key, *command) : command.status();
}

int replay(const Flags& flags, const std::vector<std::string>& chosen, bool all) {
  std::set<std::pair<int32_t, int64_t>> wanted;
  for (const auto& text : chosen) {
    auto position = parse_position(text);
    if (!position) {
      std::cerr << "contacts dlq: \"" << text << "\" is not a position (partition/offset)\n"
                << kUsage << "\n";
      return 2;
    }
    wanted.insert({position->partition.value, position->offset.value});
  }
  auto read = read_letters(flags, true);
  if (!read) return 1;
  std::vector<LogRecord> records;
  size_t refused = 0;
  for (const auto& letter : read->letters) {
    const std::pair<int32_t, int64_t> at{letter.source.partition.value, letter.source.offset.value};
    if (!all && !wanted.erase(at)) continue;
    if (Status s = still_invalid(letter); !s.ok()) {
      std::cerr << position_name(letter.source) << ": still invalid, not replayed: " << s.message()
                << "\n";
      ++refused;
      continue;
    }
    records.push_back({letter.key, letter.value});
  }
  for (const auto& [p, o] : wanted) {
    std::cerr << position_name({Partition(p), Offset(o)}) << ": no dead letter there\n";
    ++refused;
  }
  if (!records.empty()) {
    auto positions = read->log->append(records);
    if (!positions.ok()) {
      std::cerr << "contacts dlq: " << positions.status().message() << "; nothing replayed\n";
      return 1;
    }
  }
  std::cout << "replayed " << records.size() << " record(s)\n";
  return refused > 0 ? 1 : 0;
}

}  // namespace

int run_dlq(int argc, char** argv) {
  Flags flags;
  std::vector<FlagSpec> specs = {
      data_flag(),
      partitions_flag(),
      brokers_flag(),
      topic_prefix_flag(),
      {"values", "", "", "list: print only the records, one per line (NDJSON for ingest)", true},
      {"all", "", "", "replay: every dead letter that is now a valid command", true}};
  if (int rc = parse_or_exit(flags, "dlq",
                             "dlq list | dlq replay: the dead letters of the log (records that "
                             "are not valid commands), and putting them back after a fix.",
                             specs, argc, argv,
                             "list [flags] | contacts dlq replay (--all | POSITION...) [flags]");
      rc >= 0)
    return rc;
  const auto& args = flags.positional();
  if (args.size() == 1 && args[0] == "list") return list(flags);
  if (!args.empty() && args[0] == "replay" && (flags.enabled("all") != (args.size() > 1)))
    return replay(flags, std::vector<std::string>(args.begin() + 1, args.end()),
                  flags.enabled("all"));
  std::cerr << kUsage << "\n";
  return 2;
}

}  // namespace contacts::app
