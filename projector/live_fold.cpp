#include "projector/live_fold.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "core/log.h"
#include "views/batch_writer.h"
#include "views/fold_version.h"

namespace contacts {

namespace fs = std::filesystem;

namespace {

// The swap starts once the fresh views are this close behind the live ones: the live projector
// then pauses while the fresh one folds the rest (a few tens of milliseconds).
constexpr uint64_t kSwapLag = 20000;
// The nice value of a rebuild's threads (the node's are 0).
constexpr int kRebuildNice = 19;
// How often the log's ends are asked (the progress' target, and how near the end the folds are).
constexpr std::chrono::milliseconds kTargetInterval{500};
// How long a swap waits for readers of the old views to let go before it leaves the old set
// for the next start to remove.
constexpr std::chrono::seconds kReadersGrace{60};
// The longest the swap folds the last records while writes wait; past it, the rebuild goes back
// to folding beside the live views.
constexpr std::chrono::seconds kSwapCatchUp{10};

std::vector<int64_t> applied_of(const Projector& projector, int32_t partitions) {
  std::vector<int64_t> out;
  for (int32_t p = 0; p < partitions; ++p) out.push_back(projector.applied(Partition(p)).value);
  return out;
}

// How far `projector` is behind `ends` in the partitions it owns.
uint64_t behind(const Projector& projector, const std::vector<int64_t>& ends) {
  uint64_t lag = 0;
  for (size_t p = 0; p < ends.size(); ++p)
    if (projector.owns(Partition(static_cast<int32_t>(p)))) {
      const int64_t at = projector.applied(Partition(static_cast<int32_t>(p))).value;
      if (ends[p] > at) lag += static_cast<uint64_t>(ends[p] - at);
    }
  return lag;
}

// Runs `fold` on a thread that yields the CPU to the node it runs in: it, and the fold and
// commit threads it starts (which inherit it), run at a lower priority than the API's and the
// live projector's. Where the cores are busy the rebuild waits; on idle ones it folds as fast.
// (The swap runs on the caller's thread, at the node's priority: the live projector it starts
// must not inherit the lower one, which an unprivileged process could not raise again.)
Status yielding(const std::function<Status()>& fold) {
  Status result;
  std::thread folding([&] {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kRebuildNice);
    result = fold();
  });
  folding.join();
  return result;
}

// How long a rebuild waits out a log it cannot read (kUnavailable: a broker restarting) before
// it gives up; any other failure (the fresh views' RocksDB, a full disk) ends it at once.
class LogOutage {
 public:
  explicit LogOutage(std::chrono::milliseconds grace) : grace_(grace) {}
  // Whether to try again after `failure` (having waited a little).
  bool tolerates(const Status& failure) {
    if (failure.code() != Code::kUnavailable) return false;
    const auto now = std::chrono::steady_clock::now();
    if (!failing_) since_ = now;
    failing_ = true;
    if (now - since_ >= grace_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return true;
  }
  void over() { failing_ = false; }

 private:
  std::chrono::milliseconds grace_;
  bool failing_ = false;
  std::chrono::steady_clock::time_point since_;  // of the first failure in a row
};

// One step of a rebuild's projector; a failure `outage` tolerates is waited out (nothing folded).
Result<size_t> step_through(Projector& projector, LogOutage& outage) {
  auto n = projector.step();
  if (!n.ok()) {
    if (!outage.tolerates(n.status())) return n.status();
    return size_t{0};
  }
  outage.over();
  return n;
}

// The end of every partition (INT64_MAX when unknown: never reached).
std::vector<int64_t> log_ends(Log& log) {
  std::vector<int64_t> ends;
  for (const auto& end : log.end_offsets()) ends.push_back(end.value);
  return ends;
}

Status put_outbox(ViewStore& views, const std::vector<OutboxEntry>& entries) {
  if (entries.empty()) return {};
  ViewBatch batch = views.begin_batch();
  BatchViewWriter writer(batch);
  for (const auto& entry : entries) writer.put_outbox(entry.position_id, entry.change_event);
  return views.commit(batch);
}

// Makes `fresh` own the partitions `live` owns.
void follow_owned(const Projector& live, Projector& fresh) {
  std::vector<int32_t> owned = live.owned(), other;
  for (int32_t p : fresh.owned())
    if (std::find(owned.begin(), owned.end(), p) == owned.end()) other.push_back(p);
  std::vector<int32_t> gained;
  for (int32_t p : owned)
    if (!fresh.owns(Partition(p))) gained.push_back(p);
  if (!other.empty()) fresh.set_owned(other, false);
  if (!gained.empty()) fresh.set_owned(gained, true);
}

// Waits (boundedly) until `shared` is the last reference, then lets it go.
template <typename T>
bool release_when_unused(std::shared_ptr<T>& shared) {
  const auto deadline = std::chrono::steady_clock::now() + kReadersGrace;
  while (shared.use_count() > 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const bool last = shared.use_count() == 1;
  shared.reset();
  return last;
}

}  // namespace

LiveFold::LiveFold(Log& log, ViewSets sets, LiveFoldOptions options)
    : log_(log), sets_(std::move(sets)), options_(std::move(options)) {}

LiveFold::~LiveFold() {
  stop();
  projector_.reset();  // before the views it folds into
}

Result<std::unique_ptr<LiveFold>> LiveFold::open(Log& log, const std::string& data_dir,
                                                 LiveFoldOptions options) {
  auto sets = ViewSets::scan(data_dir);
  if (!sets.ok()) return sets.status();
  std::unique_ptr<LiveFold> fold(new LiveFold(log, *sets, std::move(options)));
  const ViewSets& at = fold->sets_;
  auto opened = ViewStore::open(at.live(), fold->options_.views);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<ViewStore> live = std::move(*opened);
  const int version = live->fold_version();
  const std::string of_version = "the views are of fold version " + std::to_string(version) +
                                 "; this contacts folds version " + std::to_string(fold_version());
  std::string& pending = fold->pending_reason_;
  if (readable_fold_version(version)) {
    auto projector = std::make_shared<Projector>(log, *live, kDefaultMaxBatchRecords,
                                                 fold->options_.fold_threads);
    projector->set_keys(fold->options_.keys, fold->options_.erases);
    projector->set_nice(fold->options_.fold_nice);
    fold->projector_ = std::move(projector);
    fold->views_.swap(std::move(live));
    if (version != fold_version()) pending = of_version;
    // A rebuild that a crash or stop interrupted goes on from what it folded.
    else if (fs::exists(at.next()))
      pending = "resuming the rebuild a stop interrupted";
  } else {
    if (!fold->options_.rebuild_before_serving)
      return Status{Code::kInvalid, of_version +
                                        ", which it cannot read: stop every writer and run "
                                        "`contacts rebuild` on each"};
    // Only the frame is read (what they applied, what their outbox holds): the fresh views go
    // on from there like a rebuild with the server stopped.
    for (int32_t p = 0; p < log.partitions(); ++p)
      fold->carried_quiet_.push_back(live->applied(Partition(p)).value);
    fold->carried_outbox_ = live->outbox(std::numeric_limits<size_t>::max());
    live.reset();
    pending = of_version + ", which it cannot read: rebuilding before serving";
    fold->progress_.before_serving = true;
    // A fresh set left by a stop or crash goes on from what it holds: folded beside these views
    // it stopped at what they applied (the boundary now), folded before serving it went on from
    // there; either way a prefix of the log, its changes queued past that boundary.
  }
  at.remove_others(/*keep_next=*/!pending.empty());
  return fold;
}

std::shared_ptr<Projector> LiveFold::projector() const {
  std::lock_guard lock(mutex_);
  return projector_;
}

Status LiveFold::start() {
  if (auto projector = this->projector()) {
    if (options_.configure)
      if (auto s = options_.configure(*projector, *views_.get()); !s.ok()) return s;
    projector->start();
  }
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    reason = std::move(pending_reason_);
    pending_reason_.clear();
  }
  if (!reason.empty()) {
    log::warn("rebuilding the views: " + reason);
    (void)request_rebuild(reason);
  }
  return {};
}

void LiveFold::stop() {
  stopping_ = true;
  std::thread rebuilding;
  {
    std::lock_guard lock(mutex_);
    rebuilding = std::move(rebuilding_);
  }
  if (rebuilding.joinable()) rebuilding.join();
  if (auto projector = this->projector()) projector->stop();
}

bool LiveFold::wait_applied(LogPosition position, std::chrono::milliseconds timeout) {
  // In slices: a swap replaces the projector, and the new one applies what the old one did not.
  constexpr std::chrono::milliseconds kSlice{50};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const auto slice = std::min(left, kSlice);
    if (auto projector = this->projector()) {
      if (projector->wait_applied(position, slice)) return true;
    } else {
      std::this_thread::sleep_for(slice);
    }
  }
}

