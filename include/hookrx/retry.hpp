// hookrx/retry.hpp: the one retry/backoff policy, shared by the inbox workers and the API client.
//
// Exponential backoff with full-range jitter around the nominal delay, capped, for a bounded number
// of attempts. The random draw is passed in, so tests choose it:
//
//   hookrx::retry_policy p;                               // 8 attempts, 1 s doubling to 5 min, ±20 %
//   auto wait = p.delay_after(3, 0.5);                    // 4 s: attempt 3 failed, draw 0.5 = no jitter
//   bool again = p.should_retry(3);                       // true: 3 < max_attempts
#pragma once

#include <chrono>
#include <functional>

namespace hookrx {

struct retry_policy {
  /// Attempts in all, the first included; after the last one fails the event is dead-lettered.
  int max_attempts = 8;
  std::chrono::milliseconds initial_delay{1000};
  double multiplier = 2.0;
  std::chrono::milliseconds max_delay{std::chrono::minutes(5)};
  /// The delay is scaled by a factor drawn uniformly from [1 - jitter, 1 + jitter].
  double jitter = 0.2;

  /// True when a delivery whose attempt number `attempt` (1-based) failed gets another one.
  [[nodiscard]] bool should_retry(int attempt) const noexcept { return attempt < max_attempts; }

  /// How long to wait after attempt `attempt` (1-based) failed: initial_delay * multiplier^(attempt-1),
  /// jittered by `unit_random` in [0, 1) (0.5 = no jitter), capped at max_delay.
  [[nodiscard]] std::chrono::milliseconds delay_after(int attempt, double unit_random) const noexcept;
};

/// A source of uniform doubles in [0, 1), for jitter. Components take one so tests can fix it.
using random_source = std::function<double()>;

/// A thread-safe random_source seeded from std::random_device.
[[nodiscard]] random_source default_random();

}  // namespace hookrx
