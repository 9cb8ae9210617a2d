// The process's event log: one line per event, timestamped (UTC, milliseconds) and levelled, as
// text or as one JSON object per line. Thread-safe; spdlog writes each line in one piece.
//
//   log::info("listening", {{"url", url}, {"role", "serve"}});
//   log::warn("webhook attempt failed", {{"message_id", id}, {"attempt", 2}, {"reason", why}});
//
// Fields are rendered as key=value (text) or "key":value (JSON, escaped as JSON wants, invalid
// UTF-8 replaced). Nothing here redacts: a caller never passes a secret, a token or a person's
// name or email (README, Logs).
#pragma once

#include <concepts>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace contacts::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };
// Where the lines go: servers log to stdout; a CLI command to stderr, its stdout is its output.
enum class Stream { kStdout, kStderr };

inline constexpr Level kDefaultLevel = Level::kInfo;

// One named value of an event: a string, a number or a boolean.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), text(v), quoted(true) {}
  Field(std::string_view k, const std::string& v) : key(k), text(v), quoted(true) {}
  Field(std::string_view k, const char* v) : key(k), text(v), quoted(true) {}
  Field(std::string_view k, bool v) : key(k), text(v ? "true" : "false"), quoted(false) {}
  template <std::integral T>
  requires(!std::same_as<T, bool>) Field(std::string_view k, T v)
      : key(k), text(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);

  std::string_view key;
  std::string text;
  bool quoted;
};
using Fields = std::initializer_list<Field>;

// "debug", "info", "warn" (or "warning"), "error", in any case; nothing for another value.
std::optional<Level> parse_level(std::string_view text);
// "text" or "json", in any case; nothing for another value.
std::optional<Format> parse_format(std::string_view text);
std::string_view level_name(Level level);

// Replaces the process's logger: lines at `level` and above, in `format`, to `stream`. Called
// at startup (before other threads log) and by tests.
void configure(Format format, Level level, Stream stream);
// The same, into `out` (which must outlive the logger): for tests.
void configure(Format format, Level level, std::ostream& out);
// From CONTACTS_LOG_FORMAT and CONTACTS_LOG_LEVEL (defaults: text, info); the message for a
// value neither accepts (then the defaults are in force), empty when both are fine.
std::string configure_from_environment(Stream stream);

// Whether an event at `level` is written: callers skip building costly fields when not.
bool enabled(Level level);
void write(Level level, std::string_view message, Fields fields = {});

inline void debug(std::string_view message, Fields fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, message, fields);
}
inline void info(std::string_view message, Fields fields = {}) {
  write(Level::kInfo, message, fields);
}
inline void warn(std::string_view message, Fields fields = {}) {
  write(Level::kWarn, message, fields);
}
inline void error(std::string_view message, Fields fields = {}) {
  write(Level::kError, message, fields);
}

// What follows the timestamp and level on a line: `message key=value ...` (text) or
// `"msg":...,"key":...` (JSON, the inside of the object).
std::string render(Format format, std::string_view message, Fields fields);

}  // namespace contacts::log
