// The open-addressed table behind the memory store (stores/memory/src/probe_table.hpp), with home
// slots chosen by hand: the deletion and wrap-around cases that break a naive linear-probing table
// (a probe that stops at the hole an erase left, a run that crosses the end of the array), then a
// random sequence against a std::map with most keys crowded onto a few home slots.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "probe_table.hpp"

namespace {

struct entry {
  std::uint64_t spread = 0;
  int key = 0;  // 0: an empty slot
};
struct entry_policy {
  static bool empty(const entry& e) noexcept { return e.key == 0; }
  static std::uint64_t spread(const entry& e) noexcept { return e.spread; }
};
using table = hookrx::detail::probe_table<entry, entry_policy>;

// The smallest table has 64 slots: home slot k is the spread k << 58 (its top six bits).
constexpr std::uint64_t at_home(std::uint64_t k) { return k << 58; }

const entry* find(const table& t, int key, std::uint64_t spread) {
  return t.find(spread, [key](const entry& e) { return e.key == key; });
}
bool has(const table& t, int key, std::uint64_t spread) { return find(t, key, spread) != nullptr; }
void erase(table& t, int key, std::uint64_t spread) {
  const entry* e = find(t, key, spread);
  REQUIRE(e != nullptr);
  t.erase(e);
}

}  // namespace

