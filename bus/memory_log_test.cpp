// The memory log beyond the shared Log contract (log_contract_test.cpp): its bounds and what it
// does with calls the contract leaves open.
#include "bus/memory_log.h"

#include <doctest/doctest.h>

#include <stdexcept>

namespace contacts {
namespace {

TEST_CASE("a memory log refuses a partition count outside 1..kMaxMemoryLogPartitions") {
  CHECK_THROWS_AS(MemoryLog(0), std::invalid_argument);
  CHECK_THROWS_AS(MemoryLog(-1), std::invalid_argument);
  CHECK_THROWS_AS(MemoryLog(kMaxMemoryLogPartitions + 1), std::invalid_argument);
  CHECK(MemoryLog(1).partitions() == 1);
  CHECK(MemoryLog(kMaxMemoryLogPartitions).partitions() == kMaxMemoryLogPartitions);
}

TEST_CASE(
    "a memory log answers a read of a partition it does not have with kInvalid, and its end with "
    "0") {
  MemoryLog log(2);
  REQUIRE(log.append({{"1", "a"}, {"2", "b"}, {"3", "c"}}).ok());
  for (int32_t missing : {-1, 2, 100}) {
    auto entries = log.read(Partition(missing), Offset(0), 10);
    REQUIRE_FALSE(entries.ok());
    CHECK(entries.status().code() == Code::kInvalid);
    CHECK(entries.status().message() ==
          "read: the log has no partition " + std::to_string(missing));
    CHECK(log.end_offset(Partition(missing)).value == 0);
  }
}

TEST_CASE("an empty append to a memory log appends nothing and does not count as an append") {
  MemoryLog log(2);
  auto positions = log.append({});
  REQUIRE(positions.ok());
  CHECK(positions->empty());
  CHECK(log.append_count() == 0);
  CHECK(log.wait_for_append(0, std::chrono::milliseconds(1)) == 0);
  CHECK(log.end_offsets() == std::vector<Offset>(2, Offset(0)));
}

TEST_CASE("a memory log takes many small appends and many records in one, in order") {
  MemoryLog log(1);
  for (int i = 0; i < 20000; ++i) REQUIRE(log.append({{"1", std::to_string(i)}}).ok());
  std::vector<LogRecord> many(50000, LogRecord{"1", "m"});
  auto positions = log.append(many);
  REQUIRE(positions.ok());
  CHECK(positions->front().offset.value == 20000);
  CHECK(positions->back().offset.value == 69999);
  auto entries = log.read(Partition(0), Offset(19999), 2);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 2);
  CHECK((*entries)[0].value == "19999");
  CHECK((*entries)[1].value == "m");
}

}  // namespace
}  // namespace contacts
