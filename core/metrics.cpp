#include "core/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace contacts {

namespace {

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      break;
  }
  return "histogram";
}

// Backslash and newline escaped (HELP text); with `quote`, the double quote too (label values).
std::string escaped(std::string_view text, bool quote) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string series_of(std::string_view name, const MetricLabels& labels) {
  std::string out(name);
  if (labels.empty()) return out;
  out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first + "=\"" + escaped(labels[i].second, true) + "\"";
  }
  return out + '}';
}

}  // namespace

std::string metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Plain decimals where they are short (bucket bounds read "0.0005", as Prometheus prints them).
  const double magnitude = std::fabs(value);
  const bool plain = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  char buffer[64];
  auto [end, ec] =
      plain ? std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

Exposition::Family& Exposition::family(std::string_view name, MetricType type,
                                       std::string_view help) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    order_.emplace_back(name);
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}, {}}).first;
  }
  if (it->second.type != type)
    throw std::logic_error("metric family " + std::string(name) + " added as " +
                           std::string(type_name(type)) + " and as " +
                           std::string(type_name(it->second.type)));
  return it->second;
}

void Exposition::sample(Family& family, std::string_view name, const MetricLabels& labels,
                        std::string_view value) {
  std::string series = series_of(name, labels);
  if (!family.series.insert(series).second)
    throw std::logic_error("metric series " + series + " added twice");
  family.samples += series;
  family.samples += ' ';
  family.samples += value;
  family.samples += '\n';
}

void Exposition::counter(std::string_view name, std::string_view help, double value,
                         const MetricLabels& labels) {
  sample(family(name, MetricType::kCounter, help), name, labels, metric_value(value));
}

void Exposition::gauge(std::string_view name, std::string_view help, double value,
                       const MetricLabels& labels) {
  sample(family(name, MetricType::kGauge, help), name, labels, metric_value(value));
}

void Exposition::histogram(std::string_view name, std::string_view help, const MetricLabels& labels,
                           std::span<const double> bounds, std::span<const uint64_t> cumulative,
                           double sum, uint64_t count) {
  Family& f = family(name, MetricType::kHistogram, help);
  const std::string base(name);
  MetricLabels with_le = labels;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
    with_le.back().second = metric_value(bounds[i]);
    sample(f, base + "_bucket", with_le, std::to_string(cumulative[i]));
  }
  with_le.back().second = "+Inf";
  sample(f, base + "_bucket", with_le, std::to_string(count));
  sample(f, base + "_sum", labels, metric_value(sum));
  sample(f, base + "_count", labels, std::to_string(count));
}

void Exposition::declare(std::string_view name, MetricType type, std::string_view help) {
  family(name, type, help);
}

std::string Exposition::text() const {
  std::string out;
  for (const auto& name : order_) {
    const Family& f = families_.find(name)->second;
    out += "# HELP " + name + " " + escaped(f.help, false) + "\n";
    out += "# TYPE " + name + " " + std::string(type_name(f.type)) + "\n";
    out += f.samples;
  }
  return out;
}

void add_store_sizes(Exposition& metrics, std::string_view store, const StoreSizes& sizes) {
  const MetricLabels labels = {{"store", std::string(store)}};
  metrics.gauge(
      "contacts_store_live_data_bytes",
      "Estimated bytes of live data in a RocksDB store (rocksdb.estimate-live-data-size).",
      static_cast<double>(sizes.live_data_bytes), labels);
  metrics.gauge("contacts_store_sst_files_bytes",
                "Bytes of all SST files of a RocksDB store (rocksdb.total-sst-files-size).",
                static_cast<double>(sizes.sst_files_bytes), labels);
  metrics.gauge("contacts_store_memtable_bytes",
                "Bytes of the memtables of a RocksDB store (rocksdb.cur-size-all-mem-tables).",
                static_cast<double>(sizes.memtable_bytes), labels);
  metrics.gauge("contacts_store_pending_compaction_bytes",
                "Bytes a RocksDB store estimates compaction has yet to rewrite "
                "(rocksdb.estimate-pending-compaction-bytes).",
                static_cast<double>(sizes.pending_compaction_bytes), labels);
}

namespace {

// The fields of /proc/self/stat after the command name, from field 3 (state) on.
std::vector<std::string> own_stat_fields() {
  std::ifstream file("/proc/self/stat");
  std::string line;
  std::getline(file, line);
  std::vector<std::string> fields;
  size_t name_end = line.rfind(')');
  if (name_end == std::string::npos) return fields;
  std::istringstream rest(line.substr(name_end + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

// The boot time in unix seconds (btime of /proc/stat); 0 when unknown.
double boot_time() {
  std::ifstream file("/proc/stat");
  for (std::string key; file >> key;) {
    if (key == "btime") {
      double seconds = 0;
      file >> seconds;
      return seconds;
    }
    file.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

}  // namespace

void add_process_metrics(Exposition& metrics) {
  // Fields of proc(5), counted from 3: utime 14, stime 15, starttime 22, vsize 23, rss 24.
  std::vector<std::string> stat = own_stat_fields();
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  auto field = [&](size_t number) { return std::stod(stat[number - 3]); };
  if (stat.size() >= 22) {
    metrics.counter("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
                    (field(14) + field(15)) / ticks);
    metrics.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", field(23));
    metrics.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                  field(24) * page);
    if (double boot = boot_time(); boot > 0)
      metrics.gauge("process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    boot + field(22) / ticks);
  }
  std::error_code ec;
  size_t open = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++open;
  if (!ec) metrics.gauge("process_open_fds", "Number of open file descriptors.", open);
  if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0)
    metrics.gauge("process_max_fds", "Maximum number of open file descriptors.",
                  limit.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(limit.rlim_cur));
}

}  // namespace contacts
