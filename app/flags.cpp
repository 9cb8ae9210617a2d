#include "app/flags.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace contacts::app {

namespace {

std::string lower(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v;
}
bool truthy(const std::string& v) {
  const std::string l = lower(v);
  return l == "1" || l == "true" || l == "yes" || l == "on";
}
bool falsy(const std::string& v) {
  const std::string l = lower(v);
  return l.empty() || l == "0" || l == "false" || l == "no" || l == "off";
}

// The secret in `path`, without one trailing newline (what `echo` and editors leave).
bool read_secret_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return true;
}

}  // namespace

bool Flags::parse(const std::vector<FlagSpec>& specs, int argc, char** argv, std::string& error) {
  for (const auto& spec : specs) {
    const char* env = spec.env.empty() ? nullptr : std::getenv(spec.env.c_str());
    const char* file = spec.secret ? std::getenv((spec.env + "_FILE").c_str()) : nullptr;
    if (env && file) {
      error = spec.env + " and " + spec.env + "_FILE are both set; set one";
      return false;
    }
    if (env) {
      values_[spec.name] = env;
    } else if (file) {
      if (!read_secret_file(file, values_[spec.name])) {
        error = spec.env + "_FILE: cannot read " + std::string(file);
        return false;
      }
    } else if (!spec.fallback.empty()) {
      values_[spec.name] = spec.fallback;
    }
  }
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (!spec) {
      error = "unknown flag --" + name;
      return false;
    }
    if (!inline_value) {
      if (spec->boolean) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        error = "flag --" + name + " needs a value";
        return false;
      }
    }
    values_[name] = value;
  }
  // A boolean that is neither on nor off is a mistake to report, not an off to guess.
  for (const auto& spec : specs) {
    if (!spec.boolean) continue;
    const std::string value = get(spec.name);
    if (truthy(value) || falsy(value)) continue;
    error = "--" + spec.name + (spec.env.empty() ? "" : " (" + spec.env + ")") +
            " takes 1/true/yes/on or 0/false/no/off, not '" + value + "'";
    return false;
  }
  return true;
}

std::string Flags::get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

bool Flags::has(const std::string& name) const {
  return values_.count(name) > 0 && !get(name).empty();
}

bool Flags::enabled(const std::string& name) const { return truthy(get(name)); }

bool Flags::integer(const std::string& name, long long min, long long max, long long& out,
                    std::string& error) const {
  std::string v = get(name);
  char* end = nullptr;
  long long parsed = v.empty() ? 0 : std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || parsed < min || parsed > max) {
    error = "--" + name + " must be an integer between " + std::to_string(min) + " and " +
            std::to_string(max);
    return false;
  }
  out = parsed;
  return true;
}

std::string usage(const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, const std::string& synopsis) {
  std::string out = "usage: contacts " + command + " " + synopsis + "\n" + summary + "\n\nflags:\n";
  for (const auto& s : specs) {
    out += "  --" + s.name + (s.boolean ? "" : " VALUE");
    out += "\n      " + s.help;
    if (!s.env.empty()) out += " (env " + s.env + (s.secret ? ", or " + s.env + "_FILE" : "") + ")";
    if (!s.fallback.empty()) out += " [default " + s.fallback + "]";
    out += "\n";
  }
  return out;
}

std::optional<long long> parse_duration_seconds(const std::string& text) {
  if (text.empty()) return std::nullopt;
  long long unit = 1;
  std::string number = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      number.pop_back();
      break;
    case 'm':
      unit = 60;
      number.pop_back();
      break;
    case 'h':
      unit = 3600;
      number.pop_back();
      break;
    case 'd':
      unit = 86400;
      number.pop_back();
      break;
    default:
      break;
  }
  if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos ||
      number.size() > 9)
    return std::nullopt;
  return std::stoll(number) * unit;
}

}  // namespace contacts::app
