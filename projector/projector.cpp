#include "projector/projector.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <limits>
#include <optional>

#include "core/log.h"
#include "projector/outbox.h"
#include "views/batch_writer.h"

namespace contacts {

Projector::Projector(Log& log, ViewStore& views, size_t max_batch_records, size_t fold_threads)
    : log_(log),
      views_(views),
      max_batch_records_(max_batch_records),
      groups_(std::clamp<size_t>(fold_threads, 1, static_cast<size_t>(log.partitions()))),
      applied_(static_cast<size_t>(log.partitions())),
      forwarded_to_(static_cast<size_t>(log.partitions())),
      owned_(static_cast<size_t>(log.partitions())) {
  for (auto& o : owned_) o.store(true);
  for (size_t g = 0; g < groups_; ++g) caches_.emplace_back(kReadCacheEntries);
  prepared_.resize(groups_);
  batches_.resize(groups_);
  for (size_t g = 0; g < groups_; ++g)
    for (auto& batch : batches_[g])
      batch = std::make_unique<ViewBatch>(views.begin_batch(&caches_[g]));
  for (int32_t p = 0; p < log.partitions(); ++p)
    applied_[static_cast<size_t>(p)].store(views.applied(Partition(p)).value);
}

Projector::~Projector() { stop(); }

void Projector::set_owned(const std::vector<int32_t>& partitions, bool owned) {
  for (int32_t p : partitions)
    if (p >= 0 && static_cast<size_t>(p) < owned_.size()) {
      owned_[static_cast<size_t>(p)].store(owned);
      // Nobody else writes these views: what they hold is where this partition resumes.
      if (owned) applied_[static_cast<size_t>(p)].store(views_.applied(Partition(p)).value);
    }
}

void Projector::set_quiet_before(int32_t partition, int64_t offset) {
  if (partition < 0 || partition >= log_.partitions()) return;
  if (quiet_before_.size() < static_cast<size_t>(log_.partitions()))
    quiet_before_.resize(static_cast<size_t>(log_.partitions()), 0);
  quiet_before_[static_cast<size_t>(partition)] = offset;
}

std::vector<int32_t> Projector::owned() const {
  std::vector<int32_t> out;
  for (size_t p = 0; p < owned_.size(); ++p)
    if (owned_[p].load()) out.push_back(static_cast<int32_t>(p));
  return out;
}

void Projector::start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    // Per thread on Linux; the fold and commit threads it starts inherit it.
    if (nice_ > 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice_);
    run();
  });
}

void Projector::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<std::pair<int32_t, int64_t>> Projector::group_slots(size_t group) const {
  std::vector<std::pair<int32_t, int64_t>> slots;
  for (int32_t p = static_cast<int32_t>(group); p < log_.partitions();
       p += static_cast<int32_t>(groups_))
    if (owned_[static_cast<size_t>(p)].load())
      slots.emplace_back(p, applied_[static_cast<size_t>(p)].load());
  return slots;
}

bool Projector::settle(std::optional<InFlight>& in_flight, GroupResult& result) {
  if (!in_flight) return true;
  Status committed = in_flight->committing.get();
  if (committed.ok()) {
    in_flight->batch->publish_to_cache();
    result.consumed += in_flight->part.consumed;
    publish(in_flight->part);
  } else {
    result.status = committed;
  }
  in_flight.reset();
  return committed.ok();
}

