#include "hookrx/retry.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>

namespace hookrx {

std::chrono::milliseconds retry_policy::delay_after(int attempt, double unit_random) const noexcept {
  const double exponent = std::max(0, attempt - 1);
  const double nominal = static_cast<double>(initial_delay.count()) * std::pow(multiplier, exponent);
  const double spread = 1.0 + jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
  const double capped = std::min(nominal * spread, static_cast<double>(max_delay.count()));
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(std::max(0.0, capped)));
}

random_source default_random() {
  return [] {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  };
}

}  // namespace hookrx
