// The webhook subscriptions of a workspace (list, create, delete, deliveries) and the body
// validators of a new one; the operations on one subscription are api/webhook_operations.h.
#include "api/internal/request.h"
#include "api/internal/routes.h"
#include "api/webhook_operations.h"
#include "webhooks/signing.h"
#include "webhooks/url.h"

namespace contacts::api_internal {

namespace {

Result<std::string> webhook_url(const nlohmann::json& body, bool allow_private) {
  auto url = body.find("url");
  if (url == body.end() || !url->is_string() || url->get_ref<const std::string&>().empty())
    return Status{Code::kInvalid, "url is required"};
  std::string text = url->get<std::string>();
  if (text.size() > kMaxUrlLength)
    return Status{Code::kInvalid, "url must be at most 2048 characters"};
  // The scheme is case-insensitive; the log stores it in lower case.
  for (size_t i = 0; i < text.size() && text[i] != ':'; ++i)
    text[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  auto parsed = parse_url(text);
  if (!parsed.ok()) return parsed.status();
  if (auto s = check_destination(*parsed, allow_private); !s.ok()) return s;
  return text;
}

// "contact.created, contact.updated, contact.deleted": the names a client may subscribe to.
std::string known_webhook_events() {
  std::string names;
  for (std::string_view name : webhook_event_names(kAllWebhookEvents))
    names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

Result<uint8_t> webhook_events(const nlohmann::json& body) {
  const Status bad{Code::kInvalid, "events must be a non-empty list of " + known_webhook_events()};
  auto events = body.find("events");
  if (events == body.end() || !events->is_array() || events->empty()) return bad;
  uint8_t bits = 0;
  for (const auto& e : *events) {
    if (!e.is_string()) return bad;
    auto event = webhook_event_from(e.get_ref<const std::string&>());
    // The client's text is not echoed: an error message is no place to reflect input.
    if (!event)
      return Status{Code::kInvalid,
                    "events contains an unknown event name; known: " + known_webhook_events()};
    bits |= *event;  // a repeated name means the same subscription
  }
  return bits;
}

Result<int64_t> existing_webhook(Request& r) {
  auto id = parse_id(r.target.segments[4]);
  if (!id || !r.views.webhook(r.ws, *id)) return Status{Code::kNotFound, "Webhook not found"};
  return *id;
}

}  // namespace

HttpResponse list_webhooks(Request& r) {
  std::vector<std::string> rows;
  // The secret is shown once, at creation.
  for (const auto& webhook : r.views.webhooks(r.ws))
    rows.push_back(encode(webhook, WithSecret::kNo));
  return json_response(200, page_of_rows("webhooks", rows, 0, nullptr));
}

HttpResponse create_webhook(Request& r) {
  auto body = json_body(r);
  if (!body.ok()) return from_status(body.status());
  auto trimmed = name_field(*body, kMaxWebhookNameLength);
  if (!trimmed.ok()) return from_status(trimmed.status());
  auto events = webhook_events(*body);
  if (!events.ok()) return from_status(events.status());
  auto url = webhook_url(*body, r.ctx.webhook_allow_private);
  if (!url.ok()) return from_status(url.status());
  Command c = command_for(r, CommandType::kWebhookCreate);
  c.webhook_name = std::move(*trimmed);
  c.webhook_url = *url;
  c.webhook_events = *events;
  c.webhook_secret = new_webhook_secret();
  auto id = r.ctx.submitter.submit(std::move(c));
  if (!id.ok()) return from_status(id.status());
  auto row = r.ctx.views.get()->webhook(r.ws, *id);  // the set live now, as above
  if (!row) return error_response(500, "Webhook was not stored");
  return ok_json(201, {{"webhook", ordered_json::parse(encode(*row, WithSecret::kYes))}});
}

HttpResponse delete_webhook(Request& r) {
  auto id = existing_webhook(r);
  if (!id.ok()) return from_status(id.status());
  Command c = command_for(r, CommandType::kWebhookDelete);
  c.webhook_id = *id;
  auto applied = r.ctx.submitter.submit(std::move(c));
  if (!applied.ok()) return from_status(applied.status());
  return ok_json(200, {{"ok", true}});
}

HttpResponse webhook_deliveries(Request& r) {
  auto id = existing_webhook(r);
  if (!id.ok()) return from_status(id.status());
  if (!r.ctx.deliveries) return error_response(404, "Deliveries are kept by the webhooks process");
  Paging paging = parse_paging(r.target.query);
  DeliveryPage page = r.ctx.deliveries->list(r.ws, *id, paging.page, paging.limit);
  std::vector<std::string> rows;
  for (const auto& d : page.deliveries) rows.push_back(d.to_api_json());
  return json_response(200, page_of_rows("deliveries", rows, page.total, &paging));
}

// PATCH, rotate-secret, test and redeliver (api/webhook_operations.h), on an existing webhook.
HttpResponse operate_webhook(Request& r, Route route) {
  auto id = existing_webhook(r);
  if (!id.ok()) return from_status(id.status());
  const WebhookCall call{r.ctx, r.views, r.ws, r.principal.actor(), *id};
  switch (route) {
    case Route::kWebhook:
      return update_webhook(call, r.http.body());
    case Route::kRotateSecret:
      return rotate_webhook_secret(call, r.http.body());
    case Route::kTestEvent:
      return send_test_event(call);
    default:
      return redeliver(call, r.target.segments[6]);
  }
}

}  // namespace contacts::api_internal
