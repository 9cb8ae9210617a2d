// The access log: one event per response a listener writes, and the request id that ties it to
// the client's and a proxy's logs. Pure functions and a thread-safe write; no personal data: a
// query string gives its parameter names only (a search may hold a name or an email).
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <string_view>

namespace contacts {

// The longest X-Request-Id taken from a request; a longer one is replaced.
inline constexpr size_t kMaxRequestIdLength = 128;
// The most of a request's target the access log keeps.
inline constexpr size_t kMaxLoggedTarget = 512;

// Whether a proxy's X-Request-Id is taken as it is: 1 to kMaxRequestIdLength characters of
// [A-Za-z0-9._:-].
bool acceptable_request_id(std::string_view id);
// A new request id: 16 lower-case hex digits of CSPRNG bytes.
std::string new_request_id();
// The request's acceptable X-Request-Id, else a new one.
std::string request_id_of(const boost::beast::http::request_header<>& header);

// A target as logged: its path, and of its query string the parameter names only, in order
// ("/api/workspaces/1/contacts?search&page"), cut at kMaxLoggedTarget bytes.
std::string loggable_target(std::string_view target);

struct AccessRecord {
  std::string_view method;
  std::string_view target;  // as loggable_target gives it
  unsigned status = 0;
  size_t bytes = 0;  // of the response body
  std::chrono::steady_clock::duration duration{};
  std::string_view remote;
  std::string_view request_id;
};
// Writes the event "request" at info level.
void log_access(const AccessRecord& record);

}  // namespace contacts
