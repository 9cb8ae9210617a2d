#include "core/log.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

namespace contacts::log {

namespace {

// Our level names ("warn", not spdlog's "warning"), padded in text so messages line up.
class LevelFlag : public spdlog::custom_flag_formatter {
 public:
  explicit LevelFlag(bool padded) : padded_(padded) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view name = level_name(from_spdlog(msg.level));
    dest.append(name.data(), name.data() + name.size());
    if (padded_)
      for (size_t i = name.size(); i < 5; ++i) dest.push_back(' ');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelFlag>(padded_);
  }

 private:
  static Level from_spdlog(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        return Level::kDebug;
      case spdlog::level::info:
        return Level::kInfo;
      case spdlog::level::warn:
        return Level::kWarn;
      default:
        return Level::kError;
    }
  }
  bool padded_;
};

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

struct Logger {
  Format format = Format::kText;
  std::shared_ptr<spdlog::logger> sink;
};

std::atomic<int> g_level{static_cast<int>(kDefaultLevel)};
std::atomic<std::shared_ptr<const Logger>> g_logger;

void install(Format format, Level level, spdlog::sink_ptr sink) {
  // The pattern holds the timestamp and level; render() gives the rest (%v). UTC, always.
  const char* pattern = format == Format::kJson
                            ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%*",%v})"
                            : "%Y-%m-%dT%H:%M:%S.%eZ %* %v";
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<LevelFlag>('*', format == Format::kText).set_pattern(pattern);
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<Logger>();
  logger->format = format;
  logger->sink = std::make_shared<spdlog::logger>("contacts", std::move(sink));
  logger->sink->set_level(spdlog::level::trace);  // the level is ours (g_level)
  logger->sink->flush_on(spdlog::level::trace);
  g_level = static_cast<int>(level);
  g_logger.store(std::move(logger));
}

std::shared_ptr<const Logger> current() {
  auto logger = g_logger.load();
  if (logger) return logger;
  // An event before configure(): text on stderr, as a process that set nothing up would print.
  install(Format::kText, kDefaultLevel, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  return g_logger.load();
}

std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A value that needs no quotes in text: printable ASCII without spaces, quotes, '=' or '\'.
bool bare(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\') return false;
  return true;
}

// The message of a text line: as it is, but a control character (a newline above all) is
// written as its JSON escape, so one event stays one line.
void append_text_message(std::string& out, std::string_view message) {
  for (char c : message) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) {
      out.push_back(c);
    } else {
      std::string escaped = json_string(std::string_view(&c, 1));
      out.append(escaped, 1, escaped.size() - 2);
    }
  }
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  if (!std::isfinite(v)) {
    text = "null";
    return;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", v);
  text = buffer;
}

std::optional<Level> parse_level(std::string_view text) {
  std::string name = lower(text);
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view text) {
  std::string name = lower(text);
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "error";
}

void configure(Format format, Level level, Stream stream) {
  spdlog::sink_ptr sink;
  if (stream == Stream::kStdout)
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  else
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  install(format, level, std::move(sink));
}

void configure(Format format, Level level, std::ostream& out) {
  install(format, level, std::make_shared<spdlog::sinks::ostream_sink_mt>(out, true));
}

std::string configure_from_environment(Stream stream) {
  std::string problem;
  Format format = Format::kText;
  Level level = kDefaultLevel;
  if (const char* text = std::getenv("CONTACTS_LOG_FORMAT"); text && *text) {
    if (auto parsed = parse_format(text))
      format = *parsed;
    else
      problem = "CONTACTS_LOG_FORMAT must be text or json, not '" + std::string(text) + "'";
  }
  if (const char* text = std::getenv("CONTACTS_LOG_LEVEL"); text && *text) {
    if (auto parsed = parse_level(text))
      level = *parsed;
    else
      problem =
          "CONTACTS_LOG_LEVEL must be debug, info, warn or error, not '" + std::string(text) + "'";
  }
  configure(format, level, stream);
  return problem;
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void write(Level level, std::string_view message, Fields fields) {
  if (!enabled(level)) return;
  auto logger = current();
  std::string line = render(logger->format, message, fields);
  logger->sink->log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
}

std::string render(Format format, std::string_view message, Fields fields) {
  std::string out;
  if (format == Format::kJson) {
    out += "\"msg\":";
    out += json_string(message);
    for (const Field& field : fields) {
      out += ',';
      out += json_string(field.key);
      out += ':';
      out += field.quoted ? json_string(field.text) : field.text;
    }
    return out;
  }
  append_text_message(out, message);
  for (const Field& field : fields) {
    out += ' ';
    append_text_message(out, field.key);
    out += '=';
    out += !field.quoted || bare(field.text) ? field.text : json_string(field.text);
  }
  return out;
}

}  // namespace contacts::log
