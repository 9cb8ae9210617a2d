// Projector: the consume loop around the pure fold. Each step reads what is new in every
// partition and folds it into ViewBatches, each holding its records' views together with the
// next offsets, committed one after the other, so a crash at any instant leaves views that
// match a prefix of the log exactly. A fold thread folds its next batch while the one before
// commits, reading through it.
// One thread runs the loop (folding partition groups on helper threads); wait_applied and
// caught_up are safe from any thread.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bus/log.h"
#include "core/metrics.h"
#include "projector/outbox.h"
#include "projector/record.h"
#include "projector/sinks.h"
#include "views/view_store.h"

namespace contacts {

inline constexpr size_t kDefaultMaxBatchRecords = 8192;
inline constexpr size_t kDefaultFoldThreads = 2;
// Batches a fold thread folds in one step, each while the one before it commits.
inline constexpr size_t kRoundsPerStep = 16;
// Hot contact rows, email index entries and counters kept per fold thread.
inline constexpr size_t kReadCacheEntries = 200000;
// Keys a visit writes: its command id, the contact, its list position (old and new), its event.
inline constexpr size_t kKeysPerRecord = 5;
// The largest misplaced record a writer forwards (key and value), under the 1 MiB a producer
// sends by default: a larger one is a dead letter ("too large to forward"), where a forward
// that can never succeed would stop the fold.
inline constexpr size_t kMaxForwardBytes = 1000000;

struct ProjectorStats {
  std::atomic<uint64_t> applied_records{0};
  std::atomic<uint64_t> dead_letters{0};
  // Misplaced records forwarded to the partition they belong in (set_forward_misplaced).
  std::atomic<uint64_t> forwarded_records{0};
  std::atomic<uint64_t> batches{0};  // committed batches
  // Visits whose participant came in clear (not erasable from the log), and sealed visits whose
  // key was destroyed (records of erased people), above the quiet boundary; erasures made.
  std::atomic<uint64_t> clear_visits{0};
  std::atomic<uint64_t> erased_records{0};
  std::atomic<uint64_t> erasures{0};
  // Contacts deleted (erased or not) by committed batches: what the erasure compaction follows.
  std::atomic<uint64_t> deletes{0};
  std::atomic<uint64_t> steps{
      0};  // steps that applied something (a step commits up to kRoundsPerStep batches per group)
};

class Projector {
 public:
  Projector(Log& log, ViewStore& views, size_t max_batch_records = kDefaultMaxBatchRecords,
            size_t fold_threads = kDefaultFoldThreads);

  // Records at offsets below quiet[partition] queue no change in the outbox: a rebuild
  // replays positions whose changes the old views already handed to the dispatcher.
  void set_quiet_before(std::vector<int64_t> quiet) { quiet_before_ = std::move(quiet); }
  // Queue every change in the outbox, not only the subscribed ones: `contacts project`
  // publishes them all on the change topic.
  void set_change_scope(ChangeScope scope) { scope_ = scope; }
  // Forward misplaced records (PreparedRecord::misplaced: a producer with another partitioner
  // put them in another partition than their workspace's) by appending them again to the log,
  // which places them by their key; the copy is folded where it lands, the original nowhere.
  // A batch's forwarded records are durable before its offsets commit, so a crash forwards a
  // record again at worst, and the copy's command_id makes the second copy change nothing.
  // Only the writer forwards (serve, project, a rebuild of their views); a replica skips
  // misplaced records and folds the writer's copies. Records below a partition's quiet
  // boundary are not forwarded again: whoever applied them forwarded them. Off by default.
  void set_forward_misplaced(bool forward) { forward_misplaced_ = forward; }
  // Folds no record at or past end[partition]: a rebuild beside live views folds only what
  // they applied, so that it can stay quiet. Empty (the default): no bound. On the thread that
  // steps, between steps.
  void set_read_limit(std::vector<int64_t> end) { read_limit_ = std::move(end); }
  // The key store sealed visits are opened with (none: sealing off, and a sealed record is a dead
  // letter). With `destroys`, a batch that deletes a contact destroys its subject's keys before
  // it commits (above the quiet boundary): only the writer erases (serve, project, a rebuild of
  // their views); a replica folds what the writer erased. Set before start().
  void set_keys(KeyStore* keys, bool destroys) {
    unsealer_ = Unsealer(keys);
    destroy_keys_ = destroys ? keys : nullptr;
  }
  ~Projector();

