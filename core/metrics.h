// Exposition: the Prometheus text of /metrics, built from the samples every part of a process
// adds and grouped by family, so that each family is printed once and whole, after its HELP and
// TYPE, whichever parts added to it. One is built per scrape, on one thread (not thread-safe).
//
//   Exposition metrics;
//   metrics.counter("contacts_fold_batches_total", "Batches the fold committed.", 42);
//   metrics.gauge("contacts_consumer_lag", "Records not yet folded.", 3, {{"partition", "0"}});
//   std::string body = metrics.text();
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace contacts {

enum class MetricType { kCounter, kGauge, kHistogram };

// Label names and values of one series, in the order they are printed.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // Adds one series of the family `name`. The family takes the help and type of its first
  // series; a later one of another type, or a series already added (same labels), is a broken
  // invariant of the caller: std::logic_error.
  void counter(std::string_view name, std::string_view help, double value,
               const MetricLabels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value,
             const MetricLabels& labels = {});
  // One series of a histogram: `cumulative[i]` observations were at most `bounds[i]` (sizes
  // equal), `count` in all (the +Inf bucket) summing to `sum`.
  void histogram(std::string_view name, std::string_view help, const MetricLabels& labels,
                 std::span<const double> bounds, std::span<const uint64_t> cumulative, double sum,
                 uint64_t count);
  // A family that may have no series yet (no request came): its HELP and TYPE alone.
  void declare(std::string_view name, MetricType type, std::string_view help);

  // The exposition (text format 0.0.4), families in the order they were first added.
  std::string text() const;

 private:
  struct Family {
    MetricType type;
    std::string help;
    std::string samples;           // rendered lines
    std::set<std::string> series;  // name and labels of each, to refuse a duplicate
  };
  Family& family(std::string_view name, MetricType type, std::string_view help);
  void sample(Family& family, std::string_view name, const MetricLabels& labels,
              std::string_view value);

  std::vector<std::string> order_;
  std::map<std::string, Family, std::less<>> families_;
};

// A sample value as Prometheus reads it: integers without a fraction, others in the shortest
// form that reads back exactly, NaN and infinities by name.
std::string metric_value(double value);

// The sizes a RocksDB instance reports (any `db` with RocksDB's GetIntProperty): what a store
// adds to /metrics under its name (app/).
struct StoreSizes {
  uint64_t live_data_bytes = 0;
  uint64_t sst_files_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
};
template <typename Db>
StoreSizes store_sizes(Db& db) {
  StoreSizes sizes;
  db.GetIntProperty("rocksdb.estimate-live-data-size", &sizes.live_data_bytes);
  db.GetIntProperty("rocksdb.total-sst-files-size", &sizes.sst_files_bytes);
  db.GetIntProperty("rocksdb.cur-size-all-mem-tables", &sizes.memtable_bytes);
  db.GetIntProperty("rocksdb.estimate-pending-compaction-bytes", &sizes.pending_compaction_bytes);
  return sizes;
}
// Adds the contacts_store_* gauges of `sizes`, labelled store=`store`.
void add_store_sizes(Exposition& metrics, std::string_view store, const StoreSizes& sizes);

// Adds the process_* series of this process (CPU, memory, file descriptors, start time), read
// from /proc; a file that cannot be read leaves its series out.
void add_process_metrics(Exposition& metrics);

}  // namespace contacts
