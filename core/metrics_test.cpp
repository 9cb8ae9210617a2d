#include "core/metrics.h"

#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>

namespace contacts {

TEST_CASE("Exposition prints each family once, whole, after its HELP and TYPE") {
  Exposition metrics;
  metrics.counter("a_total", "Counts a.", 1, {{"listener", "api"}});
  metrics.gauge("b", "Gauges b.", 2.5);
  metrics.counter("a_total", "Counts a.", 3, {{"listener", "ingest"}});
  CHECK(metrics.text() ==
        "# HELP a_total Counts a.\n"
        "# TYPE a_total counter\n"
        "a_total{listener=\"api\"} 1\n"
        "a_total{listener=\"ingest\"} 3\n"
        "# HELP b Gauges b.\n"
        "# TYPE b gauge\n"
        "b 2.5\n");
}

TEST_CASE("Exposition prints a histogram's buckets, +Inf, sum and count in one family") {
  Exposition metrics;
  const double bounds[] = {0.5, 1};
  const uint64_t cumulative[] = {1, 2};
  metrics.histogram("d_seconds", "Durations.", {{"route", "x"}}, bounds, cumulative, 1.25, 3);
  CHECK(metrics.text() ==
        "# HELP d_seconds Durations.\n"
        "# TYPE d_seconds histogram\n"
        "d_seconds_bucket{route=\"x\",le=\"0.5\"} 1\n"
        "d_seconds_bucket{route=\"x\",le=\"1\"} 2\n"
        "d_seconds_bucket{route=\"x\",le=\"+Inf\"} 3\n"
        "d_seconds_sum{route=\"x\"} 1.25\n"
        "d_seconds_count{route=\"x\"} 3\n");
}

TEST_CASE("Exposition escapes label values and help text") {
  Exposition metrics;
  metrics.gauge("g", "Back\\slash and\nnewline.", 1, {{"v", "q\"b\\n\n"}});
  CHECK(metrics.text() ==
        "# HELP g Back\\\\slash and\\nnewline.\n"
        "# TYPE g gauge\n"
        "g{v=\"q\\\"b\\\\n\\n\"} 1\n");
}

TEST_CASE("Exposition declares a family with no series yet") {
  Exposition metrics;
  metrics.declare("c_total", MetricType::kCounter, "Nothing yet.");
  CHECK(metrics.text() == "# HELP c_total Nothing yet.\n# TYPE c_total counter\n");
}

TEST_CASE("Exposition refuses a family of two types and a series added twice") {
  Exposition metrics;
  metrics.gauge("g", "A gauge.", 1, {{"store", "views"}});
  CHECK_THROWS_AS(metrics.counter("g", "A gauge.", 1, {{"store", "log"}}), std::logic_error);
  CHECK_THROWS_AS(metrics.gauge("g", "A gauge.", 2, {{"store", "views"}}), std::logic_error);
}

TEST_CASE("metric_value prints integers without a fraction and doubles exactly") {
  CHECK(metric_value(42) == "42");
  CHECK(metric_value(0.0005) == "0.0005");
  CHECK(metric_value(1.25) == "1.25");
  CHECK(metric_value(1e18) == "1e+18");
  CHECK(metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
}

// A database double: the property names it was asked for answer their own sizes.
struct FakeDb {
  bool GetIntProperty(const std::string& name, uint64_t* value) {
    if (name == "rocksdb.estimate-live-data-size") *value = 1;
    if (name == "rocksdb.total-sst-files-size") *value = 2;
    if (name == "rocksdb.cur-size-all-mem-tables") *value = 3;
    if (name == "rocksdb.estimate-pending-compaction-bytes") *value = 4;
    return true;
  }
};

TEST_CASE("store_sizes reads the four RocksDB properties, add_store_sizes labels them") {
  FakeDb db;
  StoreSizes sizes = store_sizes(db);
  CHECK(sizes.live_data_bytes == 1);
  CHECK(sizes.sst_files_bytes == 2);
  CHECK(sizes.memtable_bytes == 3);
  CHECK(sizes.pending_compaction_bytes == 4);
  Exposition metrics;
  add_store_sizes(metrics, "views", sizes);
  add_store_sizes(metrics, "log", sizes);
  std::string text = metrics.text();
  CHECK(text.find("contacts_store_memtable_bytes{store=\"views\"} 3\n"
                  "contacts_store_memtable_bytes{store=\"log\"} 3\n") != std::string::npos);
  CHECK(text.find("contacts_store_pending_compaction_bytes{store=\"log\"} 4\n") !=
        std::string::npos);
}

TEST_CASE("add_process_metrics reads this process's CPU, memory and descriptors") {
  Exposition metrics;
  add_process_metrics(metrics);
  std::string text = metrics.text();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_virtual_memory_bytes ", "process_open_fds ", "process_max_fds ",
                           "process_start_time_seconds "})
    CHECK_MESSAGE(text.find(std::string("\n") + name) != std::string::npos, name);
  CHECK(text.find("process_resident_memory_bytes 0\n") == std::string::npos);
}

}  // namespace contacts
