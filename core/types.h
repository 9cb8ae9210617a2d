// Strong id types shared by every library: a partition is never passed as an offset.
// Ids are integers below 2^53 so that JSON clients read them exactly.
#pragma once

#include <compare>
#include <cstdint>
#include <utility>

namespace contacts {

template <typename Tag>
struct StrongId {
  int64_t value = 0;
  constexpr StrongId() = default;
  constexpr explicit StrongId(int64_t v) : value(v) {}
  auto operator<=>(const StrongId&) const = default;
};

using WorkspaceId = StrongId<struct WorkspaceTag>;
using ContactId = StrongId<struct ContactTag>;
using UserId = StrongId<struct UserTag>;

struct Partition {
  int32_t value = 0;
  constexpr Partition() = default;
  constexpr explicit Partition(int32_t v) : value(v) {}
  auto operator<=>(const Partition&) const = default;
};

struct Offset {
  int64_t value = 0;
  constexpr Offset() = default;
  constexpr explicit Offset(int64_t v) : value(v) {}
  auto operator<=>(const Offset&) const = default;
};

constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// The id of a row created by the record at (partition, offset) of a log with
// `partitions` partitions. Unique per log position, identical on every replay.
constexpr int64_t id_from_position(Partition partition, Offset offset, int32_t partitions) {
  return offset.value * partitions + partition.value + 1;
}

// The log position an id (>= 1) came from: the inverse of id_from_position.
constexpr std::pair<Partition, Offset> position_from_id(int64_t id, int32_t partitions) {
  return {Partition(static_cast<int32_t>((id - 1) % partitions)), Offset((id - 1) / partitions)};
}

}  // namespace contacts