Projector::GroupResult Projector::fold_group(size_t group) {
  auto slots = group_slots(group);

  // Up to kRoundsPerStep batches, each folded while the one before it commits on another
  // thread (reading through it). A batch counts in the result only once it is committed, so
  // a failure reports exactly the batches that made it.
  GroupResult result;
  // Empty, whatever the last step left: a committed batch empties itself (publish_to_cache),
  // but one that failed to commit, was dropped, or was left by an exception (a sink that threw,
  // no thread for a commit) still holds its writes.
  for (auto& batch : batches_[group]) batch->clear();
  std::optional<InFlight> in_flight;
  for (size_t round = 0; round < kRoundsPerStep; ++round) {
    if (round > 0 && stopping_) break;  // stop() waits for one batch at most, not a whole step
    // The group's two batches in turn: the other one may be in flight.
    ViewBatch& batch = *batches_[group][round % 2];
    batch.read_behind(in_flight ? in_flight->batch : nullptr);
    GroupResult part;
    try {
      part = fold_batch(group, batch, slots);
    } catch (const std::exception& e) {
      // A failed read of the views (ViewReadError) or anything else: the batch before this one
      // is still settled below, so what it committed counts and the cache matches the views.
      part.status = Status{Code::kInternal, std::string("fold: ") + e.what()};
    }
    // A batch folded on top of one that failed to commit is dropped with it.
    if (!settle(in_flight, result) || !part.status.ok() || part.consumed == 0) {
      if (result.status.ok()) result.status = part.status;
      return result;
    }
    batch.read_behind(nullptr);
    in_flight.emplace(InFlight{&batch, std::move(part), {}});
    in_flight->committing =
        std::async(std::launch::async,
                   [this, b = &batch, p = &in_flight->part] { return forward_and_commit(*b, *p); });
  }
  settle(in_flight, result);
  return result;
}

Status Projector::forward_and_commit(ViewBatch& batch, GroupResult& part) {
  for (auto& underway : part.pending) {
    if (!underway.append) continue;
    auto done = underway.append->wait();
    if (!done.ok())
      return {done.status().code(),
              "forwarding or publishing before the commit: " + done.status().message()};
    if (underway.forwarded_from >= 0) {
      auto& mark = forwarded_to_[static_cast<size_t>(underway.forwarded_from)];
      mark.store(std::max(mark.load(), underway.forwarded_to));
    }
  }
  part.pending.clear();
  // The erased people's keys go first: a crash before the commit below folds the batch again,
  // its records of them as erased ones, and the delete then removes what those built.
  for (const auto& [subject, ids] : part.erasures)
    if (auto s = destroy_keys_->destroy(subject, ids); !s.ok())
      return {s.code(), "erasing before the commit: " + s.message()};
  return views_.commit(batch);
}

Projector::GroupResult Projector::fold_batch(size_t group, ViewBatch& batch,
                                             std::vector<std::pair<int32_t, int64_t>>& slots) {
  GroupResult result;
  if (slots.empty()) return result;
  // The group's batch holds up to its share of max_batch_records: each partition first gets an
  // equal part, then what the quiet ones left goes to those that had more (a hot workspace
  // lives in one partition and would otherwise be folded in small batches).
  const size_t budget = batch_budget();
  std::vector<int64_t> start;
  for (const auto& slot : slots) start.push_back(slot.second);
  bool reserved = false;
  // Reads up to `limit` records of slot i, folds them and moves the slot on; their count.
  auto take = [&](size_t i, size_t limit) -> Result<size_t> {
    auto& [p, slot] = slots[i];
    if (static_cast<size_t>(p) < read_limit_.size()) {
      const int64_t end = read_limit_[static_cast<size_t>(p)];
      if (slot >= end) return size_t{0};
      limit = std::min<size_t>(limit, static_cast<size_t>(end - slot));
    }
    auto entries = log_.read(Partition(p), Offset(slot), limit);
    if (!entries.ok()) return entries.status();
    // Room for what the batch may hold, made once it has something to hold (an idle step reads
    // nothing and reserves nothing): growing its table step by step would move every key again.
    if (!entries->empty() && !reserved) {
      batch.reserve(kKeysPerRecord * budget);
      reserved = true;
    }
    fold_entries(group, batch, p, *entries, result);
    result.consumed += entries->size();
    if (!entries->empty())
      slot = entries->back().offset.value + 1;  // the next read goes on from here
    return entries->size();
  };
  // Every partition gets its part (at least 64 records, however many share the budget), so
  // none waits behind the others; those that filled it may have more.
  const size_t part = std::max<size_t>(64, budget / slots.size());
  size_t left = budget;
  std::vector<size_t> busy;
  for (size_t i = 0; i < slots.size(); ++i) {
    auto n = take(i, part);
    if (!n.ok()) {
      result.status = n.status();
      return result;
    }
    left -= std::min(left, *n);
    if (*n == part) busy.push_back(i);
  }
  for (size_t i : busy) {
    if (left == 0) break;
    auto n = take(i, left);
    if (!n.ok()) {
      result.status = n.status();
      return result;
    }
    left -= *n;
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& [p, next] = slots[i];
    if (next == start[i]) continue;
    BatchViewWriter(batch).put_offset(Partition(p), Offset(next));
    result.next.emplace_back(p, next);
  }
  return result;
}

