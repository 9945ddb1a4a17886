// The per-key rate budget: a sliding-window log on our clock (the guarantee), bent by what the
// server says (Remaining, Reset moved onto our clock by the Date skew).
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "crypto.hpp"
#include "hookrx/api.hpp"

namespace hookrx {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
constexpr std::chrono::seconds window{60};

milliseconds ceil_ms(time_point::duration d) {
  const auto ms = std::chrono::ceil<milliseconds>(d);
  return ms.count() > 0 ? ms : milliseconds(1);
}

class budget_impl final : public rate_budget {
 public:
  explicit budget_impl(rate_budget_options o) : o_(std::move(o)) {
    if (!o_.time) o_.time = system_clock();
    if (!o_.random) o_.random = default_random();
    if (!o_.wait) o_.wait = sleeping_wait();
    o_.requests_per_minute = std::max(1, o_.requests_per_minute);
    o_.submissions_per_minute = std::clamp(o_.submissions_per_minute, 1, o_.requests_per_minute);
    o_.slow_down_below = std::max(0, o_.slow_down_below);
  }

  api_result<milliseconds> acquire(call_kind kind, time_point deadline) override {
    milliseconds waited{0};
    for (;;) {
      time_point now;
      time_point go;
      {
        std::lock_guard<std::mutex> lock(mu_);
        now = o_.time->now();
        go = earliest_locked(kind, now);
        if (go <= now) {
          sent_.push_back(now);
          if (kind == call_kind::submit) submits_.push_back(now);
          ++sent_since_observation_;
          return waited;
        }
      }
      if (go > deadline) {
        api_error e{api_errc::deadline_exceeded, 0, {}, {}, 0};
        e.detail = "rate budget: the next request may go in " +
                   std::to_string(duration_cast<milliseconds>(go - now).count()) + " ms, after the call's deadline";
        return e;
      }
      const milliseconds d = ceil_ms(go - now);
      if (!o_.wait(d)) return api_error{api_errc::cancelled, 0, {}, "rate budget wait abandoned", 0};
      waited += d;
    }
  }

  void observe(const rate_observation& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (a.server_date) {
      // Date has a resolution of one second: the skew is known to within a second, which the
      // jitter added to every wait for Reset covers.
      skew_ = duration_cast<milliseconds>(a.received_at - *a.server_date);
    }
    std::optional<time_point> reset;
    if (a.reset_unix)
      reset = time_point(duration_cast<time_point::duration>(std::chrono::seconds(*a.reset_unix))) + skew_;
    if (a.limit) server_limit_ = a.limit;
    if (a.remaining) {
      server_remaining_ = a.remaining;
      server_reset_ = reset;
      sent_since_observation_ = 0;
    }
    const time_point now = o_.time->now();
    if (a.http_status == 429) {
      block_until_locked(std::max(reset.value_or(now), now));
    } else if (a.remaining && reset && usable_locked() <= 0) {
      block_until_locked(*reset);  // the server's window is spent for us: wait for it, not for a 429
    }
  }

  state snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    const time_point now = o_.time->now();
    state s;
    s.used_in_window = count_since(sent_, now - window);
    s.submits_in_window = count_since(submits_, now - window);
    s.server_remaining = server_remaining_;
    s.server_reset = server_reset_;
    s.blocked_until = blocked_until_;
    s.skew = skew_;
    return s;
  }

  const rate_budget_options& options() const noexcept override { return o_; }

 private:
  static int count_since(const std::deque<time_point>& q, time_point from) {
    return static_cast<int>(std::count_if(q.begin(), q.end(), [&](time_point t) { return t > from; }));
  }

  void block_until_locked(time_point t) {
    const double draw = std::clamp(o_.random(), 0.0, 1.0);
    const auto jitter =
        milliseconds(static_cast<milliseconds::rep>(draw * static_cast<double>(o_.reset_jitter.count())));
    blocked_until_ = std::max(blocked_until_, t + jitter);
  }

  // What the server's Remaining leaves for us: minus the vendor's share we keep free for the
  // customer (Limit - our requests_per_minute), minus what we sent since it was counted.
  [[nodiscard]] std::int64_t usable_locked() const {
    if (!server_remaining_) return o_.requests_per_minute;
    const std::int64_t headroom =
        server_limit_ ? std::max<std::int64_t>(0, *server_limit_ - o_.requests_per_minute) : 0;
    return *server_remaining_ - headroom - sent_since_observation_;
  }

  time_point earliest_locked(call_kind kind, time_point now) {
    const time_point horizon = now - window;
    while (!sent_.empty() && sent_.front() <= horizon) sent_.pop_front();
    while (!submits_.empty() && submits_.front() <= horizon) submits_.pop_front();
    time_point go = std::max(now, blocked_until_);
    const auto full = [&](const std::deque<time_point>& q, int limit) {
      if (static_cast<int>(q.size()) >= limit)
        go = std::max(go, q[q.size() - static_cast<std::size_t>(limit)] + window);
    };
    full(sent_, o_.requests_per_minute);
    if (kind == call_kind::submit) full(submits_, o_.submissions_per_minute);
    if (server_reset_ && *server_reset_ <= now) {
      // The server's window has ended: what it said no longer holds.
      server_remaining_.reset();
      server_reset_.reset();
      sent_since_observation_ = 0;
    }
    if (server_remaining_ && server_reset_) {
      const std::int64_t usable = usable_locked();
      if (usable <= 0) {
        go = std::max(go, *server_reset_);
      } else if (usable <= std::min(o_.slow_down_below, o_.requests_per_minute / 4) && !sent_.empty()) {
        // Spread what is left evenly until Reset instead of spending it at once and meeting a 429.
        const auto spacing = (*server_reset_ - now) / (usable + 1);
        go = std::max(go, sent_.back() + spacing);
      }
    }
    return go;
  }

  rate_budget_options o_;
  mutable std::mutex mu_;
  std::deque<time_point> sent_;
  std::deque<time_point> submits_;
  std::optional<std::int64_t> server_limit_;
  std::optional<std::int64_t> server_remaining_;
  std::optional<time_point> server_reset_;
  std::int64_t sent_since_observation_ = 0;
  time_point blocked_until_{};
  milliseconds skew_{0};
};

}  // namespace

wait_function sleeping_wait() {
  return [](milliseconds d) {
    std::this_thread::sleep_for(d);
    return true;
  };
}

std::shared_ptr<rate_budget> rate_budget::create(rate_budget_options options) {
  return std::make_shared<budget_impl>(std::move(options));
}

std::shared_ptr<rate_budget> rate_budget::shared_for(std::string_view api_key, rate_budget_options options) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<rate_budget>> registry;
  // Keyed by a digest: the registry never holds the key itself.
  const std::string id = detail::sha256_hex(api_key);
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = registry.begin(); it != registry.end();)
    it = it->second.expired() ? registry.erase(it) : std::next(it);
  if (auto existing = registry[id].lock()) return existing;
  auto created = create(std::move(options));
  registry[id] = created;
  return created;
}

}  // namespace hookrx
