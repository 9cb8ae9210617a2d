#include "bus/log.h"

#include "core/text.h"

namespace contacts {

Partition partition_for(std::string_view key, int32_t partitions) {
  return Partition(
      static_cast<int32_t>((murmur2(key) & 0x7fffffff) % static_cast<uint32_t>(partitions)));
}

}  // namespace contacts
