#include "api/handlers.h"

#include <openssl/rand.h>

#include "api/internal/request.h"
#include "api/internal/routes.h"
#include "api/router.h"
#include "core/text.h"
#include "http/etag.h"
#include "http/openapi.h"
#include "http/probe.h"

namespace contacts {

namespace {

using api_internal::dispatch;
using api_internal::from_status;
using api_internal::match;
using api_internal::Request;
using api_internal::Route;

// Why credentials were refused: a 401 carries the Bearer challenge.
HttpResponse refused(const Status& s, const http::request_header<>& header) {
  if (http_status(s.code()) != 401) return from_status(s);
  return unauthorized(s.message(), "contacts", !header[http::field::authorization].empty());
}

HttpResponse operations(const ApiContext& ctx, const std::string& name) {
  if (name == "healthz") return json_response(200, R"({"status":"ok"})");
  if (name == "readyz") {
    // The views' state (their fold version, a rebuild under way) follows the status.
    const std::string state = ctx.views_state ? ctx.views_state() : std::string();
    const std::string views = state.empty() ? "" : R"(,"views":)" + state;
    if (ctx.ready()) return json_response(200, R"({"status":"ready")" + views + "}");
    const char* status = ctx.views.get() ? "catching up" : "rebuilding";
    return json_response(503, R"({"status":")" + std::string(status) + "\"" + views + "}");
  }
  HttpResponse res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = ctx.metrics_text();
  res.prepare_payload();
  return res;
}

// A read of contacts answers by the caller's rights: no shared cache keeps it, and a browser's
// asks again every time, with the tag, so a read after a write sees it (docs/decisions.md).
HttpResponse revalidated(const HttpRequest& request, HttpResponse response) {
  if (response.result() == http::status::ok && request.method() == http::verb::get) {
    response.set(http::field::cache_control, "private, no-cache");
    response.set(http::field::vary, "Authorization");
  }
  return conditional(request, std::move(response));
}

}  // namespace

std::string new_command_id(std::string_view prefix) {
  unsigned char bytes[12];
  RAND_bytes(bytes, sizeof bytes);
  return std::string(prefix) + "-" +
         hex_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

std::optional<HttpResponse> check_api_header(const ApiContext& ctx,
                                             const http::request_header<>& header) {
  if (!declares_body(header)) return std::nullopt;
  const std::shared_ptr<ViewStore> views = ctx.views.get();
  if (!views)
    return error_response(503, "The views are being rebuilt before this node serves; see /readyz");
  auto principal = ctx.auth.authenticate(*views, header[http::field::authorization]);
  if (!principal.ok()) return refused(principal.status(), header);
  return std::nullopt;
}

HttpResponse handle_api_request(const ApiContext& ctx, const HttpRequest& http_request) {
  Target target = parse_target(http_request.target());
  const auto& s = target.segments;
  if (s.size() == 1 &&
      (s[0] == "healthz" || s[0] == "readyz" || s[0] == "metrics" || s[0] == "openapi.yaml")) {
    if (http_request.method() != http::verb::get) return method_not_allowed("GET, HEAD");
    return s[0] == "openapi.yaml" ? openapi_response() : operations(ctx, s[0]);
  }
  Route route = match(s);
  if (route == Route::kNone) return error_response(404, "Not found");
  if (ctx.holds)
    if (auto ws = parse_id(s[2]); ws && !ctx.holds(WorkspaceId(*ws)))
      return error_response(503,
                            "This node does not hold this workspace's partition; ask a replica");
  // One view set for the whole request, even if a rebuild swaps in another meanwhile.
  const std::shared_ptr<ViewStore> views = ctx.views.get();
  if (!views)
    return error_response(503, "The views are being rebuilt before this node serves; see /readyz");
  auto principal = ctx.auth.authenticate(*views, http_request[http::field::authorization]);
  if (!principal.ok()) return refused(principal.status(), http_request.base());
  auto ws = parse_id(s[2]);
  if (!ws) return error_response(404, "Not found");
  Request r{ctx,        *views,           http_request, std::move(target),
            *principal, WorkspaceId(*ws), Role::kNone};
  r.role = ctx.auth.role_in(*views, r.principal, r.ws);
  if (r.role == Role::kNone) return error_response(403, "Not a member of this workspace");
  HttpResponse response = dispatch(r, route, http_request.method());
  if (route == Route::kContacts || route == Route::kContact || route == Route::kEvents)
    return revalidated(http_request, std::move(response));
  return response;
}

}  // namespace contacts