bool LiveFold::owns(Partition partition) const {
  auto projector = this->projector();
  return !projector || projector->owns(partition);
}

bool LiveFold::caught_up() {
  auto projector = this->projector();
  return projector && views_.get() && projector->caught_up();
}

Offset LiveFold::applied(Partition partition) const {
  auto projector = this->projector();
  return projector ? projector->applied(partition) : Offset(0);
}

Status LiveFold::request_rebuild(std::string reason) {
  std::unique_lock lock(mutex_);
  if (running_)
    return {Code::kUnavailable, "a rebuild is running (" + progress_.reason +
                                    "): " + std::to_string(progress_.folded) + " of " +
                                    std::to_string(progress_.target) + " records folded"};
  if (stopping_) return {Code::kUnavailable, "the node is stopping"};
  // The last one has finished (running_ is false) but may still be letting the old set go:
  // joined after the lock, so that nobody waits on the lock meanwhile.
  std::thread previous = std::move(rebuilding_);
  running_ = true;
  swapped_ = false;
  cancel_ = false;
  committed_ = false;
  const bool before_serving = progress_.before_serving && !views_.get();
  progress_ = RebuildProgress{};
  progress_.phase = RebuildPhase::kFolding;
  progress_.before_serving = before_serving;
  progress_.reason = std::move(reason);
  started_ = std::chrono::steady_clock::now();
  folded_at_start_ = 0;
  lock.unlock();
  if (previous.joinable()) previous.join();
  std::lock_guard relock(mutex_);
  if (stopping_) {  // stop() came meanwhile: it joins only what it finds here
    running_ = false;
    progress_.phase = RebuildPhase::kIdle;
    return {Code::kUnavailable, "the node is stopping"};
  }
  rebuilding_ = std::thread([this] { run_rebuild(); });
  return {};
}

