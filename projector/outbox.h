// The outbox: the changes the fold made, queued in the same batch as the views for whoever
// delivers them (the in-process webhook dispatcher, or the change publisher of a writer on
// Kafka), so they are exactly as durable as the views. Key: the change's position id; value:
// the change event (schemas/change_event.json).
#pragma once

#include <string>

#include "projector/fold.h"
#include "views/view_writer.h"

namespace contacts {

// Which changes go to the outbox.
enum class ChangeScope {
  kSubscribed,  // those a webhook subscription wants (the in-process dispatcher's outbox)
  kAll,         // every change, for the change topic (`contacts project`), with its subscribers
};

WebhookEvent webhook_event_of(Change::Kind kind);

// Queues `change` with the subscriptions of its workspace that want its event, as of the
// writer's state. Returns whether it was queued: with kSubscribed only when a subscription
// wants it. `queued`, when given, receives the entry's value instead of the outbox (whoever
// asked for it hands it on before the batch commits).
bool record_change(ViewWriter& views, const Change& change,
                   ChangeScope scope = ChangeScope::kSubscribed, std::string* queued = nullptr);

}  // namespace contacts
