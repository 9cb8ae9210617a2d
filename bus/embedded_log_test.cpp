// The embedded log: positions of an append, order within a partition, reopening.
#include "bus/embedded_log.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace contacts {
namespace {

TEST_CASE("an append interleaving partitions gives each record the next offset of its partition, in record order") {
  TempDir dir("embedded_log_test");
  constexpr int32_t kPartitions = 4;
  std::map<int32_t, std::vector<std::string>> expected;  // partition -> values in offset order
  std::vector<std::string> all;
  {
    auto log = EmbeddedLog::open(dir.path() + "/log", kPartitions);
    REQUIRE(log.ok());
    for (int round = 0; round < 2; ++round) {
      std::vector<LogRecord> records;
      for (int i = 0; i < 50; ++i) {
        std::string key = std::to_string(i % 7 + 1);
        records.push_back({key, "r" + std::to_string(round) + "-" + std::to_string(i)});
      }
      auto positions = (*log)->append(records);
      REQUIRE(positions.ok());
      REQUIRE(positions->size() == records.size());
      for (size_t i = 0; i < records.size(); ++i) {
        const LogPosition& at = (*positions)[i];
        CHECK(at.partition.value == partition_for(records[i].key, kPartitions).value);
        auto& values = expected[at.partition.value];
        CHECK(at.offset.value == static_cast<int64_t>(values.size()));  // the partition's next offset
        values.push_back(records[i].value);
      }
    }
  }
  // Reopened: each partition reads back its records in the order they were appended.
  auto log = EmbeddedLog::open(dir.path() + "/log", kPartitions);
  REQUIRE(log.ok());
  CHECK(expected.size() > 1);
  for (const auto& [p, values] : expected) {
    CHECK((*log)->end_offset(Partition(p)).value == static_cast<int64_t>(values.size()));
    auto entries = (*log)->read(Partition(p), Offset(0), 1000);
    REQUIRE(entries.ok());
    std::vector<std::string> read;
    for (const auto& e : *entries) {
      CHECK(e.offset.value == static_cast<int64_t>(read.size()));
      CHECK(partition_for(e.key, kPartitions).value == p);
      read.push_back(e.value);
    }
    CHECK(read == values);
  }
}

}  // namespace
}  // namespace contacts
