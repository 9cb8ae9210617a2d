// KafkaChangeSource: the ChangeSource of `contacts webhooks`, the change topic read as a member
// of the group `contacts-webhooks`: each change is taken by one member; its offset is committed
// once the deliveries are recorded, so a crash takes it again (the delivery store keeps one
// record per subscription and change, so it is delivered once).
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include "bus/kafka_group.h"
#include "webhooks/change_source.h"

namespace contacts {

class KafkaChangeSource final : public ChangeSource {
 public:
  // `ready(position)`: whether the local views have applied the command at that position, so
  // that the subscriptions a change names are known here (created before it).
  static Result<std::unique_ptr<KafkaChangeSource>> open(KafkaGroupOptions options,
                                                         std::function<bool(int64_t)> ready);
  // Leaves the group first: its revoke handler uses the buffer.
  ~KafkaChangeSource() override { group_.reset(); }
  std::vector<TakenChange> take(size_t max) override;
  Status taken(const std::vector<TakenChange>& changes) override;

 private:
  struct Buffered {
    GroupMessage message;
    int64_t position = 0;  // 0: unreadable, taken as it is (and dropped by the dispatcher)
  };
  KafkaChangeSource() = default;
  std::unique_ptr<KafkaGroup> group_;
  std::function<bool(int64_t)> ready_;
  std::deque<Buffered> buffer_;  // fetched, not yet taken
  bool paused_ = false;          // fetching stopped while the buffer is full
};

}  // namespace contacts
