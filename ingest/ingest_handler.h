// The ingest listener's handler: POST /v1/commands with the ingest token (DESIGN.md section 6).
// 202 {"accepted": n} once the whole body is durably appended; 400 naming every bad line.
#pragma once

#include <atomic>
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
};

HttpResponse handle_ingest_request(const IngestContext& ctx, const HttpRequest& request);
// Refuses a POST, or any request with a body, without the token from its header alone,
// before its body is read (the connection then closes).
std::optional<HttpResponse> check_ingest_header(const IngestContext& ctx,
                                                const http::request_header<>& header);

}  // namespace contacts
