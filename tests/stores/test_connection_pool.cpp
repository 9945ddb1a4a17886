// stores/common/connection_pool.hpp, the pool under the PostgreSQL and Redis backends: its rules on
// reconnecting, on the fail-fast pause, and on waiting. The backends' own suites run it against
// real servers; here a scripted connection makes each rule deterministic.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "connection_pool.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// What the next connect() of any connection does, and how often connect() ran.
struct script {
  bool refuse = false;
  int connects = 0;
};

struct fake_settings {
  std::chrono::milliseconds timeout{1000};
  script* plan = nullptr;
};

class fake_connection {
 public:
  explicit fake_connection(const fake_settings& s) : settings_(s) {}
  [[nodiscard]] bool healthy() const noexcept { return up_; }
  [[nodiscard]] hookrx::status connect(clock_type::time_point until) {
    ++settings_.plan->connects;
    if (clock_type::now() >= until) return hookrx::error(hookrx::errc::store_unavailable, "fake: connect timed out");
    if (settings_.plan->refuse) return hookrx::error(hookrx::errc::store_unavailable, "fake: connection refused");
    up_ = true;
    return {};
  }
  void break_it() noexcept { up_ = false; }

 private:
  const fake_settings& settings_;
  bool up_ = false;
};

using pool = hookrx::detail::connection_pool<fake_connection, fake_settings>;

}  // namespace

TEST_SUITE("connection pool") {
  TEST_CASE("a lease connects a connection that is not up, and a healthy one is reused without connecting") {
    script plan;
    pool p(fake_settings{1000ms, &plan}, 1, "fake: ");
    {
      auto l = p.acquire(clock_type::now() + 1s);
      REQUIRE(l);
    }
    CHECK(plan.connects == 1);
    {
      auto l = p.acquire(clock_type::now() + 1s);
      REQUIRE(l);
    }
    CHECK(plan.connects == 1);
  }

  TEST_CASE("after a refused connect, leases fail at once with that error instead of dialing again") {
    script plan;
    plan.refuse = true;
    pool p(fake_settings{1000ms, &plan}, 2, "fake: ");
    auto first = p.acquire(clock_type::now() + 1s);
    REQUIRE_FALSE(first);
    CHECK(first.error().detail() == "fake: connection refused");
    plan.refuse = false;  // the server is back, but the pause is not over
    auto second = p.acquire(clock_type::now() + 1s);
    REQUIRE_FALSE(second);
    CHECK(second.error().code() == hookrx::errc::store_unavailable);
    CHECK(second.error().detail() == "fake: connection refused");
    CHECK(plan.connects == 1);
  }

  TEST_CASE("a connect cut short by the caller's own deadline does not make the next caller fail") {
    script plan;
    pool p(fake_settings{1000ms, &plan}, 1, "fake: ");
    auto late = p.acquire(clock_type::now() - 1ms);  // no time left: nothing is known of the server
    // The connection is free, so the lease is taken; its connect fails on the spent deadline.
    REQUIRE_FALSE(late);
    CHECK(late.error().detail() == "fake: connect timed out");
    auto next = p.acquire(clock_type::now() + 1s);
    REQUIRE(next);
    CHECK(plan.connects == 2);
  }

  TEST_CASE("with every connection leased, a caller fails at its deadline saying none was free") {
    script plan;
    pool p(fake_settings{50ms, &plan}, 1, "fake: ");
    auto held = p.acquire(clock_type::now() + 1s);
    REQUIRE(held);
    const auto start = clock_type::now();
    auto waiting = p.acquire(start + 50ms);
    REQUIRE_FALSE(waiting);
    CHECK(waiting.error().detail() == "fake: no connection free within 50 ms");
    CHECK(clock_type::now() - start >= 50ms);
  }
}
