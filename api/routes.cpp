// The route table of the API (api/internal/routes.h) and api_route, the route label of the HTTP
// metrics.
#include "api/internal/routes.h"

#include "api/handlers.h"
#include "http/probe.h"

namespace contacts {
namespace api_internal {

std::string_view allowed_methods(Route route) {
  switch (route) {
    case Route::kContact:
      return "GET, HEAD, DELETE";
    case Route::kApiKeys:
    case Route::kWebhooks:
      return "GET, HEAD, POST";
    case Route::kApiKey:
      return "DELETE";
    case Route::kWebhook:
      return "PATCH, DELETE";
    case Route::kRotateSecret:
    case Route::kTestEvent:
    case Route::kRedeliver:
      return "POST";
    default:
      return "GET, HEAD";
  }
}

HttpResponse dispatch(Request& r, Route route, http::verb method) {
  auto not_allowed = [route] { return method_not_allowed(allowed_methods(route)); };
  switch (route) {
    case Route::kContacts:
      return method == http::verb::get ? list_contacts(r) : not_allowed();
    case Route::kContact:
      if (method == http::verb::get) return get_contact(r);
      if (method == http::verb::delete_) return delete_contact(r);
      return not_allowed();
    case Route::kEvents:
      return method == http::verb::get ? contact_events(r) : not_allowed();
    case Route::kExport:
      return method == http::verb::get ? export_contact(r) : not_allowed();
    case Route::kApiKeys:
    case Route::kApiKey:
    case Route::kAudit:
      if (!can_manage(r.role))
        return error_response(403, route == Route::kAudit
                                       ? "Only owners and admins can view the audit log"
                                       : "Only owners and admins can manage API keys");
      if (route == Route::kAudit) return method == http::verb::get ? audit_log(r) : not_allowed();
      if (route == Route::kApiKey)
        return method == http::verb::delete_ ? revoke_api_key(r) : not_allowed();
      if (method == http::verb::get) return list_api_keys(r);
      if (method == http::verb::post) return create_api_key(r);
      return not_allowed();
    case Route::kWebhooks:
    case Route::kWebhook:
    case Route::kDeliveries:
    case Route::kRotateSecret:
    case Route::kTestEvent:
    case Route::kRedeliver:
      if (!can_manage(r.role))
        return error_response(403, "Only owners and admins can manage webhooks");
      if (route == Route::kDeliveries)
        return method == http::verb::get ? webhook_deliveries(r) : not_allowed();
      if (route == Route::kWebhook) {
        if (method == http::verb::delete_) return delete_webhook(r);
        return method == http::verb::patch ? operate_webhook(r, route) : not_allowed();
      }
      if (route != Route::kWebhooks)  // rotate-secret, test, redeliver
        return method == http::verb::post ? operate_webhook(r, route) : not_allowed();
      if (method == http::verb::get) return list_webhooks(r);
      if (method == http::verb::post) return create_webhook(r);
      return not_allowed();
    case Route::kNone:
      break;
  }
  return error_response(404, "Not found");
}

std::string_view route_name(Route route, http::verb method) {
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post, del = method == http::verb::delete_;
  switch (route) {
    case Route::kContacts:
      if (get) return "contacts.list";
      break;
    case Route::kContact:
      if (get) return "contacts.get";
      if (del) return "contacts.delete";
      break;
    case Route::kEvents:
      if (get) return "timeline";
      break;
    case Route::kExport:
      if (get) return "contacts.export";
      break;
    case Route::kApiKeys:
      if (get) return "api_keys.list";
      if (post) return "api_keys.create";
      break;
    case Route::kApiKey:
      if (del) return "api_keys.revoke";
      break;
    case Route::kAudit:
      if (get) return "audit_log";
      break;
    case Route::kWebhooks:
      if (get) return "webhooks.list";
      if (post) return "webhooks.create";
      break;
    case Route::kWebhook:
      if (del) return "webhooks.delete";
      if (method == http::verb::patch) return "webhooks.update";
      break;
    case Route::kDeliveries:
      if (get) return "webhooks.deliveries";
      break;
    case Route::kRotateSecret:
      if (post) return "webhooks.rotate_secret";
      break;
    case Route::kTestEvent:
      if (post) return "webhooks.test";
      break;
    case Route::kRedeliver:
      if (post) return "webhooks.redeliver";
      break;
    case Route::kNone:
      break;
  }
  return kOtherRoute;
}

}  // namespace api_internal

using api_internal::match;
using api_internal::route_name;

std::string_view api_route(const HttpRequest& request) {
  // The raw segments: no decoding on every request for a label (an encoded name is "other").
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));
  std::vector<std::string_view> segments;
  for (size_t at = 0; at <= path.size() && segments.size() < 9;) {  // as parse_target splits
    size_t end = std::min(path.find('/', at), path.size());
    if (end > at) segments.push_back(path.substr(at, end - at));
    at = end + 1;
  }
  if (segments.size() == 1 && (segments[0] == "healthz" || segments[0] == "readyz" ||
                               segments[0] == "metrics" || segments[0] == "openapi.yaml"))
    return request.method() == http::verb::get || request.method() == http::verb::head
               ? "probe"
               : kOtherRoute;
  return route_name(match(segments), request.method());
}

}  // namespace contacts
