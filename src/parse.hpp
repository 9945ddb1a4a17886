// Private: one parser per provider, behind hookrx::parse_event().
#pragma once

#include <string_view>

#include "hookrx/events.hpp"

namespace hookrx::detail {

[[nodiscard]] result<event> parse_perfectparser(std::string_view body);
[[nodiscard]] result<event> parse_parashift(std::string_view body);

}  // namespace hookrx::detail
