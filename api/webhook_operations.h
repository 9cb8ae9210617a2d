// The operations on one webhook subscription (README "Webhooks"): pause and resume, rotate its
// secret, send a test event, redeliver a delivery. Pure mappings like handle_api_request, called
// by it once the caller is known to be an owner or admin and the subscription to exist. Each is
// a command on the log, so each is in the audit log; the test event and the redelivery then act
// on the ApiContext's DeliveryStore.
#pragma once

#include <string_view>

#include "api/handlers.h"

namespace contacts {

// The default and the bound of a rotation's overlap (POST .../rotate-secret).
inline constexpr int64_t kDefaultSecretOverlapSeconds = 24 * 3600;

// One call on an existing subscription of a workspace, by `actor`.
struct WebhookCall {
  const ApiContext& ctx;
  const ViewStore& views;  // the set the request reads
  WorkspaceId ws;
  Actor actor;
  int64_t webhook_id = 0;
};

// PATCH .../webhooks/:id {"is_active": bool}: 200 {"webhook": {...}} without the secret.
HttpResponse update_webhook(const WebhookCall& call, std::string_view body);
// POST .../webhooks/:id/rotate-secret [{"overlap_seconds": N}]: 200 {"webhook": {..., secret},
// "previous_secret_expires_at"}.
HttpResponse rotate_webhook_secret(const WebhookCall& call, std::string_view body);
// POST .../webhooks/:id/test: 202 {"delivery": {...}} of a webhook.test event.
HttpResponse send_test_event(const WebhookCall& call);
// POST .../webhooks/:id/deliveries/:message_id/redeliver: 202 {"delivery": {...}}.
HttpResponse redeliver(const WebhookCall& call, std::string_view message_id);

}  // namespace contacts
