// Test support for the Log's unit tests (bus/*_test.cpp only).
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bus/log.h"

namespace contacts::log_testing {

// The values of `partition` read from `from` in reads of at most `step` records each, checking
// that each read is consecutive from where it began and no longer than asked.
inline std::vector<std::string> read_all(Log& log, Partition partition, int64_t from, size_t step) {
  std::vector<std::string> values;
  for (int64_t at = from;;) {
    auto entries = log.read(partition, Offset(at), step);
    REQUIRE(entries.ok());
    if (entries->empty()) return values;
    CHECK(entries->size() <= step);
    for (const auto& e : *entries) {
      CHECK(e.offset.value == at);
      CHECK(e.partition.value == partition.value);
      values.push_back(e.value);
      ++at;
    }
  }
}

}  // namespace contacts::log_testing
