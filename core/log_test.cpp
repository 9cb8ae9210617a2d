#include "core/log.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <vector>

namespace contacts {
namespace {

// The lines written while it lives, into a stream; the process's logger is put back after.
class CapturedLog {
 public:
  CapturedLog(log::Format format, log::Level level) { log::configure(format, level, out_); }
  ~CapturedLog() { log::configure(log::Format::kText, log::kDefaultLevel, log::Stream::kStderr); }
  std::vector<std::string> lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  std::ostringstream out_;
};

TEST_CASE("a JSON line is one object with ts, level, msg and the fields in order") {
  CapturedLog captured(log::Format::kJson, log::Level::kInfo);
  log::info("listening", {{"url", "http://127.0.0.1:8080"}, {"port", 8080}, {"tls", false}});
  auto lines = captured.lines();
  REQUIRE(lines.size() == 1);
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(std::regex_match(j.at("ts").get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK(j.at("level") == "info");
  CHECK(j.at("msg") == "listening");
  CHECK(j.at("url") == "http://127.0.0.1:8080");
  CHECK(j.at("port") == 8080);
  CHECK(j.at("tls") == false);
  CHECK(lines[0].find(R"("msg":"listening","url":"http://127.0.0.1:8080","port":8080)") !=
        std::string::npos);
}

TEST_CASE("JSON lines escape quotes, backslashes, newlines and invalid UTF-8") {
  CapturedLog captured(log::Format::kJson, log::Level::kInfo);
  const std::string tricky = "a \"quoted\" \\ path\nsecond line\t\x01 caf\xc3\xa9";
  log::warn(tricky, {{"reason", tricky}, {"bytes", std::string("bad \xff\xfe utf-8")}});
  auto lines = captured.lines();
  REQUIRE(lines.size() == 1);  // the newline inside stayed escaped
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j.at("level") == "warn");
  CHECK(j.at("msg") == tricky);
  CHECK(j.at("reason") == tricky);
  CHECK(j.at("bytes") == "bad \xef\xbf\xbd\xef\xbf\xbd utf-8");  // each bad byte is U+FFFD
}

TEST_CASE("a text line is timestamp, padded level, message and key=value fields") {
  CapturedLog captured(log::Format::kText, log::Level::kDebug);
  log::info("request", {{"method", "GET"},
                        {"path", "/healthz"},
                        {"status", 200},
                        {"duration_ms", 1.5},
                        {"note", "two words"},
                        {"empty", ""}});
  auto lines = captured.lines();
  REQUIRE(lines.size() == 1);
  std::smatch m;
  REQUIRE(std::regex_match(lines[0], m, std::regex(R"((\S+Z) info  (.*))")));
  CHECK(m[2] == R"(request method=GET path=/healthz status=200 duration_ms=1.500 )"
                R"(note="two words" empty="")");
}

TEST_CASE("a text line keeps an event on one line whatever its message holds") {
  CapturedLog captured(log::Format::kText, log::Level::kInfo);
  log::error("first\nsecond", {{"reason", "x\ny"}});
  auto lines = captured.lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].ends_with(R"(error first\nsecond reason="x\ny")"));
}

TEST_CASE("events below the configured level are not written") {
  CapturedLog captured(log::Format::kJson, log::Level::kWarn);
  CHECK_FALSE(log::enabled(log::Level::kInfo));
  CHECK(log::enabled(log::Level::kError));
  log::debug("d");
  log::info("i");
  log::warn("w");
  log::error("e");
  auto lines = captured.lines();
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0]).at("level") == "warn");
  CHECK(nlohmann::json::parse(lines[1]).at("level") == "error");
}

TEST_CASE("level and format names are read in any case; others are refused") {
  CHECK(log::parse_level("DEBUG") == log::Level::kDebug);
  CHECK(log::parse_level("info") == log::Level::kInfo);
  CHECK(log::parse_level("Warning") == log::Level::kWarn);
  CHECK(log::parse_level("warn") == log::Level::kWarn);
  CHECK(log::parse_level("error") == log::Level::kError);
  CHECK_FALSE(log::parse_level("verbose"));
  CHECK_FALSE(log::parse_level(""));
  CHECK(log::parse_format("JSON") == log::Format::kJson);
  CHECK(log::parse_format("text") == log::Format::kText);
  CHECK_FALSE(log::parse_format("logfmt"));
}

}  // namespace
}  // namespace contacts
