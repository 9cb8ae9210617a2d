#include "api/handlers.h"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "api/router.h"
#include "api/webhook_operations.h"
#include "core/json_writer.h"
#include "core/text.h"
#include "http/etag.h"
#include "http/openapi.h"
#include "http/probe.h"
#include "webhooks/signing.h"
#include "webhooks/url.h"

namespace contacts {

namespace {

using ordered_json = nlohmann::ordered_json;

HttpResponse ok_json(unsigned status, const ordered_json& body) {
  return json_response(status, body.dump());
}
HttpResponse from_status(const Status& s) {
  return error_response(static_cast<unsigned>(http_status(s.code())), s.message());
}

// Why credentials were refused: a 401 carries the Bearer challenge.
HttpResponse refused(const Status& s, const http::request_header<>& header) {
  if (http_status(s.code()) != 401) return from_status(s);
  return unauthorized(s.message(), "contacts", !header[http::field::authorization].empty());
}

void write_contact(JsonWriter& w, const Contact& c, bool with_activity) {
  w.begin_object();
  w.key("id").value(c.id).key("workspace_id").value(c.workspace_id).key("name").value(c.name);
  w.key("email").value(c.email);
  if (with_activity) {
    w.key("event_count").value(c.event_count).key("last_seen_at");
    if (c.event_count > 0)
      w.value(c.last_seen_at);
    else
      w.null();
  }
  w.key("created_at").value(c.created_at).key("updated_at").value(c.updated_at);
  w.end_object();
}

void write_event(JsonWriter& w, const ContactEvent& e) {
  w.begin_object();
  w.key("id")
      .value(e.id)
      .key("contact_id")
      .value(e.contact_id)
      .key("workspace_id")
      .value(e.workspace_id);
  w.key("event_type").value(to_string(e.event_type));
  w.key("room_id").value(e.room_id).key("room_name").value(e.room_name);
  w.key("room_display_name").value(e.room_display_name);
  w.key("booking_page_id")
      .value(e.booking_page_id)
      .key("booking_page_title")
      .value(e.booking_page_title);
  w.key("booking_page_slug").value(e.booking_page_slug);
  w.key("metadata").value(e.metadata).key("created_at").value(e.created_at);
  w.end_object();
}

// {"<field>": [rows...], "total", "page", "limit"}
constexpr size_t kRowBytes = 384;
template <typename Row, typename Write>
std::string paged(std::string_view field, const std::vector<Row>& rows, Write write, int64_t total,
                  const Paging& paging) {
  JsonWriter w(64 + rows.size() * kRowBytes);  // a row of a contact or an event is smaller
  w.begin_object().key(field).begin_array();
  for (const auto& row : rows) write(w, row);
  w.end_array();
  w.key("total").value(total).key("page").value(paging.page).key("limit").value(paging.limit);
  return w.end_object().take();
}

// Stored JSON rows joined into an array, with the paging fields.
std::string page_of_rows(std::string_view field, const std::vector<std::string>& rows,
                         int64_t total, const Paging* paging) {
  std::string out = "{\"" + std::string(field) + "\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out.push_back(',');
    out.append(rows[i]);
  }
  out.append("]");
  if (paging) {
    out.append(",\"total\":" + std::to_string(total) + ",\"page\":" + std::to_string(paging->page) +
               ",\"limit\":" + std::to_string(paging->limit));
  }
  out.append("}");
  return out;
}

struct Request {
  const ApiContext& ctx;
  const ViewStore& views;  // the set this request reads, whole
  const HttpRequest& http;
  Target target;
  Principal principal;
  WorkspaceId ws;
  Role role = Role::kNone;
};

// A read of contacts answered with the response kept for it (views/internal/rendered_reads.h),
// or rendered by `render` and kept if it is a 200 with the entity tag of its bytes. `request`
// names the read within `scope`: the same name, the same bytes, until a commit changes the
// scope. What is kept does not depend on the caller: only reads whose answer does not are.
template <typename Render>
HttpResponse kept_or_rendered(Request& r, ReadScope scope, std::string request, Render render) {
  RenderedReads& kept = r.views.rendered_reads();
  uint64_t generation = 0;
  if (auto found = kept.find(scope, request, generation)) {
    HttpResponse response = json_response(200, found->body);
    response.set(http::field::etag, found->tag);
    return response;
  }
  HttpResponse response = render();
  if (response.result() == http::status::ok) {
    std::string tag = entity_tag(response.body());
    response.set(http::field::etag, tag);
    kept.keep(scope, std::move(request), {response.body(), std::move(tag)}, generation);
  }
  return response;
}

std::string paging_name(char kind, const Paging& paging) {
  return kind + std::to_string(paging.page) + "," + std::to_string(paging.limit);
}

HttpResponse list_contacts(Request& r) {
  Paging paging = parse_paging(r.target.query);
  std::string folded;
  if (auto it = r.target.query.find("search"); it != r.target.query.end() && !it->second.empty()) {
    if (!valid_utf8(it->second)) return error_response(400, "search must be valid UTF-8");
    folded = casefold(it->second);
  }
  std::string request = paging_name('l', paging) + "," + folded;
  return kept_or_rendered(r, {r.ws.value, 0}, std::move(request), [&] {
    ContactPage page = r.views.list(r.ws, paging.page, paging.limit, folded);
    auto write = [](JsonWriter& w, const Contact& c) { write_contact(w, c, true); };
    return json_response(200, paged("contacts", page.contacts, write, page.total, paging));
  });
}

Result<Contact> find_contact(Request& r, const std::string& segment) {
  auto id = parse_id(segment);
  if (!id) return Status{Code::kNotFound, "Contact not found"};
  auto contact = r.views.contact(r.ws, *id);
  if (!contact) return Status{Code::kNotFound, "Contact not found"};
  return *contact;
}

// The scope of the contact a request names (a contact id that cannot be one: the list's, and
// the read finds no contact).
ReadScope contact_scope(Request& r) {
  return {r.ws.value, parse_id(r.target.segments[4]).value_or(0)};
}

HttpResponse get_contact(Request& r) {
  return kept_or_rendered(r, contact_scope(r), "c", [&] {
    auto contact = find_contact(r, r.target.segments[4]);
    if (!contact.ok()) return from_status(contact.status());
    JsonWriter w;
    w.begin_object().key("contact");
    write_contact(w, *contact, false);
    return json_response(200, w.end_object().take());
  });
}

HttpResponse contact_events(Request& r) {
  Paging paging = parse_paging(r.target.query);
  return kept_or_rendered(r, contact_scope(r), paging_name('t', paging), [&] {
    auto contact = find_contact(r, r.target.segments[4]);
    if (!contact.ok()) return from_status(contact.status());
    EventPage page = r.views.timeline(*contact, paging.page, paging.limit);
    return json_response(200, paged("events", page.events, write_event, page.total, paging));
  });
}

// The right of access (DESIGN.md section 10): everything held about one contact, as one
// document: the contact, every event (newest first) and the webhook deliveries about it.
HttpResponse export_contact(Request& r) {
  if (!can_manage(r.role)) return error_response(403, "Only owners and admins can export contacts");
  auto contact = find_contact(r, r.target.segments[4]);
  if (!contact.ok()) return from_status(contact.status());
  JsonWriter contact_json;
  write_contact(contact_json, *contact, true);
  JsonWriter events;
  events.begin_array();
  for (int64_t page = 1;; ++page) {
    EventPage part = r.views.timeline(*contact, page, kMaxPageLimit);
    for (const auto& e : part.events) write_event(events, e);
    if (part.events.size() < static_cast<size_t>(kMaxPageLimit) ||
        page * kMaxPageLimit >= part.total)
      break;
  }
  events.end_array();
  std::string out =
      "{\"contact\":" + contact_json.take() + ",\"events\":" + events.take() + ",\"deliveries\":";
  if (r.ctx.deliveries) {
    out += "[";
    bool first = true;
    for (const auto& d : r.ctx.deliveries->about(r.ws, contact->id)) {
      if (!first) out += ",";
      first = false;
      // The row of GET .../deliveries, with the subscription it went to.
      std::string row = d.to_api_json();
      out += "{\"webhook_id\":" + std::to_string(d.ref.webhook_id) + "," + row.substr(1);
    }
    out += "]";
  } else {
    out += "null";  // kept by the webhooks process (split deployment)
  }
  out += "}";
  return json_response(200, out);
}

Command command_for(Request& r, CommandType type) {
  Command c;
  c.type = type;
  c.command_id = new_command_id("api");
  c.workspace_id = r.ws;
  c.occurred_at = r.ctx.clock.now_seconds();
  c.actor = r.principal.actor();
  return c;
}

HttpResponse delete_contact(Request& r) {
  if (!can_manage(r.role)) return error_response(403, "Only owners and admins can delete contacts");
  auto contact = find_contact(r, r.target.segments[4]);
  if (!contact.ok()) return from_status(contact.status());
  Command c = command_for(r, CommandType::kContactDelete);
  c.contact_id = contact->id;
  auto applied = r.ctx.submitter.submit(std::move(c));
  if (!applied.ok()) return from_status(applied.status());
  return ok_json(200, {{"ok", true}});
}

HttpResponse list_api_keys(Request& r) {
  std::vector<std::string> rows;
  for (const auto& key : r.views.api_keys(r.ws)) rows.push_back(encode(key));
  return json_response(200, page_of_rows("api_keys", rows, 0, nullptr));
}

// A body's "name": trimmed, 1 to `max` characters of UTF-8 that show something (the decoder's
// rule for names, so the command folds); kInvalid with the answer's message.
Result<std::string> name_field(const nlohmann::json& body, size_t max) {
  auto name = body.find("name");
  if (name == body.end() || !name->is_string() || trim(name->get_ref<const std::string&>()).empty())
    return Status{Code::kInvalid, "name is required"};
  std::string trimmed(trim(name->get_ref<const std::string&>()));
  if (!valid_utf8(trimmed) || utf8_length(trimmed) > max)
    return Status{Code::kInvalid, "name must be at most " + std::to_string(max) + " characters"};
  if (!printable_name(trimmed))
    return Status{Code::kInvalid, "name must show a character and hold no NUL"};
  return trimmed;
}

HttpResponse create_api_key(Request& r) {
  if (!json_depth_within(r.http.body(), kMaxJsonDepth))
    return error_response(400, "Body must be a JSON object");
  auto body = nlohmann::json::parse(r.http.body(), nullptr, false);
  if (!body.is_object()) return error_response(400, "Body must be a JSON object");
  auto trimmed = name_field(body, kMaxKeyNameLength);
  if (!trimmed.ok()) return from_status(trimmed.status());
  Role role = Role::kMember;
  if (auto it = body.find("role"); it != body.end() && !it->is_null()) {
    auto parsed = it->is_string() ? role_from(it->get_ref<const std::string&>()) : std::nullopt;
    if (!parsed) return error_response(400, "role must be one of owner, admin, member");
    role = *parsed;
  }
  if (role > r.role)
    return error_response(403, "Cannot create a key with a higher role than your own");
  NewApiKey key = generate_api_key();
  Command c = command_for(r, CommandType::kApiKeyCreate);
  c.key_name = std::move(*trimmed);
  c.role = role;
  c.key_hash = key.hash;
  c.key_prefix = key.prefix;
  auto id = r.ctx.submitter.submit(std::move(c));
  if (!id.ok()) return from_status(id.status());
  // The set live now: a rebuild may have swapped in another while the write applied.
  auto row = r.ctx.views.get()->api_key(r.ws, *id);
  if (row) {
    auto j = ordered_json::parse(encode(*row));
    j["full_key"] = key.full_key;
    return ok_json(201, {{"api_key", std::move(j)}});
  }
  return error_response(500, "API key was not stored");
}

// Only a key of at most the caller's role: an admin does not revoke an owner key. The fold
// judges the revoke again at its position in the log (projector/fold.cpp).
HttpResponse revoke_api_key(Request& r) {
  auto id = parse_id(r.target.segments[4]);
  auto key = id ? r.views.api_key(r.ws, *id) : std::nullopt;
  if (!key) return error_response(404, "API key not found");
  if (key->role > r.role) return error_response(403, "Only owners can revoke owner keys");
  Command c = command_for(r, CommandType::kApiKeyRevoke);
  c.key_id = *id;
  auto applied = r.ctx.submitter.submit(std::move(c));
  if (!applied.ok()) return from_status(applied.status());
  // Still active: the caller's role fell between the check above and the revoke's turn in the
  // log, and the fold refused it. The set live now, as in create_api_key.
  auto after = r.ctx.views.get()->api_key(r.ws, *id);
  if (after && after->is_active)
    return error_response(403, "Your role no longer allows revoking this key");
  return ok_json(200, {{"ok", true}});
}

// The JSON body of a POST, or why not.
Result<nlohmann::json> json_body(Request& r) {
  if (!json_depth_within(r.http.body(), kMaxJsonDepth))
    return Status{Code::kInvalid, "Body must be a JSON object"};
  auto body = nlohmann::json::parse(r.http.body(), nullptr, false);
  if (!body.is_object()) return Status{Code::kInvalid, "Body must be a JSON object"};
  return body;
}

HttpResponse list_webhooks(Request& r) {
  std::vector<std::string> rows;
  // The secret is shown once, at creation.
  for (const auto& webhook : r.views.webhooks(r.ws))
    rows.push_back(encode(webhook, WithSecret::kNo));
  return json_response(200, page_of_rows("webhooks", rows, 0, nullptr));
}

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

Result<int64_t> existing_webhook(Request& r) {
  auto id = parse_id(r.target.segments[4]);
  if (!id || !r.views.webhook(r.ws, *id)) return Status{Code::kNotFound, "Webhook not found"};
  return *id;
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

HttpResponse audit_log(Request& r) {
  Paging paging = parse_paging(r.target.query);
  AuditPage page = r.views.audit(r.ws, paging.page, paging.limit);
  std::vector<std::string> rows;
  for (const auto& entry : page.entries) rows.push_back(encode(entry));
  return json_response(200, page_of_rows("entries", rows, page.total, &paging));
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

// What a route answers (the Allow header of its 405); HEAD is GET without the body.
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

// A read of contacts answers by the caller's rights: no shared cache keeps it, and a browser's
// asks again every time, with the tag, so a read after a write sees it (docs/decisions.md).
HttpResponse revalidated(const HttpRequest& request, HttpResponse response) {
  if (response.result() == http::status::ok && request.method() == http::verb::get) {
    response.set(http::field::cache_control, "private, no-cache");
    response.set(http::field::vary, "Authorization");
  }
  return conditional(request, std::move(response));
}

// The route's name in the HTTP metrics (kApiRoutes), by method.
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

}  // namespace

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
