#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "hookrx/api.hpp"

using namespace std::chrono_literals;
using hookrx::api_errc;
using hookrx::call_kind;
using hookrx::rate_budget;
using hookrx::rate_observation;
using hookrx::time_point;
using std::chrono::milliseconds;

namespace {

// A budget on a manual clock: every wait advances the clock instead of sleeping.
struct manual_budget {
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::vector<milliseconds> waits;
  double draw = 0.5;
  std::shared_ptr<rate_budget> budget;

  explicit manual_budget(int rpm = 120, int submits = 20) {
    hookrx::rate_budget_options o;
    o.requests_per_minute = rpm;
    o.submissions_per_minute = submits;
    o.time = clock;
    o.random = [this] { return draw; };
    o.wait = [this](milliseconds d) {
      waits.push_back(d);
      clock->advance(d);
      return true;
    };
    budget = rate_budget::create(o);
  }
  [[nodiscard]] time_point far() const { return clock->now() + 1h; }
  milliseconds acquire(call_kind k = call_kind::read) {
    auto r = budget->acquire(k, far());
    REQUIRE(r);
    return *r;
  }
  [[nodiscard]] std::int64_t unix_now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock->now().time_since_epoch()).count();
  }
};

std::size_t max_in_window(std::vector<time_point> times, std::chrono::seconds window) {
  std::sort(times.begin(), times.end());
  std::size_t best = 0;
  std::size_t lo = 0;
  for (std::size_t hi = 0; hi < times.size(); ++hi) {
    while (times[hi] - times[lo] >= window) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}

}  // namespace

