// Command-line flags of the contacts binary: every flag also reads an environment variable
// (DESIGN.md section 8). Parsing errors are reported, never guessed around.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace contacts::app {

struct FlagSpec {
  std::string name;      // without the leading dashes
  std::string env;       // empty: no variable
  std::string fallback;  // default value; empty means none
  std::string help;
  bool boolean = false;
  // A secret: its variable may instead name a file that holds it, `ENV_FILE` (Docker and
  // Kubernetes secrets), read with one trailing newline removed.
  bool secret = false;
};

class Flags {
 public:
  // Parses argv (after the subcommand) against `specs`; false with `error` set on failure.
  bool parse(const std::vector<FlagSpec>& specs, int argc, char** argv, std::string& error);

  std::string get(const std::string& name) const;
  bool has(const std::string& name) const;
  // Booleans: 1/true/yes/on, or 0/false/no/off (any case); any other value is a parse error.
  bool enabled(const std::string& name) const;
  // An integer flag within [min, max]; false with `error` when not.
  bool integer(const std::string& name, long long min, long long max, long long& out,
               std::string& error) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// The --help text: "usage: contacts COMMAND SYNOPSIS", the summary, then each flag.
std::string usage(const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, const std::string& synopsis = "[flags]");
// Parses durations like 30s, 10m, 1h, 2d or plain seconds; nullopt when malformed.
std::optional<long long> parse_duration_seconds(const std::string& text);

}  // namespace contacts::app
