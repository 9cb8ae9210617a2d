// ChangePublisher: the writer's half of the change stream (DESIGN.md sections 1 and 9). As the
// projector's ChangeSink (projector/sinks.h) it takes each batch's change events on the batch's
// commit thread and publishes them on `contacts.changes` (key: the workspace id; value: the
// change event, whose `position` is its stable id) before the batch commits: the batch commits
// only once the brokers acknowledged them, so its changes need no outbox. Its own thread commits
// to the writer group, now and then, the offsets the projector applied. So a committed offset
// means "every change before it is on the change topic": the next owner of a partition folds up
// to it quietly, and a crash between publishing and committing the batch publishes the same
// changes again, with the same ids (at least once). On start it publishes what the outbox still
// holds (a rebuild's changes past its quiet boundary, or an earlier release's).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "bus/change_topic.h"
#include "projector/projector.h"
#include "views/live_views.h"

namespace contacts {

class ChangePublisher final : public ChangeSink {
 public:
  using Offsets = std::vector<std::pair<int32_t, int64_t>>;
  using Commit = std::function<Status(const Offsets&)>;

  // `views`: the live set (a rebuild may swap it); `applied`: the next offset to apply of each
  // partition the projector owns (a rebuild may swap the projector too).
  ChangePublisher(const LiveViews& views, ChangeTopic& topic, std::function<Offsets()> applied,
                  Commit commit);
  ~ChangePublisher();

  // Takes what is left in the outbox, then publishes on its own thread. Before projector.start().
  void start();
  // Publishes what is left, then returns.
  void stop();
  // Change events the fold queued, published at once; their batch commits once they are
  // acknowledged (the projector's change sink).
  std::unique_ptr<PendingAppend> start_publish(std::vector<QueuedChange>&& entries) override;
  bool takes_queued() const override { return true; }
  // Publishes what was left in the outbox, then commits the applied offsets of the partitions
  // the projector owns. Safe from any thread (one flush at a time).
  Status flush();

  // `partition` was assigned, with `committed` the group's committed offset: offsets below it
  // are not committed again (a writer folding quietly up to it would move it backwards).
  void assigned(int32_t partition, int64_t committed);

  uint64_t published() const { return published_.load(); }
  // Adds contacts_changes_published_total to `metrics`.
  void add_to(Exposition& metrics) const {
    metrics.counter("contacts_changes_published_total",
                    "Change events published on the change topic.",
                    static_cast<double>(published()));
  }

 private:
  void queue(std::vector<QueuedChange>&& entries);
  void run();

  const LiveViews& views_;
  ChangeTopic& topic_;
  std::function<Offsets()> applied_;
  Commit commit_;
  std::mutex flush_mutex_;
  std::map<int32_t, int64_t> committed_;  // under flush_mutex_: last committed, or the group's
  std::atomic<uint64_t> published_{0};
  std::mutex queue_mutex_;
  std::condition_variable wake_;
  std::deque<QueuedChange> queue_;  // under queue_mutex_: left in the outbox at start
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace contacts