  // Partition ownership (a member of the writer group folds only what it was assigned). All
  // partitions are owned unless this is called. Call before start() or from `between_steps`.
  void set_owned(const std::vector<int32_t>& partitions, bool owned);
  // Sets the quiet boundary of one partition (see set_quiet_before). Same rules as set_owned.
  void set_quiet_before(int32_t partition, int64_t offset);
  std::vector<int32_t> owned() const;
  // The quiet boundary of `partition` (set_quiet_before); 0 when none.
  int64_t quiet_before(int32_t partition) const {
    return static_cast<size_t>(partition) < quiet_before_.size()
               ? quiet_before_[static_cast<size_t>(partition)]
               : 0;
  }
  bool owns(Partition partition) const {
    return owned_[static_cast<size_t>(partition.value)].load();
  }
  // Runs on the loop thread before every step: where group membership is served.
  void between_steps(std::function<void()> hook) { between_steps_ = std::move(hook); }

  // The nice value of the threads start() runs (the loop, its fold and commit threads): above
  // 0 they yield the cores to the API's when both want them. Before start().
  void set_nice(int nice) { nice_ = nice; }
  void start();
  void stop();

  // Folds on the calling thread until the views hold everything now in the log (in the owned
  // partitions).
  // `progress(applied, total)` is called after each step.
  Status catch_up(const std::function<void(uint64_t, uint64_t)>& progress = nullptr);
  // One step over every group: returns the number of records consumed, or a commit failure.
  // (On the calling thread: not while start()ed.)
  Result<size_t> step();

  // True once `position` is applied; false when `timeout` passes first.
  bool wait_applied(LogPosition position, std::chrono::milliseconds timeout);
  // True when the views hold every record the log had when asked, in the owned partitions.
  bool caught_up();
  Offset applied(Partition partition) const;
  const ProjectorStats& stats() const { return stats_; }
  // Adds the projector's series to `metrics`: records applied, dead letters, batches, erasures,
  // and the lag of each owned partition behind the log's end.
  void add_metrics(Exposition& metrics);

  // Where dead letters go (default: LoggedDeadLetters) and what committed batches changed
  // (default: nowhere). Set before start(); the sinks must outlive the projector's steps.
  void set_dead_letter_sink(DeadLetterSink& sink) { dead_letters_ = &sink; }
  void set_change_sink(ChangeSink& sink) {
    change_sink_ = &sink;
    hand_on_queued_ = sink.takes_queued();
  }

