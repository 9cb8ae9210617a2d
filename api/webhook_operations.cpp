#include "api/webhook_operations.h"

#include <nlohmann/json.hpp>

#include "api/router.h"
#include "core/text.h"
#include "webhooks/signing.h"

namespace contacts {

namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kNotKeptHere = "Deliveries are kept by the webhooks process";

HttpResponse from_status(const Status& s) {
  return error_response(static_cast<unsigned>(http_status(s.code())), s.message());
}

Command command_for(const WebhookCall& call, CommandType type) {
  Command c;
  c.type = type;
  c.command_id = new_command_id("api");
  c.workspace_id = call.ws;
  c.occurred_at = call.ctx.clock.now_seconds();
  c.actor = call.actor;
  c.webhook_id = call.webhook_id;
  return c;
}

// The body as a JSON object, or a 400. An empty body is an empty object when `may_be_empty`.
Result<json> body_object(std::string_view body, bool may_be_empty) {
  if (may_be_empty && trim(body).empty()) return json::object();
  if (!json_depth_within(body, kMaxJsonDepth))
    return Status{Code::kInvalid, "Body must be a JSON object"};
  auto parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object()) return Status{Code::kInvalid, "Body must be a JSON object"};
  return parsed;
}

// The row live now: a rebuild may have swapped in another set while the command applied.
Result<Webhook> webhook_now(const WebhookCall& call) {
  auto views = call.ctx.views.get();
  auto row = views ? views->webhook(call.ws, call.webhook_id) : std::nullopt;
  if (!row) return Status{Code::kNotFound, "Webhook not found"};  // deleted meanwhile
  return *row;
}

HttpResponse delivery_answer(const Delivery& delivery) {
  return json_response(202, "{\"delivery\":" + delivery.to_api_json() + "}");
}

// "msg_<position>" as GET .../deliveries lists it: the position, or nullopt.
std::optional<int64_t> position_of(std::string_view message_id) {
  if (message_id.rfind("msg_", 0) != 0) return std::nullopt;
  return parse_id(message_id.substr(4));
}

// What a redelivery sends: the body kept while the delivery was pending, else the same event
// rebuilt from what the views hold now. A contact's body is dropped once its delivery is done
// (an erased person's name and email stay nowhere), so it is rebuilt from the contact's current
// row; a contact that no longer exists is not sent again (409).
Result<std::string> redelivery_body(const WebhookCall& call, const Delivery& delivery) {
  if (!delivery.body.empty()) return delivery.body;
  if (delivery.event == "webhook.test") return test_event_body(delivery.timestamp, call.webhook_id);
  auto contact = delivery.event == "contact.deleted"
                     ? std::nullopt
                     : call.views.contact(call.ws, delivery.contact_id);
  if (!contact)
    return Status{Code::kInvalid,
                  "The delivery's body is no longer kept and its contact no longer exists"};
  return delivery_body(delivery.event, delivery.timestamp, contact->id, contact->name,
                       contact->email);
}

}  // namespace

HttpResponse update_webhook(const WebhookCall& call, std::string_view body_text) {
  auto body = body_object(body_text, false);
  if (!body.ok()) return from_status(body.status());
  auto active = body->find("is_active");
  if (active == body->end() || !active->is_boolean())
    return error_response(400, "is_active is required and must be true or false");
  if (body->size() != 1) return error_response(400, "Only is_active can be changed");
  Command c = command_for(call, CommandType::kWebhookUpdate);
  c.webhook_active = active->get<bool>();
  auto applied = call.ctx.submitter.submit(std::move(c));
  if (!applied.ok()) return from_status(applied.status());
  auto row = webhook_now(call);
  if (!row.ok()) return from_status(row.status());
  ordered_json answer = {{"webhook", ordered_json::parse(encode(*row, WithSecret::kNo))}};
  return json_response(200, answer.dump());
}

HttpResponse rotate_webhook_secret(const WebhookCall& call, std::string_view body_text) {
  auto body = body_object(body_text, true);
  if (!body.ok()) return from_status(body.status());
  int64_t overlap = kDefaultSecretOverlapSeconds;
  const std::string bad_overlap =
      "overlap_seconds must be an integer from 0 to " + std::to_string(kMaxSecretOverlapSeconds);
  for (const auto& [key, value] : body->items()) {
    if (key != "overlap_seconds") return error_response(400, "Only overlap_seconds may be given");
    // A non-negative integer parses as unsigned; 1.0 and true are not integers.
    if (!value.is_number_unsigned() ||
        value.get<uint64_t>() > static_cast<uint64_t>(kMaxSecretOverlapSeconds))
      return error_response(400, bad_overlap);
    overlap = value.get<int64_t>();
  }
  Command c = command_for(call, CommandType::kWebhookRotateSecret);
  c.webhook_secret = new_webhook_secret();
  c.webhook_overlap_seconds = overlap;
  auto applied = call.ctx.submitter.submit(std::move(c));
  if (!applied.ok()) return from_status(applied.status());
  auto row = webhook_now(call);
  if (!row.ok()) return from_status(row.status());
  ordered_json answer = {
      {"webhook", ordered_json::parse(encode(*row, WithSecret::kYes))},
      {"previous_secret_expires_at", iso8601_millis(row->previous_secret_expires_at)}};
  return json_response(200, answer.dump());
}

// The delivery's message id is the position of the webhook_test command that audits it: unique
// among the deliveries of the subscription, and in their order.
HttpResponse send_test_event(const WebhookCall& call) {
  if (!call.ctx.deliveries) return error_response(404, kNotKeptHere);
  Command c = command_for(call, CommandType::kWebhookTest);
  const int64_t occurred_at = c.occurred_at;
  auto position = call.ctx.submitter.submit(std::move(c));
  if (!position.ok()) return from_status(position.status());
  Delivery d;
  d.ref = DeliveryRef{call.ws, call.webhook_id, *position};
  d.event = "webhook.test";
  d.created_at = occurred_at;
  d.timestamp = iso8601_millis(occurred_at);
  d.body = test_event_body(d.timestamp, call.webhook_id);
  d.next_attempt_ms = call.ctx.clock.now_millis();
  if (auto added = call.ctx.deliveries->add({d}); !added.ok()) return from_status(added.status());
  return delivery_answer(d);  // as recorded: the dispatcher may have attempted it already
}

HttpResponse redeliver(const WebhookCall& call, std::string_view message_id) {
  if (!call.ctx.deliveries) return error_response(404, kNotKeptHere);
  auto position = position_of(message_id);
  auto delivery =
      position ? call.ctx.deliveries->get({call.ws, call.webhook_id, *position}) : std::nullopt;
  if (!delivery) return error_response(404, "Delivery not found");
  auto body = redelivery_body(call, *delivery);
  if (!body.ok()) return error_response(409, body.status().message());
  Command c = command_for(call, CommandType::kWebhookRedeliver);
  c.webhook_message_id = delivery->message_id();
  auto applied = call.ctx.submitter.submit(std::move(c));
  if (!applied.ok()) return from_status(applied.status());
  auto again =
      call.ctx.deliveries->redeliver(delivery->ref, std::move(*body), call.ctx.clock.now_millis());
  if (!again.ok()) return from_status(again.status());
  return delivery_answer(*again);
}

}  // namespace contacts
