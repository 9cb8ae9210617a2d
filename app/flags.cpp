#include "app/flags.h"

#include <cstdlib>

namespace contacts::app {

namespace {
bool truthy(const std::string& v) { return v == "1" || v == "true" || v == "yes" || v == "on"; }
}  // namespace

bool Flags::parse(const std::vector<FlagSpec>& specs, int argc, char** argv, std::string& error) {
  for (const auto& spec : specs) {
    const char* env = spec.env.empty() ? nullptr : std::getenv(spec.env.c_str());
    if (env)
      values_[spec.name] = env;
    else if (!spec.fallback.empty())
      values_[spec.name] = spec.fallback;
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
                  const std::vector<FlagSpec>& specs) {
  std::string out = "usage: contacts " + command + " [flags]\n" + summary + "\n\nflags:\n";
  for (const auto& s : specs) {
    out += "  --" + s.name + (s.boolean ? "" : " VALUE");
    out += "\n      " + s.help;
    if (!s.env.empty()) out += " (env " + s.env + ")";
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