 private:
  // What folding a batch gave (fold_batch), or what a group's step committed (fold_group:
  // its status and consumed only; each batch's offsets, changes and queued entries have been
  // published by then).
  struct GroupResult {
    Status status;
    size_t consumed = 0;
    std::vector<std::pair<int32_t, int64_t>> next;  // partition -> next offset
    std::vector<Change> changes;
    std::vector<QueuedChange> queued;  // for a change sink that takes them, not yet handed over
    // Forwards of misplaced records and publications of queued changes under way: the batch
    // commits once they all completed.
    struct Underway {
      std::unique_ptr<PendingAppend> append;
      int32_t forwarded_from = -1;  // a forward: the partition of its records, and the offset
      int64_t forwarded_to = 0;     // after the last of them
    };
    std::vector<Underway> pending;
    uint64_t forwarded = 0;
    uint64_t dead_letters = 0;
    uint64_t clear_visits = 0;
    uint64_t erased_records = 0;
    uint64_t deletes = 0;
    // Subjects and key ids destroyed before the batch commits.
    std::vector<std::pair<std::string, std::vector<std::string>>> erasures;
  };
  // A batch being committed, what folding it gave, and its commit.
  struct InFlight {
    ViewBatch* batch;
    GroupResult part;
    std::future<Status> committing;
  };
  // Folds what is new in partitions group, group + groups_, ... in batches and commits them.
  GroupResult fold_group(size_t group);
  // The group's owned partitions and the offset each goes on from.
  std::vector<std::pair<int32_t, int64_t>> group_slots(size_t group) const;
  // What the commit thread runs: waits for the batch's forwards and publications, then commits it.
  Status forward_and_commit(ViewBatch& batch, GroupResult& part);
  // Waits for the batch in flight (if any) to commit; publishes it and counts it in `result`,
  // or records its failure there. Whether it committed.
  bool settle(std::optional<InFlight>& in_flight, GroupResult& result);
  // Folds the next records of each (partition, next offset) of `slots` into `batch`, with
  // the next offsets, and moves the slots on. Throws ViewReadError when the views cannot be read.
  GroupResult fold_batch(size_t group, ViewBatch& batch,
                         std::vector<std::pair<int32_t, int64_t>>& slots);
  // Records a fold thread's batch holds at most: its share of max_batch_records.
  size_t batch_budget() const { return std::max<size_t>(64, max_batch_records_ / groups_); }
  // Applies `entries` of partition `p` to `batch`, their changes (and queued outbox entries)
  // into `result`; a record that cannot be applied is a dead letter.
  void fold_entries(size_t group, ViewBatch& batch, int32_t p, const std::vector<LogEntry>& entries,
                    GroupResult& result);
  // Queues in the outbox the changes of `result` from `first_change` on.
  void queue_changes(ViewWriter& writer, GroupResult& result, size_t first_change);
  // After `part`'s batch committed: hands its outbox entries on, stores its offsets as applied
  // (waking wait_applied), then hands its changes on. On its group's thread.
  void publish(GroupResult& part);
  void run();

  Log& log_;
  ViewStore& views_;
  const size_t max_batch_records_;
  const size_t groups_;
  std::vector<std::atomic<int64_t>> applied_;
  // Per partition, the offset below which every misplaced record was forwarded (acknowledged)
  // by this process: a batch folded again after its commit failed does not forward them again.
  std::vector<std::atomic<int64_t>> forwarded_to_;
  std::vector<ReadCache> caches_;  // one per group, used only by that group's thread
  // Per group, like caches_: the slots fold_entries decodes records into, kept from one call to
  // the next (a run of 1,024 decoded commands is most of a MiB to allocate and fault in again).
  std::vector<std::vector<PreparedRecord>> prepared_;
  // Per group, two batches used in turn (one folded while the other commits), kept with their
  // memory from one batch to the next.
  std::vector<std::array<std::unique_ptr<ViewBatch>, 2>> batches_;
  ProjectorStats stats_;
  std::vector<int64_t> quiet_before_;
  std::vector<int64_t> read_limit_;
  ChangeScope scope_ = ChangeScope::kSubscribed;
  Unsealer unsealer_{nullptr};
  KeyStore* destroy_keys_ = nullptr;
  bool forward_misplaced_ = false;
  std::vector<std::atomic<bool>> owned_;
  std::function<void()> between_steps_;
  LoggedDeadLetters logged_dead_letters_;
  DeadLetterSink* dead_letters_ = &logged_dead_letters_;
  ChangeSink* change_sink_ = nullptr;
  bool hand_on_queued_ = false;  // change_sink_->takes_queued(), asked once

  std::mutex applied_mutex_;
  std::condition_variable applied_changed_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  int nice_ = 0;
};

}  // namespace contacts
