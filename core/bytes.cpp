#include "core/bytes.h"

namespace contacts::bytes {

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xFF) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(64, '\xFF');
}

}  // namespace contacts::bytes
