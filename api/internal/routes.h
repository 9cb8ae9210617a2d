// The route table of the API: the routes a path names (`match`), the methods each answers and
// its name in the HTTP metrics, and `dispatch`, which hands a request to its handler.
#pragma once

#include <string_view>

#include "api/internal/request.h"

namespace contacts::api_internal {

enum class Route {
  kNone,
  kContacts,
  kContact,
  kEvents,
  kExport,
  kApiKeys,
  kApiKey,
  kAudit,
  kWebhooks,
  kWebhook,
  kDeliveries,
  kRotateSecret,
  kTestEvent,
  kRedeliver
};

// `Segments`: the decoded path segments of a request, or its raw ones (api_route).
template <typename Segments>
Route match(const Segments& s) {
  if (s.size() < 4 || s[0] != "api" || s[1] != "workspaces") return Route::kNone;
  if (s[3] == "contacts") {
    if (s.size() == 4) return Route::kContacts;
    if (s.size() == 5) return Route::kContact;
    if (s.size() == 6 && s[5] == "events") return Route::kEvents;
    if (s.size() == 6 && s[5] == "export") return Route::kExport;
  }
  if (s[3] == "api-keys") {
    if (s.size() == 4) return Route::kApiKeys;
    if (s.size() == 5) return Route::kApiKey;
  }
  if (s[3] == "audit-log" && s.size() == 4) return Route::kAudit;
  if (s[3] == "webhooks") {
    if (s.size() == 4) return Route::kWebhooks;
    if (s.size() == 5) return Route::kWebhook;
    if (s.size() == 6 && s[5] == "deliveries") return Route::kDeliveries;
    if (s.size() == 6 && s[5] == "rotate-secret") return Route::kRotateSecret;
    if (s.size() == 6 && s[5] == "test") return Route::kTestEvent;
    if (s.size() == 8 && s[5] == "deliveries" && s[7] == "redeliver") return Route::kRedeliver;
  }
  return Route::kNone;
}

// The handlers dispatch calls, once it checked the caller's role where a route needs one.
// api/contact_handlers.cpp
HttpResponse list_contacts(Request& r);
HttpResponse get_contact(Request& r);
HttpResponse contact_events(Request& r);
HttpResponse export_contact(Request& r);
HttpResponse delete_contact(Request& r);
// api/key_handlers.cpp
HttpResponse list_api_keys(Request& r);
HttpResponse create_api_key(Request& r);
HttpResponse revoke_api_key(Request& r);
HttpResponse audit_log(Request& r);
// api/webhook_handlers.cpp
HttpResponse list_webhooks(Request& r);
HttpResponse create_webhook(Request& r);
HttpResponse delete_webhook(Request& r);
HttpResponse webhook_deliveries(Request& r);
// PATCH, rotate-secret, test and redeliver (api/webhook_operations.h), on an existing webhook.
HttpResponse operate_webhook(Request& r, Route route);

// What a route answers (the Allow header of its 405); HEAD is GET without the body.
std::string_view allowed_methods(Route route);

// The answer of `route` to `method`: its handler's, a 405, or a 403 for a role it refuses.
HttpResponse dispatch(Request& r, Route route, http::verb method);

// The route's name in the HTTP metrics (kApiRoutes), by method.
std::string_view route_name(Route route, http::verb method);

}  // namespace contacts::api_internal
