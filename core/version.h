// The version of contacts: `contacts --version`, contacts_build_info on /metrics.
#pragma once

#include <string_view>

namespace contacts {

inline constexpr std::string_view kVersion = "0.24.0";

}  // namespace contacts
