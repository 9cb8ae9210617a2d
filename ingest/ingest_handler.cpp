#include "ingest/ingest_handler.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/text.h"
#include "http/openapi.h"
#include "http/probe.h"
#include "ingest/intake.h"

namespace contacts {

namespace {

bool authorized(const IngestContext& ctx, std::string_view header) {
  auto token = bearer_token(header);
  return ctx.token && token && constant_time_equal(*token, *ctx.token);
}

bool is_ndjson(const HttpRequest& request) {
  std::string_view type = request[http::field::content_type];
  return type.substr(0, 20) == "application/x-ndjson" ||
         type.substr(0, 20) == "application/jsonlines";
}

std::string_view path_of(const HttpRequest& request) {
  std::string_view target = request.target();
  return target.substr(0, target.find('?'));
}

// Ready when the log tells the end of every partition: the embedded log always does; on Kafka,
// the brokers answered for each partition's leader within the log's timeout, so an append
// would find them.
HttpResponse readiness(const IngestContext& ctx) {
  for (Offset end : ctx.log.end_offsets())
    if (end.value == std::numeric_limits<int64_t>::max())
      return json_response(503, R"({"status":"log unavailable"})");
  return json_response(200, R"({"status":"ready"})");
}

}  // namespace

std::string_view ingest_route(const HttpRequest& request) {
  std::string_view path = path_of(request);
  if (path == "/v1/commands")
    return request.method() == http::verb::post ? "ingest.commands" : kOtherRoute;
  if (path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/openapi.yaml")
    return request.method() == http::verb::get || request.method() == http::verb::head
               ? "probe"
               : kOtherRoute;
  return kOtherRoute;
}

std::optional<HttpResponse> check_ingest_header(const IngestContext& ctx,
                                                const http::request_header<>& header) {
  // Without a body there is nothing to buffer: the handler answers (404, 405, 401).
  if (header.method() != http::verb::post && !declares_body(header)) return std::nullopt;
  if (!authorized(ctx, header[http::field::authorization]))
    return unauthorized("Invalid ingest token", "contacts-ingest",
                        !header[http::field::authorization].empty());
  return std::nullopt;
}

HttpResponse handle_ingest_request(const IngestContext& ctx, const HttpRequest& request) {
  std::string_view target = path_of(request);
  if (target == "/openapi.yaml") {
    if (request.method() != http::verb::get) return method_not_allowed("GET, HEAD");
    return openapi_response();
  }
  if (target == "/healthz" || target == "/readyz" || (target == "/metrics" && ctx.metrics_text)) {
    if (request.method() != http::verb::get) return method_not_allowed("GET, HEAD");
    if (target == "/healthz") return json_response(200, R"({"status":"ok"})");
    if (target == "/readyz") return readiness(ctx);
    HttpResponse res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = ctx.metrics_text();
    res.prepare_payload();
    return res;
  }
  if (target != "/v1/commands") return error_response(404, "Not found");
  if (request.method() != http::verb::post) return method_not_allowed("POST");
  if (!authorized(ctx, request[http::field::authorization]))
    return unauthorized("Invalid ingest token", "contacts-ingest",
                        !request[http::field::authorization].empty());

  int64_t now = ctx.clock.now_seconds();
  Intake intake = is_ndjson(request) ? intake_ndjson(request.body(), now, ctx.keys)
                                     : intake_json(request.body(), now, ctx.keys);
  if (!intake.unavailable.ok())
    return error_response(503, "Key store unavailable: " + intake.unavailable.message());
  if (intake.error_count > 0) {
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : intake.errors) errors.push_back({{"line", e.line}, {"reason", e.reason}});
    nlohmann::json body = {{"error", "Invalid commands"}, {"errors", std::move(errors)}};
    if (intake.error_count > intake.errors.size()) body["error_count"] = intake.error_count;
    return json_response(400, body.dump());
  }
  auto appended = ctx.log.append(intake.records);
  if (!appended.ok()) return error_response(503, "Log unavailable: " + appended.status().message());
  if (ctx.accepted) ctx.accepted->fetch_add(intake.records.size());
  return json_response(202, nlohmann::json{{"accepted", intake.records.size()}}.dump());
}

}  // namespace contacts
