#include "projector/outbox.h"

#include <vector>

#include "core/json_writer.h"

namespace contacts {

WebhookEvent webhook_event_of(Change::Kind kind) {
  switch (kind) {
    case Change::Kind::kCreated:
      return kContactCreated;
    case Change::Kind::kUpdated:
      return kContactUpdated;
    case Change::Kind::kDeleted:
      break;
  }
  return kContactDeleted;
}

bool record_change(ViewWriter& views, const Change& change, ChangeScope scope,
                   std::string* queued) {
  const auto subscriptions = views.subscriptions(change.workspace_id);
  if (subscriptions.empty() && scope == ChangeScope::kSubscribed) return false;
  WebhookEvent event = webhook_event_of(change.kind);
  std::vector<int64_t> targets;
  for (const auto& s : subscriptions)
    if (s.events & event) targets.push_back(s.webhook_id);
  if (targets.empty() && scope == ChangeScope::kSubscribed) return false;
  // Written directly (this runs for every change on a writer): the keys in this order.
  JsonWriter entry;
  entry.begin_object().key("position").value(change.position_id);
  entry.key("event").value(to_string(event));
  entry.key("workspace_id").value(change.workspace_id.value);
  entry.key("occurred_at").value(change.occurred_at);
  entry.key("data").begin_object().key("id").value(change.contact_id);
  entry.key("name").value(change.name).key("email").value(change.email).end_object();
  entry.key("webhooks").begin_array();
  for (int64_t id : targets) entry.value(id);
  entry.end_array().end_object();
  if (queued)
    *queued = entry.take();
  else
    views.put_outbox(change.position_id, entry.take());
  return true;
}

}  // namespace contacts
