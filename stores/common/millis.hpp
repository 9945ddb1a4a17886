// Private to the SQL store backends: time points stored as integer milliseconds since the epoch,
// with the arithmetic saturating instead of overflowing (a caller may pass a huge retention or
// lease, such as milliseconds::max(), to mean "forever").
//
//   s.bind(4, detail::add_ms(detail::to_ms(clock.now()), retention));   // expires_at
//   entry.lease_until = detail::from_ms(s.integer(5));
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

#include "hookrx/clock.hpp"

namespace hookrx::detail {

[[nodiscard]] inline std::int64_t to_ms(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// Milliseconds beyond what time_point's nanoseconds hold become its max() or min().
[[nodiscard]] inline time_point from_ms(std::int64_t ms) {
  using dur = time_point::duration;
  constexpr auto max_ms = std::chrono::duration_cast<std::chrono::milliseconds>(dur::max()).count();
  constexpr auto min_ms = std::chrono::duration_cast<std::chrono::milliseconds>(dur::min()).count();
  if (ms >= max_ms) return time_point::max();
  if (ms <= min_ms) return time_point::min();
  return time_point(std::chrono::duration_cast<dur>(std::chrono::milliseconds(ms)));
}

[[nodiscard]] inline std::int64_t add_ms(std::int64_t t, std::chrono::milliseconds d) {
  const std::int64_t by = d.count();
  if (by > 0 && t > std::numeric_limits<std::int64_t>::max() - by) return std::numeric_limits<std::int64_t>::max();
  if (by < 0 && t < std::numeric_limits<std::int64_t>::min() - by) return std::numeric_limits<std::int64_t>::min();
  return t + by;
}

}  // namespace hookrx::detail
