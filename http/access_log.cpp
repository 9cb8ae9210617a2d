#include "http/access_log.h"

#include "core/crypto.h"
#include "core/log.h"
#include "core/text.h"

namespace contacts {

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id() { return hex_encode(random_bytes(8)); }

std::string request_id_of(const boost::beast::http::request_header<>& header) {
  auto it = header.find("X-Request-Id");
  if (it != header.end() && acceptable_request_id(it->value())) return std::string(it->value());
  return new_request_id();
}

std::string loggable_target(std::string_view target) {
  auto question = target.find('?');
  std::string out(target.substr(0, std::min(question, kMaxLoggedTarget)));
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  char separator = '?';
  while (!query.empty() && out.size() < kMaxLoggedTarget) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::string_view name = pair.substr(0, pair.find('='));
    if (name.empty()) continue;
    out += separator;
    out += name;
    separator = '&';
  }
  if (out.size() > kMaxLoggedTarget) out.resize(kMaxLoggedTarget);
  return out;
}

void log_access(const AccessRecord& r) {
  if (!log::enabled(log::Level::kInfo)) return;
  double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  log::info("request", {{"method", r.method},
                        {"path", r.target},
                        {"status", r.status},
                        {"bytes", r.bytes},
                        {"duration_ms", ms},
                        {"remote", r.remote},
                        {"request_id", r.request_id}});
}

}  // namespace contacts