bool LiveFold::cancel_rebuild() {
  std::lock_guard lock(mutex_);
  if (!running_ || committed_) return false;
  cancel_ = true;
  return true;
}

RebuildProgress LiveFold::progress() const {
  std::lock_guard lock(mutex_);
  RebuildProgress out = progress_;
  if (running_) {
    out.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (out.seconds > 0 && out.folded > folded_at_start_)
      out.rate = static_cast<double>(out.folded - folded_at_start_) / out.seconds;
  }
  return out;
}

int LiveFold::served_fold_version() const {
  auto views = views_.get();
  return views ? views->fold_version() : 0;
}

void LiveFold::update_progress(const Projector& projector) {
  uint64_t folded = 0;
  for (int64_t applied : applied_of(projector, log_.partitions()))
    folded += static_cast<uint64_t>(applied);
  uint64_t target = 0;
  const bool ask = std::chrono::steady_clock::now() - target_asked_ >= kTargetInterval;
  if (ask) {
    target_asked_ = std::chrono::steady_clock::now();
    ends_ = log_ends(log_);
    for (int64_t end : ends_)
      if (end != std::numeric_limits<int64_t>::max()) target += static_cast<uint64_t>(end);
  }
  std::lock_guard lock(mutex_);
  progress_.folded = folded;
  if (ask) progress_.target = target;
  progress_.target = std::max(progress_.target, folded);
}

void LiveFold::run_rebuild() {
  bool before_serving = false;
  {
    std::lock_guard lock(mutex_);
    before_serving = progress_.before_serving;
  }
  bool opened_next = false;  // a set this rebuild may remove (not one another process holds)
  Status result = [&]() -> Status {
    auto opened = ViewStore::open(sets_.next(), options_.views);
    if (opened.ok() && (*opened)->fold_version() != fold_version()) {
      opened->reset();  // left by another contacts: folded again from the start
      std::error_code ec;
      fs::remove_all(sets_.next(), ec);
      opened = ViewStore::open(sets_.next(), options_.views);
    }
    if (!opened.ok()) return opened.status();
    opened_next = true;
    std::shared_ptr<ViewStore> fresh = std::move(*opened);
    // Reads of its own (on Kafka, a consumer of its own): the live projector reads at the log's
    // end meanwhile, and sharing one fetch position would restart it on every read.
    std::shared_ptr<Log> reader = log_.with_own_reader();
    Log& log = reader ? *reader : log_;
    auto projector =
        std::make_shared<Projector>(log, *fresh, kDefaultMaxBatchRecords, options_.fold_threads);
    projector->set_keys(options_.keys, options_.erases);
    projector->set_nice(options_.fold_nice);  // once it is live (its rebuild runs at kRebuildNice)
    fresh_reader_ = reader;
    target_asked_ = {};
    update_progress(*projector);
    {
      std::lock_guard lock(mutex_);
      folded_at_start_ = progress_.folded;
    }
    if (before_serving) {
      Status s = yielding([&] { return fold_before_serving(*fresh, projector); });
      if (!s.ok() || interrupted()) return s;
      {
        std::lock_guard lock(mutex_);  // the point of no return, as in swap_in
        if (cancel_) return Status{};
        committed_ = true;
      }
      return make_live(fresh, projector);
    }
    for (bool again = true; again;) {
      again = false;
      Status s = yielding([&] { return fold_beside(projector); });
      if (!s.ok() || interrupted()) return s;
      if (s = swap_in(fresh, projector, again); !s.ok()) return s;
    }
    return Status{};
  }();
  finish(result, opened_next);
  release_retired();  // out of the scope that held them, once the swap is reported
}

