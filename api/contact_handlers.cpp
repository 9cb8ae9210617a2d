// The reads of contacts (list, contact, timeline, export) and the delete of a contact.
#include "api/internal/request.h"
#include "api/internal/routes.h"
#include "core/json_writer.h"
#include "core/text.h"
#include "http/etag.h"

namespace contacts::api_internal {

namespace {

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

}  // namespace

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

}  // namespace contacts::api_internal
