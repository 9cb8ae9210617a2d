// Where a Dispatcher takes changes from. Each change is the JSON the fold queued in the outbox
// ({position, event, workspace_id, occurred_at, data, webhooks}; schemas/change_event.json).
//  - OutboxSource: the views' outbox, in the process that folds (`contacts serve`).
//  - KafkaChangeSource (kafka_change_source.h): the change topic, as a member of the group
//  `contacts-webhooks`
//    (`contacts webhooks`): each change is taken by one member; its offset is committed once
//    the deliveries are recorded, so a crash takes it again (the delivery store keeps one
//    record per subscription and change, so it is delivered once).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "views/live_views.h"

namespace contacts {

struct TakenChange {
  std::string key;   // what taken() needs to let it go
  std::string json;  // the outbox entry
};

class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // Up to `max` changes, oldest first, not yet let go of.
  virtual std::vector<TakenChange> take(size_t max) = 0;
  // The changes of the last take() are recorded: they are not taken again.
  virtual Status taken(const std::vector<TakenChange>& changes) = 0;
};

class OutboxSource final : public ChangeSource {
 public:
  // The outbox of the live set: a rebuild carries what is still waiting into the set it swaps
  // in, so an entry may be taken again after a swap (the delivery store records it once).
  explicit OutboxSource(const LiveViews& views) : views_(views) {}
  std::vector<TakenChange> take(size_t max) override;
  Status taken(const std::vector<TakenChange>& changes) override;

 private:
  const LiveViews& views_;
};

}  // namespace contacts