void Projector::fold_entries(size_t group, ViewBatch& batch, int32_t p,
                             const std::vector<LogEntry>& entries, GroupResult& result) {
  const int32_t partitions = log_.partitions();
  const int64_t quiet =
      static_cast<size_t>(p) < quiet_before_.size() ? quiet_before_[static_cast<size_t>(p)] : 0;
  // Forwarded already: below the quiet boundary (by whoever applied it) or by this process.
  const int64_t forwarded = std::max(quiet, forwarded_to_[static_cast<size_t>(p)].load());
  // Every record is decoded before the first is applied, so the key filter's blocks of a
  // record's command id and email (each otherwise a miss to memory, two per command) are
  // fetched while the records a few places before it are applied: the blocks are in cache when
  // applying looks them up. (Fetched at decoding, a run of up to thousands of records before,
  // most were evicted again: the lookups' share of the profile fell from 2.6% to 0.02%.)
  constexpr size_t kPrefetchAhead = 8;
  std::vector<PreparedRecord>& prepared = prepared_[group];
  BatchViewWriter writer(batch);
  std::vector<LogRecord> forward;  // misplaced records of `entries`
  int64_t forward_end = 0;         // the offset after the last of them
  const size_t n = entries.size();
  if (prepared.size() < n) prepared.resize(n);
  // Read before now: a key stored before its record was appended is found (KeyStore::find).
  const auto fresh_as_of = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i)
    prepare(entries[i], partitions, prepared[i], unsealer_, fresh_as_of);
  auto prefetch = [&](const PreparedRecord& record) {
    if (!record.command_id.bytes.empty()) writer.prefetch(record.command_id);
    if (!record.facts.email_key.bytes.empty()) writer.prefetch(record.facts.email_key);
  };
  for (size_t i = 0; i < std::min(n, kPrefetchAhead); ++i) prefetch(prepared[i]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) prefetch(prepared[i + kPrefetchAhead]);
    const LogEntry& entry = entries[i];
    const size_t first_change = result.changes.size();
    if (auto s = fold_prepared(writer, prepared[i], result.changes); !s.ok()) {
      // Below the quiet boundary, whoever applied the record reported it already.
      if (entry.offset.value >= quiet) {
        result.dead_letters += 1;
        dead_letters_->dead_letter(entry, s.message());
      }
    } else if (prepared[i].misplaced && forward_misplaced_) {
      const size_t bytes = entry.key.size() + entry.value.size();
      if (bytes > kMaxForwardBytes) {
        if (entry.offset.value >= quiet) {  // below it, whoever applied it reported it
          result.dead_letters += 1;
          dead_letters_->dead_letter(entry, "too large to forward to the partition of its key (" +
                                                std::to_string(bytes) + " bytes; at most " +
                                                std::to_string(kMaxForwardBytes) + ")");
        }
      } else if (entry.offset.value >= forwarded) {
        forward.push_back({entry.key, entry.value});
        forward_end = entry.offset.value + 1;
      }
    }
    const bool loud = entry.offset.value >= quiet;
    for (size_t k = first_change; k < result.changes.size(); ++k) {
      const Change& change = result.changes[k];
      if (change.kind != Change::Kind::kDeleted) continue;
      result.deletes += 1;
      if (loud && destroy_keys_ && !change.key_ids.empty())
        result.erasures.emplace_back(change.subject, split_key_ids(change.key_ids));
    }
    if (loud) {
      if (const auto& c = prepared[i].command; c.ok() && c->sealed && c->key_gone)
        result.erased_records += 1;
      else if (c.ok() && !c->sealed && !prepared[i].misplaced &&
               (c->type == CommandType::kRoomJoin || c->type == CommandType::kBooking))
        result.clear_visits += 1;
      // Each change goes to the outbox as of its own position: a subscription created later
      // in the same batch does not receive it.
      queue_changes(writer, result, first_change);
    }
  }
  // Started now, so that they are on their way while the rest of the batch is folded; appended
  // by their key (to the partition each belongs in), in the order they were read.
  if (!forward.empty()) {
    result.forwarded += forward.size();
    result.pending.push_back({log_.start_append(forward), p, forward_end});
  }
  if (hand_on_queued_ && !result.queued.empty()) {
    result.pending.push_back({change_sink_->start_publish(std::move(result.queued))});
    result.queued.clear();
  }
}

