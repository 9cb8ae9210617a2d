// handle_api_request: the pure mapping of a parsed request to a response for the Contacts
// API, API keys, audit log and operations endpoints. Reads come from the views; writes are
// commands handed to a CommandSubmitter, which answers once the projector applied them.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>

#include "api/auth.h"
#include "core/clock.h"
#include "core/command.h"
#include "http/server.h"
#include "views/live_views.h"
#include "webhooks/delivery_store.h"

namespace contacts {

inline constexpr std::chrono::seconds kApplyTimeout{10};

// Appends a command to the log and waits until the views have applied it (read-your-writes).
class CommandSubmitter {
 public:
  virtual ~CommandSubmitter() = default;
  // The id derived from the command's log position (the id of what it creates).
  virtual Result<int64_t> submit(Command command) = 0;
};

struct ApiContext {
  const LiveViews& views;  // each request reads the set current when it starts
  const Authenticator& auth;
  CommandSubmitter& submitter;
  const Clock& clock;
  std::function<bool()> ready;                // views have applied the whole log
  std::function<std::string()> metrics_text;  // Prometheus exposition
  DeliveryStore* deliveries = nullptr;        // the dispatcher's records; null: none kept here
  bool webhook_allow_private = false;         // webhook URLs may resolve to private addresses
  // Whether this node's views hold the workspace (a writer holds the partitions it owns); null:
  // every workspace. Requests for one it does not hold answer 503 before anything else.
  std::function<bool(WorkspaceId)> holds;
  std::function<std::string()> views_state;  // a JSON object for /readyz; null: none
};

HttpResponse handle_api_request(const ApiContext& ctx, const HttpRequest& request);
// Refuses a request that announces a body without valid credentials, from its head alone and
// before the body is read (401 as the handler would answer, or 503 while no views are served).
std::optional<HttpResponse> check_api_header(const ApiContext& ctx,
                                             const http::request_header<>& header);

// The routes of the API for its HTTP metrics: a fixed set of names, never paths ("probe":
// /healthz, /readyz, /metrics, /openapi.yaml; "timeline": a contact's events).
inline constexpr std::array<std::string_view, 18> kApiRoutes = {"probe",
                                                                "contacts.list",
                                                                "contacts.get",
                                                                "contacts.delete",
                                                                "timeline",
                                                                "contacts.export",
                                                                "api_keys.list",
                                                                "api_keys.create",
                                                                "api_keys.revoke",
                                                                "audit_log",
                                                                "webhooks.list",
                                                                "webhooks.create",
                                                                "webhooks.update",
                                                                "webhooks.delete",
                                                                "webhooks.deliveries",
                                                                "webhooks.test",
                                                                "webhooks.rotate_secret",
                                                                "webhooks.redeliver"};
// The route of `request` by its method and path (nothing checked, nothing read), one of
// kApiRoutes, or kOtherRoute (http/probe.h) for what no route takes (a 404 or 405).
std::string_view api_route(const HttpRequest& request);

// A fresh command_id for commands the API produces.
std::string new_command_id(std::string_view prefix);

}  // namespace contacts