TEST_SUITE("rate budget") {
  TEST_CASE("no sliding 60 s window ever holds more requests than the budget") {
    manual_budget b(120);
    std::vector<time_point> sent;
    for (int i = 0; i < 400; ++i) {
      (void)b.acquire();
      sent.push_back(b.clock->now());
      b.clock->advance(milliseconds(37 * (i % 5)));  // uneven traffic
    }
    CHECK(max_in_window(sent, 60s) == 120);
    CHECK_FALSE(b.waits.empty());
  }

  TEST_CASE("the first requests of a fresh budget go without waiting") {
    manual_budget b(120);
    for (int i = 0; i < 120; ++i) CHECK(b.acquire() == milliseconds(0));
    CHECK(b.waits.empty());
    CHECK(b.acquire() >= 59s);  // the 121st waits for the first to leave the window
  }

  TEST_CASE("submissions have their own tighter bucket inside the budget") {
    manual_budget b(120, 20);
    std::vector<time_point> submits;
    for (int i = 0; i < 50; ++i) {
      (void)b.acquire(call_kind::submit);
      submits.push_back(b.clock->now());
    }
    CHECK(max_in_window(submits, 60s) == 20);
    // Reads are not held back by the submit bucket beyond the shared count.
    const auto before = b.clock->now();
    (void)b.acquire(call_kind::read);
    CHECK(b.clock->now() == before);
  }

  TEST_CASE("a 429 waits until Reset plus jitter, Reset read as absolute time on a skewed server clock") {
    manual_budget b;
    b.draw = 1.0;  // the largest jitter: 1 s
    (void)b.acquire();
    // The server's clock is 30 s behind ours; its Reset is 10 s after its own now.
    const std::int64_t server_now = b.unix_now() - 30;
    rate_observation o;
    o.http_status = 429;
    o.limit = 150;
    o.remaining = 0;
    o.reset_unix = server_now + 10;
    o.server_date = time_point(std::chrono::seconds(server_now));
    o.received_at = b.clock->now();
    b.budget->observe(o);
    const time_point start = b.clock->now();
    (void)b.acquire();
    const auto waited = b.clock->now() - start;
    // Corrected for skew: 10 s (+ up to 1 s jitter), not -20 s (no wait) nor 40 s.
    CHECK(waited >= 10s);
    CHECK(waited <= 11s + 1ms);
    CHECK(b.budget->snapshot().skew == milliseconds(30000));
  }

  TEST_CASE("a server clock ahead of ours does not make a 429 wait longer than its window") {
    manual_budget b;
    b.draw = 0.0;                                         // no jitter
    const std::int64_t server_now = b.unix_now() + 3600;  // an hour ahead
    rate_observation o;
    o.http_status = 429;
    o.remaining = 0;
    o.reset_unix = server_now + 5;
    o.server_date = time_point(std::chrono::seconds(server_now));
    o.received_at = b.clock->now();
    b.budget->observe(o);
    CHECK(b.acquire() == 5s);
  }

  TEST_CASE("a Remaining that leaves us nothing waits for Reset before any 429") {
    manual_budget b(120);
    b.draw = 0.0;
    rate_observation o;
    o.http_status = 200;
    o.limit = 150;
    o.remaining = 30;  // the customer's headroom (150 - 120) is all that is left
    o.reset_unix = b.unix_now() + 20;
    o.server_date = time_point(std::chrono::seconds(b.unix_now()));
    o.received_at = b.clock->now();
    b.budget->observe(o);
    CHECK(b.acquire() == 20s);
  }

  TEST_CASE("a low Remaining spreads the calls left evenly until Reset") {
    manual_budget b(120);
    b.draw = 0.0;
    (void)b.acquire();
    const time_point t0 = b.clock->now();
    rate_observation o;
    o.http_status = 200;
    o.limit = 150;
    o.remaining = 35;  // 5 usable after the 30 kept for the customer: below the threshold of 10
    o.reset_unix = b.unix_now() + 30;
    o.server_date = time_point(std::chrono::seconds(b.unix_now()));
    o.received_at = b.clock->now();
    b.budget->observe(o);
    std::vector<time_point> sent;
    for (int i = 0; i < 4; ++i) {
      (void)b.acquire();
      sent.push_back(b.clock->now());
    }
    // 30 s over 6 slots: 5 s apart at first, and no call goes at once.
    CHECK(sent[0] - t0 >= 4s);
    for (std::size_t i = 1; i < sent.size(); ++i) CHECK(sent[i] - sent[i - 1] >= 4s);
    CHECK(sent.back() - t0 <= 30s);
    // With plenty left, nothing is spaced.
    manual_budget c(120);
    o.remaining = 140;
    o.received_at = c.clock->now();
    o.reset_unix = c.unix_now() + 30;
    c.budget->observe(o);
    (void)c.acquire();
    CHECK(c.acquire() == 0ms);
  }

  TEST_CASE("what the server said is forgotten once its window has passed") {
    manual_budget b;
    rate_observation o;
    o.http_status = 200;
    o.limit = 150;
    o.remaining = 31;
    o.reset_unix = b.unix_now() + 10;
    o.received_at = b.clock->now();
    b.budget->observe(o);
    b.clock->advance(11s);
    CHECK(b.acquire() == 0ms);
    CHECK_FALSE(b.budget->snapshot().server_remaining);
  }

  TEST_CASE("a wait that would end after the deadline fails at once without waiting") {
    manual_budget b(1);
    (void)b.acquire();
    const time_point before = b.clock->now();
    auto r = b.budget->acquire(call_kind::read, before + 10s);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::deadline_exceeded);
    CHECK(b.clock->now() == before);
    CHECK(b.waits.empty());
  }

  TEST_CASE("a wait function that reports a shutdown cancels the wait") {
    auto clock = std::make_shared<hookrx::manual_clock>();
    hookrx::rate_budget_options o;
    o.requests_per_minute = 1;
    o.time = clock;
    o.wait = [](milliseconds) { return false; };
    auto budget = rate_budget::create(o);
    REQUIRE(budget->acquire(call_kind::read, clock->now() + 1h));
    auto r = budget->acquire(call_kind::read, clock->now() + 1h);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::cancelled);
  }

  TEST_CASE("every client of one key shares one budget, other keys have their own") {
    hookrx::rate_budget_options o;
    auto a = rate_budget::shared_for("pp_live_key_one", o);
    auto b = rate_budget::shared_for("pp_live_key_one", o);
    auto c = rate_budget::shared_for("pp_live_key_two", o);
    CHECK(a.get() == b.get());
    CHECK(a.get() != c.get());
  }
}
