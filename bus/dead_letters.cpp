#include "bus/dead_letters.h"

#include <charconv>

namespace contacts {

std::string position_name(LogPosition position) {
  return std::to_string(position.partition.value) + "/" + std::to_string(position.offset.value);
}

std::optional<LogPosition> parse_position(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  int32_t partition = 0;
  int64_t offset = 0;
  auto whole = [](std::string_view part, auto& out) {
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return error == std::errc() && end == part.data() + part.size() && !part.empty() && out >= 0;
  };
  if (!whole(text.substr(0, slash), partition) || !whole(text.substr(slash + 1), offset))
    return std::nullopt;
  return LogPosition{Partition(partition), Offset(offset)};
}

}  // namespace contacts
