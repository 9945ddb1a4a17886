// hookrx/clock.hpp: the time every component that waits, retries or expires reads.
//
// Stores, the inbox and the poller take a clock instead of calling system_clock directly, so a test
// can move time forward instead of sleeping:
//
//   auto clock = std::make_shared<hookrx::manual_clock>();
//   auto store = hookrx::memory_store::create({}, clock);
//   clock->advance(std::chrono::hours(24 * 8));          // past the retention: the key is forgotten
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

namespace hookrx {

/// Wall-clock time: what stores persist and compare (leases, retention, next attempt).
using time_point = std::chrono::system_clock::time_point;

class clock {
 public:
  virtual ~clock() = default;
  [[nodiscard]] virtual time_point now() const noexcept = 0;
};

/// std::chrono::system_clock.
[[nodiscard]] std::shared_ptr<const clock> system_clock();

/// A clock that moves only when told to; safe to read and move from any thread.
class manual_clock final : public clock {
 public:
  explicit manual_clock(time_point start = time_point(std::chrono::hours(24 * 365 * 56)))  // 2026
      : now_(start.time_since_epoch().count()) {}
  [[nodiscard]] time_point now() const noexcept override {
    return time_point(time_point::duration(now_.load(std::memory_order_acquire)));
  }
  void advance(std::chrono::nanoseconds by) noexcept {
    now_.fetch_add(std::chrono::duration_cast<time_point::duration>(by).count(), std::memory_order_acq_rel);
  }
  void set(time_point t) noexcept { now_.store(t.time_since_epoch().count(), std::memory_order_release); }

 private:
  std::atomic<time_point::rep> now_;
};

}  // namespace hookrx