void Projector::queue_changes(ViewWriter& writer, GroupResult& result, size_t first_change) {
  for (size_t c = first_change; c < result.changes.size(); ++c) {
    const Change& change = result.changes[c];
    std::string value;
    if (record_change(writer, change, scope_, hand_on_queued_ ? &value : nullptr) &&
        hand_on_queued_)
      result.queued.push_back({change.position_id, std::move(value), change.workspace_id});
  }
}

void Projector::publish(GroupResult& part) {
  {
    std::lock_guard lock(applied_mutex_);
    for (const auto& [p, next] : part.next) applied_[static_cast<size_t>(p)].store(next);
  }
  applied_changed_.notify_all();
  stats_.applied_records.fetch_add(part.consumed);
  // Counted once their batch committed: a batch dropped and folded again does not count twice.
  stats_.dead_letters.fetch_add(part.dead_letters);
  stats_.forwarded_records.fetch_add(part.forwarded);
  stats_.clear_visits.fetch_add(part.clear_visits);
  stats_.erased_records.fetch_add(part.erased_records);
  stats_.erasures.fetch_add(part.erasures.size());
  stats_.deletes.fetch_add(part.deletes);
  stats_.batches.fetch_add(1);
  if (change_sink_ && !part.changes.empty()) change_sink_->applied(part.changes);
}

Result<size_t> Projector::step() {
  // Partitions are folded in groups on separate threads: a workspace lives in one partition and
  // every key is scoped by workspace or partition, so the groups' batches touch disjoint keys,
  // and each commits its own partitions' offsets with its own views.
  std::vector<std::future<GroupResult>> others;
  for (size_t g = 1; g < groups_; ++g)
    others.push_back(std::async(std::launch::async, [this, g] { return fold_group(g); }));
  std::vector<GroupResult> results;
  results.push_back(fold_group(0));
  for (auto& f : others) results.push_back(f.get());

  // Each group published its batches as they committed (publish): what each committed counts,
  // even when a later batch of it failed.
  size_t consumed = 0;
  Status failure;
  for (const auto& r : results) {
    if (!r.status.ok()) failure = r.status;
    consumed += r.consumed;
  }
  if (consumed > 0) stats_.steps.fetch_add(1);
  if (!failure.ok()) return failure;
  return consumed;
}