void LiveFold::finish(const Status& result, bool opened_next) {
  std::unique_lock lock(mutex_);
  const bool cancelled = cancel_ && !swapped_;
  // Never swapped in: removed (unless another process holds it) before the end is reported,
  // and not under the lock (a large directory takes a while).
  if ((!result.ok() || cancelled) && opened_next) {
    const std::string next = sets_.next();
    lock.unlock();
    std::error_code ec;
    fs::remove_all(next, ec);
    lock.lock();
  }
  running_ = false;
  const std::string serving = progress_.before_serving ? "the node serves nothing until a rebuild "
                                                         "completes (restart it to try again)"
                                                       : "the old views serve on";
  if (!result.ok()) {
    progress_.phase = RebuildPhase::kFailed;
    progress_.error = result.message();
    log::error(std::string("the rebuild failed, ") + serving + ": " + result.message());
  } else if (cancelled) {
    progress_.phase = RebuildPhase::kCancelled;
    log::warn(std::string("the rebuild was cancelled, ") + serving);
  } else if (stopping_ && !swapped_) {
    progress_.phase = RebuildPhase::kIdle;  // resumed at the next start
  } else {
    progress_.phase = RebuildPhase::kDone;
    progress_.before_serving = false;
    progress_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (progress_.seconds > 0)
      progress_.rate = static_cast<double>(progress_.folded - folded_at_start_) / progress_.seconds;
    log::info("rebuilt the views", {{"records", progress_.folded},
                                    {"duration_ms", static_cast<int64_t>(progress_.seconds * 1000)},
                                    {"serving", sets_.live()}});
  }
}