TEST_SUITE("probe table") {
  TEST_CASE("a key behind an erased one in its run is still found") {
    table t;
    for (int key = 1; key <= 4; ++key) t.insert(entry{at_home(5), key});  // slots 5, 6, 7, 8
    t.insert(entry{at_home(6), 10});                                      // pushed to slot 9
    erase(t, 2, at_home(5));  // from the middle of the run: a plain hole would end the probes there
    CHECK(has(t, 1, at_home(5)));
    CHECK(has(t, 3, at_home(5)));
    CHECK(has(t, 4, at_home(5)));
    CHECK(has(t, 10, at_home(6)));
    CHECK_FALSE(has(t, 2, at_home(5)));
    erase(t, 1, at_home(5));  // from the start of the run
    CHECK(has(t, 4, at_home(5)));
    CHECK(has(t, 10, at_home(6)));
    CHECK(t.size() == 3);
  }

  TEST_CASE("an entry shifted away from its home goes back to it when the run before it shrinks") {
    table t;
    t.insert(entry{at_home(5), 1});
    t.insert(entry{at_home(5), 2});
    t.insert(entry{at_home(6), 3});  // slot 7
    t.insert(entry{at_home(8), 4});  // slot 8: at home, so a shift stops before it
    erase(t, 1, at_home(5));
    erase(t, 2, at_home(5));
    CHECK(has(t, 3, at_home(6)));
    CHECK(has(t, 4, at_home(8)));
    t.insert(entry{at_home(7), 5});  // the run 6..8 must still be ordered by home for this to work
    CHECK(has(t, 5, at_home(7)));
    CHECK(has(t, 3, at_home(6)));
    CHECK(has(t, 4, at_home(8)));
  }

  TEST_CASE("runs that wrap past the end of the array are found, shifted and shrunk") {
    table t;
    for (int key = 1; key <= 4; ++key) t.insert(entry{at_home(62), key});  // slots 62, 63, 0, 1
    t.insert(entry{at_home(0), 10});                                       // slot 2
    t.insert(entry{at_home(63), 11});  // belongs after the home-62 keys: everything from slot 0 moves on
    for (int key = 1; key <= 4; ++key) CHECK(has(t, key, at_home(62)));
    CHECK(has(t, 10, at_home(0)));
    CHECK(has(t, 11, at_home(63)));
    CHECK_FALSE(has(t, 5, at_home(62)));  // absent keys of each home in the run
    CHECK_FALSE(has(t, 12, at_home(63)));
    CHECK_FALSE(has(t, 13, at_home(0)));
    CHECK_FALSE(has(t, 14, at_home(1)));
    erase(t, 1, at_home(62));  // pulls the rest back across the end of the array
    erase(t, 3, at_home(62));
    CHECK(has(t, 2, at_home(62)));
    CHECK(has(t, 4, at_home(62)));
    CHECK(has(t, 10, at_home(0)));
    CHECK(has(t, 11, at_home(63)));
    CHECK(t.size() == 4);
  }

  TEST_CASE("erase_if removes what it accepts and keeps the rest findable, across a wrapped run") {
    table t;
    std::map<int, std::uint64_t> kept;
    int key = 0;
    const std::uint64_t homes[] = {60, 61, 62, 63, 0, 1, 30, 30, 30, 31};  // a run from 60 to 13, and one at 30
    for (std::uint64_t home : homes) {
      for (int i = 0; i < 3; ++i) {
        ++key;
        t.insert(entry{at_home(home), key});
        if (key % 3 != 0) kept[key] = at_home(home);
      }
    }
    const std::size_t gone = t.erase_if([](const entry& e) { return e.key % 3 == 0; });
    CHECK(gone == 10);
    CHECK(t.size() == kept.size());
    for (const auto& [k, spread] : kept) CHECK(has(t, k, spread));
    for (int k = 3; k <= key; k += 3) CHECK_FALSE(has(t, k, at_home(0)));
    std::size_t seen = 0;
    t.for_each([&](const entry& e) {
      CHECK(kept.count(e.key) == 1);
      ++seen;
    });
    CHECK(seen == kept.size());
  }

  TEST_CASE("a table that grows keeps every entry findable") {
    table t;
    std::mt19937_64 rng(7);  // NOLINT(cert-msc32-c,cert-msc51-cpp): fixed, so a failure replays
    std::vector<std::uint64_t> spreads;
    for (int key = 1; key <= 20'000; ++key) {
      spreads.push_back(rng());
      t.insert(entry{spreads.back(), key});
    }
    CHECK(t.size() == spreads.size());
    int missing = 0;
    for (int key = 1; key <= 20'000; ++key) missing += has(t, key, spreads[static_cast<std::size_t>(key - 1)]) ? 0 : 1;
    CHECK(missing == 0);
    CHECK_FALSE(has(t, 20'001, spreads[0]));
  }

  // Most keys share a few home slots (the top bits), some of them at the end of the array, so runs
  // are long, interleave and wrap around as the table grows from 64 slots; erases hit every part
  // of a run. Checked against a std::map after every step.
  TEST_CASE("thousands of random inserts and erases on crowded home slots agree with a map") {
    table t;
    std::map<int, std::uint64_t> model;
    std::mt19937_64 rng(20260620);  // NOLINT(cert-msc32-c,cert-msc51-cpp): fixed, so a failure replays
    const auto crowded_spread = [&] {
      // One of 8 homes spread over the array (the last one at its very end), then random low bits
      // that order keys within a home once the table is larger.
      static constexpr std::uint64_t tops[] = {0, 1, 2, 17, 40, 41, 62, 63};
      return (tops[rng() % 8] << 58) | (rng() >> 6 & (rng() % 4 == 0 ? ~std::uint64_t{0} >> 6 : 0xFF));
    };
    int next_key = 1;
    for (int step = 0; step < 20'000; ++step) {
      INFO("step ", step);
      const auto op = rng() % 100;
      if (op < 55 || model.empty()) {
        const std::uint64_t spread = crowded_spread();
        t.insert(entry{spread, next_key});
        model[next_key++] = spread;
      } else if (op < 95) {
        auto it = model.begin();
        std::advance(it, static_cast<long>(rng() % model.size()));
        erase(t, it->first, it->second);
        REQUIRE_FALSE(has(t, it->first, it->second));
        model.erase(it);
      } else {
        const int divisor = 2 + static_cast<int>(rng() % 5);
        std::size_t expected = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (it->first % divisor == 0) {
            it = model.erase(it);
            ++expected;
          } else {
            ++it;
          }
        }
        REQUIRE(t.erase_if([divisor](const entry& e) { return e.key % divisor == 0; }) == expected);
      }
      REQUIRE(t.size() == model.size());
      if (step % 97 == 0) {
        for (const auto& [k, spread] : model) REQUIRE(has(t, k, spread));
        REQUIRE_FALSE(has(t, next_key, crowded_spread()));
      }
    }
    for (const auto& [k, spread] : model) CHECK(has(t, k, spread));
  }
}