void Projector::run() {
  while (!stopping_) {
    if (between_steps_) between_steps_();
    uint64_t seen = log_.append_count();
    auto consumed = step();
    if (!consumed.ok()) {
      log::warn("projector: " + consumed.status().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (*consumed == 0) log_.wait_for_append(seen, std::chrono::milliseconds(100));
  }
}

Status Projector::catch_up(const std::function<void(uint64_t, uint64_t)>& progress) {
  // The end of every partition now: what "caught up" means. A read may come back empty before
  // the log is at its end (a Kafka fetch still on its way), so the ends decide, not the reads.
  std::vector<int64_t> ends;
  uint64_t total = 0;
  for (int32_t p = 0; p < log_.partitions(); ++p) {
    ends.push_back(log_.end_offset(Partition(p)).value);
    if (ends.back() == std::numeric_limits<int64_t>::max())
      return {Code::kUnavailable,
              "the end of partition " + std::to_string(p) + " of the log is unknown"};
    total += static_cast<uint64_t>(ends.back());
  }
  auto reached = [&] {
    for (size_t p = 0; p < ends.size(); ++p)
      if (owned_[p].load() && applied_[p].load() < ends[p]) return false;
    return true;
  };
  while (!reached()) {
    uint64_t seen = log_.append_count();
    auto consumed = step();
    if (!consumed.ok()) return consumed.status();
    if (*consumed == 0) {
      log_.wait_for_append(seen, std::chrono::milliseconds(10));
      continue;
    }
    if (progress) {
      uint64_t done = 0;
      for (const auto& a : applied_) done += static_cast<uint64_t>(a.load());
      progress(done, total);
    }
  }
  return {};
}

bool Projector::wait_applied(LogPosition position, std::chrono::milliseconds timeout) {
  std::unique_lock lock(applied_mutex_);
  return applied_changed_.wait_for(lock, timeout, [&] {
    return applied_[static_cast<size_t>(position.partition.value)].load() > position.offset.value;
  });
}

bool Projector::caught_up() {
  // A writer that owns no partition (yet) holds nothing it could serve as current.
  bool any = false;
  for (const auto& o : owned_) any = any || o.load();
  if (!any) return false;
  auto ends = log_.end_offsets();
  for (size_t p = 0; p < ends.size(); ++p)
    if (owned_[p].load() && applied_[p].load() < ends[p].value) return false;
  return true;
}

Offset Projector::applied(Partition partition) const {
  return Offset(applied_[static_cast<size_t>(partition.value)].load());
}

void Projector::add_metrics(Exposition& metrics) {
  for (const auto& [name, help, value] :
       {std::tuple{"contacts_applied_records_total", "Log records the fold applied.",
                   &stats_.applied_records},
        {"contacts_dead_letters_total", "Log records that were not commands, kept aside.",
         &stats_.dead_letters},
        {"contacts_forwarded_records_total",
         "Misplaced records forwarded to the partition they belong in.", &stats_.forwarded_records},
        {"contacts_fold_batches_total", "Batches the fold committed.", &stats_.batches},
        {"contacts_clear_visits_total",
         "Visits folded whose participant came in clear (not erasable from the log).",
         &stats_.clear_visits},
        {"contacts_erased_records_total",
         "Sealed records folded whose key was destroyed (records of erased people).",
         &stats_.erased_records},
        {"contacts_erasures_total", "Erasures the fold made.", &stats_.erasures}})
    metrics.counter(name, help, static_cast<double>(value->load()));
  constexpr std::string_view kLag = "contacts_consumer_lag";
  constexpr std::string_view kLagHelp =
      "Records in the log not yet applied to the views, per partition this node folds.";
  metrics.declare(kLag, MetricType::kGauge, kLagHelp);
  auto ends = log_.end_offsets();
  for (int32_t p : owned())
    metrics.gauge(
        kLag, kLagHelp,
        static_cast<double>(ends[static_cast<size_t>(p)].value - applied(Partition(p)).value),
        {{"partition", std::to_string(p)}});
}

}  // namespace contacts
