#include "projector/rebuild.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "projector/projector.h"
#include "views/batch_writer.h"

namespace contacts {

namespace fs = std::filesystem;

namespace {

// What the live views hand on to the rebuilt ones: where each partition's changes were already
// queued, and the outbox entries still waiting.
struct Carried {
  std::vector<int64_t> quiet;
  std::vector<OutboxEntry> outbox;
};

// `live`: the live views (of any fold version: only what they applied and their outbox are
// read), or null when there are none.
Carried carried_from_live(Log& log, const ViewStore* live, const RebuildOptions& options) {
  Carried carried;
  carried.quiet.assign(static_cast<size_t>(log.partitions()), 0);
  if (live) {
    for (int32_t p = 0; p < log.partitions(); ++p)
      carried.quiet[static_cast<size_t>(p)] = live->applied(Partition(p)).value;
    carried.outbox = live->outbox(std::numeric_limits<size_t>::max());
  }
  for (size_t p = 0; p < carried.quiet.size() && p < options.quiet_floor.size(); ++p)
    carried.quiet[p] = std::max(carried.quiet[p], options.quiet_floor[p]);
  return carried;
}

Result<uint64_t> fold_into(Log& log, const std::string& path, const RebuildOptions& options,
                           const Carried& carried) {
  auto views = ViewStore::open(path, options.views);
  if (!views.ok()) return views.status();
  if (!carried.outbox.empty()) {
    ViewBatch batch = (*views)->begin_batch();
    BatchViewWriter writer(batch);
    for (const auto& entry : carried.outbox)
      writer.put_outbox(entry.position_id, entry.change_event);
    if (auto s = (*views)->commit(batch); !s.ok()) return s;
  }
  Projector projector(log, **views);
  projector.set_quiet_before(carried.quiet);
  projector.set_change_scope(options.scope);
  projector.set_forward_misplaced(options.forward_misplaced);
  projector.set_keys(options.keys, options.forward_misplaced);
  uint64_t total = 0;
  auto status = projector.catch_up([&](uint64_t done, uint64_t all) {
    total = all;
    if (options.progress) options.progress(done, all);
  });
  if (!status.ok()) return status;
  return total;
}

}  // namespace

Result<Rebuilt> rebuild_views(Log& log, const RebuildOptions& options) {
  auto sets = ViewSets::scan(options.data_dir);
  if (!sets.ok()) return sets.status();
  // The live views stay open until the swap: their RocksDB lock refuses a node that starts on
  // this directory meanwhile, and refuses this rebuild beside a node that runs (before it
  // touches anything).
  std::unique_ptr<ViewStore> live;
  if (fs::exists(sets->live())) {
    auto opened = ViewStore::open(sets->live(), options.views);
    if (!opened.ok()) return opened.status();
    live = std::move(*opened);
  }
  const Carried carried = carried_from_live(log, live.get(), options);
  std::error_code ec;
  fs::remove_all(sets->next(), ec);  // an online rebuild's, left by a stop: started over
  auto total = fold_into(log, sets->next(), options, carried);
  if (!total.ok()) {
    fs::remove_all(sets->next(), ec);
    return total.status();
  }
  if (auto s = sets->make_next_live(); !s.ok()) return s;
  live.reset();
  sets->remove_others(/*keep_next=*/false);
  return Rebuilt{*total, sets->live()};
}

}  // namespace contacts
