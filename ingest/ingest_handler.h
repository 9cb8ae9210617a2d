// The ingest listener's handler: POST /v1/commands with the ingest token (DESIGN.md section 6).
// 202 {"accepted": n} once the whole body is durably appended; 400 naming every bad line.
// Also GET /healthz, /readyz (200 when the log tells the end of every partition: it can take
// appends) and /metrics.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "bus/log.h"
#include "core/clock.h"
#include "http/server.h"
#include "privacy/key_store.h"

namespace contacts {

inline constexpr size_t kDefaultIngestBodyLimit = 32 << 20;

struct IngestContext {
  Log& log;
  std::optional<std::string> token;  // none: every request is refused
  const Clock& clock;
  std::atomic<uint64_t>* accepted = nullptr;  // metrics
  KeyStore* keys = nullptr;  // seals personal fields; none: records go in clear (--no-encryption)
  std::function<std::string()> metrics_text;  // GET /metrics (Prometheus text); null: 404
};

// The routes of the ingest listener for its HTTP metrics ("probe": /healthz, /readyz,
// /metrics, /openapi.yaml); anything else is kOtherRoute (http/probe.h).
inline constexpr std::array<std::string_view, 2> kIngestRoutes = {"probe", "ingest.commands"};
std::string_view ingest_route(const HttpRequest& request);

HttpResponse handle_ingest_request(const IngestContext& ctx, const HttpRequest& request);
// Refuses a POST, or any request with a body, without the token from its header alone,
// before its body is read (the connection then closes).
std::optional<HttpResponse> check_ingest_header(const IngestContext& ctx,
                                                const http::request_header<>& header);

}  // namespace contacts