Status LiveFold::fold_beside(const std::shared_ptr<Projector>& projector) {
  const int32_t partitions = log_.partitions();
  auto live = this->projector();
  // Quiet throughout: the live projector queues the changes, reports the dead letters and
  // forwards misplaced records (the fresh views fold its copies).
  projector->set_quiet_before(
      std::vector<int64_t>(static_cast<size_t>(partitions), std::numeric_limits<int64_t>::max()));
  LogOutage outage(options_.log_outage_grace);
  while (!interrupted()) {
    // A writer's group moves partitions meanwhile: the fresh views fold what the live ones do.
    follow_owned(*live, *projector);
    const std::vector<int64_t> limit = applied_of(*live, partitions);
    projector->set_read_limit(limit);
    auto n = step_through(*projector, outage);
    if (!n.ok()) return n.status();
    update_progress(*projector);
    // Swapped once it is near the live views, and they near the log's end (a live projector
    // catching up after a restart is followed until it got there).
    // (A writer the group has not given partitions yet holds nothing to swap.)
    if (behind(*projector, limit) <= kSwapLag && behind(*live, ends_) <= kSwapLag &&
        !live->owned().empty())
      return {};
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {};
}

Status LiveFold::swap_in(const std::shared_ptr<ViewStore>& fresh,
                         const std::shared_ptr<Projector>& projector, bool& again) {
  {
    std::lock_guard lock(mutex_);
    progress_.phase = RebuildPhase::kSwapping;
  }
  auto live = this->projector();
  live->stop();
  // Whatever fails from here leaves the old views serving, their projector going on.
  auto resume_live = [&](Status s) {
    live->start();
    return s;
  };
  follow_owned(*live, *projector);
  const std::vector<int64_t> limit = applied_of(*live, log_.partitions());
  projector->set_read_limit(limit);
  // Bounded: writes wait meanwhile. A log that stops giving records (a leader moving) sends
  // the rebuild back to folding beside the live views, which go on.
  const auto deadline = std::chrono::steady_clock::now() + kSwapCatchUp;
  while (behind(*projector, limit) > 0) {
    if (stopping_ || std::chrono::steady_clock::now() >= deadline) {
      again = !stopping_;
      return resume_live(Status{});
    }
    auto n = projector->step();
    if (!n.ok()) return resume_live(n.status());
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  update_progress(*projector);
  if (cancel_) return resume_live(Status{});
  // Changes the old views queued and the dispatcher has not taken yet go on from the new ones
  // (one taken meanwhile is taken again: the delivery store records it once).
  if (auto s = put_outbox(*fresh, views_.get()->outbox(std::numeric_limits<size_t>::max()));
      !s.ok())
    return resume_live(s);
  projector->set_read_limit({});
  // The old projector queued every change below where it stopped, and was quiet up to its own
  // boundary (on a writer, what the group committed for a partition it got): the new one goes
  // on from there.
  std::vector<int64_t> quiet = limit;
  for (size_t p = 0; p < quiet.size(); ++p)
    quiet[p] = std::max(quiet[p], live->quiet_before(static_cast<int32_t>(p)));
  projector->set_quiet_before(quiet);
  if (options_.configure)
    if (auto s = options_.configure(*projector, *fresh); !s.ok()) return resume_live(s);
  {
    // The point of no return: a cancel from here on is refused (cancel_rebuild).
    std::lock_guard lock(mutex_);
    if (cancel_) return resume_live(Status{});
    committed_ = true;
  }
  if (auto s = make_live(fresh, projector); !s.ok()) return resume_live(s);
  return {};
}

Status LiveFold::fold_before_serving(ViewStore& fresh,
                                     const std::shared_ptr<Projector>& projector) {
  if (auto s = put_outbox(fresh, carried_outbox_); !s.ok()) return s;
  projector->set_quiet_before(carried_quiet_);
  if (options_.configure)
    if (auto s = options_.configure(*projector, fresh); !s.ok()) return s;
  LogOutage outage(options_.log_outage_grace);
  while (!interrupted()) {
    auto n = step_through(*projector, outage);
    if (!n.ok()) return n.status();
    update_progress(*projector);
    // The log's ends decide, not an empty read (a Kafka fetch may still be on its way); the
    // rest is folded by the projector's own thread, once the views serve.
    if (behind(*projector, ends_) <= kSwapLag) return {};
    if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {};
}

Status LiveFold::make_live(const std::shared_ptr<ViewStore>& fresh,
                           const std::shared_ptr<Projector>& projector) {
  // Durable before it is named live: commits skip the WAL, and a crash after the rename must
  // find the set as it is now (the outbox it carried over included).
  if (auto s = fresh->flush(); !s.ok()) return s;
  const std::string old_path = sets_.live();
  if (auto s = sets_.make_next_live(); !s.ok()) return s;
  // Readers take the fresh set from here on; the old projector is stopped (or there is none),
  // so both sets hold exactly the same positions at this instant.
  std::shared_ptr<ViewStore> old = views_.swap(fresh);
  std::shared_ptr<Projector> old_projector;
  {
    std::lock_guard lock(mutex_);
    old_projector = std::exchange(projector_, projector);
    swapped_ = true;
  }
  retired_reader_ = std::exchange(projector_reader_, std::move(fresh_reader_));
  projector->start();
  retired_views_ = std::move(old);  // null when they were not served (rebuilt before serving)
  retired_projector_ = std::move(old_projector);
  retired_path_ = old_path;
  return {};
}

void LiveFold::release_retired() {
  fresh_reader_.reset();  // a rebuild that did not swap
  if (retired_path_.empty()) return;
  // The old projector goes first (it writes into the old set and reads through its reader),
  // once its waiters moved on.
  if (retired_projector_) release_when_unused(retired_projector_);
  retired_reader_.reset();
  if (!retired_views_ || release_when_unused(retired_views_)) {
    std::error_code ec;
    fs::remove_all(retired_path_, ec);
  }
  retired_views_.reset();
  retired_path_.clear();
}

void LiveFold::add_metrics(Exposition& metrics) {
  if (auto projector = this->projector()) projector->add_metrics(metrics);
  progress().add_to(metrics);
  metrics.gauge("contacts_views_fold_version",
                "The fold version of the served views (0 while none are served).",
                served_fold_version());
  if (auto views = views_.get()) views->add_metrics(metrics);
}

std::string LiveFold::state_json() const {
  return R"({"fold_version":)" + std::to_string(served_fold_version()) +
         R"(,"fold_version_of_code":)" + std::to_string(fold_version()) + R"(,"rebuild":)" +
         progress().to_json() + "}";
}

}  // namespace contacts
