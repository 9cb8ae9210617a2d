// LiveFold: the view set a node serves, the projector folding the log into it, and the rebuild
// of a fresh set beside them while they serve (DESIGN.md section 5).
//
// A rebuild folds the whole log into the data directory's next view set (ViewSets) on a thread
// of its own. While the live set serves, the fresh one folds only what the live projector has
// applied, quietly (no change queued, no dead letter reported, no record forwarded: the live
// projector did all that), and follows it. Once it holds as much, the swap stops the live
// projector, folds the last records it applied, carries the live outbox over, makes the fresh
// set live on disk (one rename), puts it in place for readers and starts its projector with
// the role's settings, quiet below exactly where the old one stopped. Readers keep the set they
// took; the old set is closed and removed once the last of them lets go.
//
// Views this code cannot read (views/fold_version.h) are not served: the node rebuilds before
// it serves, like `contacts rebuild` with the server stopped (changes queued past what the old
// views applied), and views() is empty until then. Views of another version it can read are
// served while a rebuild replaces them.
//
// A crash at any instant leaves the live set whole; a fresh set left by a crash or a stop is
// resumed from what it holds, one left by a failure or a cancel is removed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/log.h"
#include "projector/projector.h"
#include "projector/rebuild_progress.h"
#include "views/live_views.h"
#include "views/view_sets.h"

namespace contacts {

struct LiveFoldOptions {
  ViewStoreOptions views;
  size_t fold_threads = kDefaultFoldThreads;
  // The nice value of the live projector's threads (Projector::set_nice; --fold-nice).
  int fold_nice = 0;
  // The role's settings of a projector that becomes live (sinks, scope, forwarding, quiet):
  // applied to the first one and to each one a rebuild swaps in.
  std::function<Status(Projector&, ViewStore&)> configure;
  // The key store every projector opens sealed records with (none: sealing off), and whether
  // they destroy the keys of contacts they delete (the writer: Projector::set_keys).
  KeyStore* keys = nullptr;
  bool erases = false;
  // Whether views this code cannot read may be rebuilt before serving. A Kafka writer's group
  // assigns partitions to its live projector, which it has none of then: it refuses to start,
  // and is rebuilt with the node stopped.
  bool rebuild_before_serving = true;
  // How long a rebuild waits for a log it cannot read (a broker restarting) before it fails.
  std::chrono::milliseconds log_outage_grace{60000};
};

class LiveFold {
 public:
  // Opens the live views of `data_dir` (ViewSets), and their projector unless they must be
  // rebuilt before serving.
  static Result<std::unique_ptr<LiveFold>> open(Log& log, const std::string& data_dir,
                                                LiveFoldOptions options);
  ~LiveFold();

  const LiveViews& views() const { return views_; }
  // The live projector; null while views are rebuilt before serving. A swap replaces it: ask
  // again rather than keep it.
  std::shared_ptr<Projector> projector() const;

  // The role's settings (LiveFoldOptions::configure), when they need views() to be made.
  void set_configure(std::function<Status(Projector&, ViewStore&)> configure) {
    options_.configure = std::move(configure);
  }
  // Configures and starts the live projector, then the rebuild that is due, if any (views of
  // another fold version; a rebuild a crash or stop interrupted).
  Status start();
  // Stops a rebuild (what it folded is resumed at the next start) and the projector.
  void stop();

  // Read-your-writes across a swap: true once the live projector has applied `position`.
  bool wait_applied(LogPosition position, std::chrono::milliseconds timeout);
  bool owns(Partition partition) const;
  // Whether views are served and hold every record the log had when asked.
  bool caught_up();
  Offset applied(Partition partition) const;

  // Starts a rebuild; kUnavailable when one runs (or the node stops).
  Status request_rebuild(std::string reason);
  // Cancels the running rebuild (its fresh views are removed); false when none runs, or when
  // its swap is past the point of no return.
  bool cancel_rebuild();
  RebuildProgress progress() const;
  // The fold version of the served views (0 while there are none).
  int served_fold_version() const;

  // Adds the projector's series (the lag too), the rebuild's and the served views' to `metrics`.
  void add_metrics(Exposition& metrics);
  // {"fold_version": ..., "rebuild": {...}} for /readyz.
  std::string state_json() const;

 private:
  LiveFold(Log& log, ViewSets sets, LiveFoldOptions options);

  void run_rebuild();
  // Folds the fresh set up to what the live projector applied, following it, until it holds
  // as much; then swaps. False when cancelled, stopped or failed (progress says which).
  Status fold_beside(const std::shared_ptr<Projector>& projector);
  // Stops the live projector, folds the rest and swaps; `again` when the rest did not come in
  // time (the live projector resumed: fold beside it again).
  Status swap_in(const std::shared_ptr<ViewStore>& fresh,
                 const std::shared_ptr<Projector>& projector, bool& again);
  Status fold_before_serving(ViewStore& fresh, const std::shared_ptr<Projector>& projector);
  // Puts the fresh set and its projector in place; the old ones are retired.
  Status make_live(const std::shared_ptr<ViewStore>& fresh,
                   const std::shared_ptr<Projector>& projector);
  // Reports how the rebuild ended (and removes fresh views that will not serve).
  void finish(const Status& result, bool opened_next);
  // Closes the set a swap replaced, and removes it, once its last reader let go.
  void release_retired();
  void update_progress(const Projector& projector);
  bool interrupted() const { return cancel_ || stopping_; }

  Log& log_;
  ViewSets sets_;
  LiveFoldOptions options_;
  LiveViews views_;
  // Before serving: what the unreadable views had applied (the new ones stay quiet below it)
  // and the changes their outbox still held.
  std::vector<int64_t> carried_quiet_;
  std::vector<OutboxEntry> carried_outbox_;

  mutable std::mutex mutex_;  // guards projector_, progress_, pending_reason_, rebuilding_
  std::shared_ptr<Projector> projector_;
  std::shared_ptr<Log> projector_reader_;  // the live projector's own reads, if it has them
  std::shared_ptr<Log> fresh_reader_;      // a rebuild's, until its projector is live
  RebuildProgress progress_;
  std::string pending_reason_;  // a rebuild start() begins
  bool running_ = false;
  std::chrono::steady_clock::time_point started_;
  uint64_t folded_at_start_ = 0;  // what a resumed rebuild had folded before this run
  // On the rebuild thread: when the log's ends were last asked, and what they were.
  std::chrono::steady_clock::time_point target_asked_;
  std::vector<int64_t> ends_;
  // What a swap replaced, released by the rebuild thread (release_retired).
  std::shared_ptr<ViewStore> retired_views_;
  std::shared_ptr<Projector> retired_projector_;
  std::shared_ptr<Log> retired_reader_;
  std::string retired_path_;
  std::atomic<bool> cancel_{false}, stopping_{false};
  bool committed_ = false;  // under mutex_: the swap is past cancelling
  bool swapped_ = false;    // under mutex_: the rebuild's set is live
  std::thread rebuilding_;
};

}  // namespace contacts
