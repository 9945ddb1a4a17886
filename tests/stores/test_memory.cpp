// The in-memory store: the shared conformance suite, plus what only this store has (a capacity,
// eviction of done keys when full, backpressure, and a memory cost per retained key).
#include <doctest/doctest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "hookrx/memory_store.hpp"

struct store_fixture {
  static constexpr const char* backend = "memory";
  static constexpr bool offers_leased = true;  // offer_leased() leases; the suite requires it
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::memory_store> store = hookrx::memory_store::create({}, clock);
  std::shared_ptr<hookrx::dedup_store> dedup = store;
  std::shared_ptr<hookrx::inbox_store> inbox = store;
  std::shared_ptr<hookrx::poll_store> poll = store;
};

#define HOOKRX_STORE_SUITE "memory store conformance"
#include "conformance_cases.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HOOKRX_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define HOOKRX_TEST_SANITIZED 1
#endif
#endif

namespace {

using hookrx_conformance::claim_state_of;
using hookrx_conformance::lease_one;
using hookrx_conformance::make_record;
using hookrx_conformance::must_claim;
using hookrx_conformance::must_complete;
using hookrx_conformance::must_get;
using hookrx_conformance::must_lease;
using hookrx_conformance::must_list;
using hookrx_conformance::must_offer;
using hookrx_conformance::outcome;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A memory store of `capacity` keys on a manual clock.
struct small_store {
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::memory_store> store;
  explicit small_store(std::size_t capacity) {
    hookrx::memory_store_options options;
    options.capacity = capacity;
    store = hookrx::memory_store::create(options, clock);
  }
};

// Random claims, completes, releases, purges and steps of time over `keys` keys, checked after every
// step against a model of the dedup contract. With `exact_capacity`, the store is small enough to
// be full most of the time and done keys are purged as soon as they expire, so the model can say
// which key each eviction takes (retention ends are kept distinct) and when expired claims are
// swept; otherwise the store never fills, and a done key past its retention may or may not still be
// held (complete() purges a few at a time, shard by shard), which only size() can tell.
void check_dedup_against_model(std::size_t capacity, bool exact_capacity, int steps, int keys, unsigned seed) {
  small_store s(capacity);
  auto& store = *s.store;
  const auto now = [&] { return s.clock->now(); };
  struct held_key {
    std::uint64_t token = 0;  // 0: done
    hookrx::time_point until{};
  };
  std::map<std::string, held_key> held;
  std::optional<hookrx::time_point> last_sweep;
  std::mt19937 rng(seed);  // NOLINT(cert-msc32-c,cert-msc51-cpp): fixed, so a failure replays
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const auto is_expired_done = [&](const held_key& k) { return k.token == 0 && k.until <= now(); };
  const auto live_count = [&] {
    return static_cast<std::size_t>(
        std::count_if(held.begin(), held.end(), [&](const auto& kv) { return !is_expired_done(kv.second); }));
  };
  const auto forget_expired_done = [&] {
    std::size_t n = 0;
    for (auto it = held.begin(); it != held.end();) {
      if (is_expired_done(it->second)) {
        it = held.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  };
  // What the store does for a new key when it is full (exact_capacity only): evict the done key
  // that expires first, else sweep the claims whose lease ran out (at most once a second).
  const auto make_room = [&] {
    if (held.size() < capacity) return true;
    auto first = held.end();
    for (auto it = held.begin(); it != held.end(); ++it) {
      if (it->second.token == 0 && (first == held.end() || it->second.until < first->second.until)) first = it;
    }
    if (first != held.end()) {
      held.erase(first);
      return true;
    }
    if (last_sweep && now() - *last_sweep < seconds(1)) return false;
    last_sweep = now();
    std::size_t swept = 0;
    for (auto it = held.begin(); it != held.end();) {
      if (it->second.token != 0 && it->second.until <= now()) {
        it = held.erase(it);
        ++swept;
      } else {
        ++it;
      }
    }
    return swept > 0;
  };
  // A held key at random, or nullptr.
  const auto any_held = [&]() -> std::pair<const std::string, held_key>* {
    if (held.empty()) return nullptr;
    auto it = held.begin();
    std::advance(it, pick(static_cast<int>(held.size())));
    return &*it;
  };

  for (int step = 0; step < steps; ++step) {
    INFO("step ", step);
    int op = pick(100);
    // Every other phase only claims: the store fills with claims, whose leases then run out.
    if ((step / 2000) % 2 == 1 && op >= 40 && op < 75) op = pick(40);
    if (op < 40) {  // claim a key, often one held (claimed, done, or either past its end)
      const auto* h = pick(2) == 0 ? any_held() : nullptr;
      const std::string key = h != nullptr ? h->first : "key-" + std::to_string(pick(keys));
      const auto lease = pick(4) == 0 ? hours(1 + pick(24)) : seconds(1 + pick(60));
      std::string expected = "claimed";
      std::uint64_t previous = 0;
      if (auto k = held.find(key); k != held.end()) {
        previous = k->second.token;
        if (now() < k->second.until) expected = k->second.token == 0 ? "done" : "in_progress";
      } else if (exact_capacity && !make_room()) {
        expected = "error: store_unavailable";
      }
      const auto r = store.try_claim(key, lease);
      REQUIRE(outcome(r) == expected);
      if (expected == "claimed") {
        REQUIRE(r->token != 0);
        REQUIRE(r->token != previous);
        held[key] = held_key{r->token, now() + lease};
      }
    } else if (op < 65) {  // complete a claim, now and then with a stale token
      auto* k = any_held();
      if (k == nullptr) continue;
      const bool stale = pick(10) == 0 || k->second.token == 0;
      const std::uint64_t token = stale ? hookrx_conformance::other_token(k->second.token) : k->second.token;
      auto retention = milliseconds(1000 * (pick(2) == 0 ? 1 + pick(300) : 3600 + pick(24 * 3600)));
      if (exact_capacity) {  // no two done keys expire at once, so eviction has one answer
        while (std::any_of(held.begin(), held.end(), [&](const auto& kv) {
          return kv.second.token == 0 && kv.second.until == now() + retention;
        })) {
          retention += milliseconds(1);
        }
      }
      REQUIRE(outcome(store.complete(k->first, token, retention)) == (stale ? "error: in_progress" : "ok"));
      if (!stale) k->second = held_key{0, now() + retention};
    } else if (op < 75) {  // release a claim, now and then with a stale token (a no-op)
      auto* k = any_held();
      if (k == nullptr) continue;
      const bool stale = pick(5) == 0 || k->second.token == 0;
      const std::uint64_t token = stale ? hookrx_conformance::other_token(k->second.token) : k->second.token;
      REQUIRE(outcome(store.release(k->first, token)) == "ok");
      if (!stale) held.erase(k->first);
    } else if (op < (exact_capacity ? 80 : 76)) {  // purge (rarely without exact_capacity: expired keys linger)
      const std::size_t before = store.size();
      const auto purged = store.purge_expired();
      REQUIRE(purged.has_value());
      forget_expired_done();
      REQUIRE(store.size() == held.size());
      REQUIRE(*purged == before - store.size());
    } else {  // time passes
      s.clock->advance(pick(50) == 0 ? hours(1) : seconds(pick(30)));
      if (exact_capacity) {
        const std::size_t expired = forget_expired_done();
        const auto purged = store.purge_expired();
        REQUIRE(purged.has_value());
        REQUIRE(*purged == expired);
      }
    }
    if (exact_capacity) {
      REQUIRE(store.size() == held.size());
    } else {
      REQUIRE(store.size() >= live_count());
      REQUIRE(store.size() <= held.size());
    }
  }

  // Every key answers as the model says.
  for (int i = 0; i < keys; ++i) {
    const std::string key = "key-" + std::to_string(i);
    std::string expected = exact_capacity && held.size() >= capacity ? "" : "claimed";
    if (auto k = held.find(key); k != held.end()) {
      expected = now() < k->second.until ? (k->second.token == 0 ? "done" : "in_progress") : "claimed";
    }
    if (expected.empty()) continue;  // a new key would make room: checked above
    CHECK(claim_state_of(store, key, hours(1)) == expected);
    if (expected == "claimed") held[key] = held_key{1, now() + hours(1)};
  }
}

#ifndef HOOKRX_TEST_SANITIZED
// Bytes the allocator has handed out (main arena and mmapped blocks).
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}
#endif

}  // namespace

TEST_SUITE("memory store") {
  TEST_CASE("a full store first forgets every done key past its retention") {
    small_store s(4);
    for (const char* key : {"a", "b", "c", "d"}) must_complete(*s.store, key, minutes(1));
    CHECK(s.store->size() == 4);
    s.clock->advance(minutes(2));
    CHECK(claim_state_of(*s.store, "new") == "claimed");
    CHECK(s.store->size() == 1);  // all four expired keys went, not just one
  }

  TEST_CASE("a full store evicts the done key closest to the end of its retention") {
    small_store s(3);
    must_complete(*s.store, "a", hours(1));
    s.clock->advance(seconds(1));
    must_complete(*s.store, "b", hours(1));
    s.clock->advance(seconds(1));
    must_complete(*s.store, "c", minutes(30));  // the youngest, but the first to expire
    CHECK(claim_state_of(*s.store, "d") == "claimed");
    CHECK(s.store->size() == 3);
    // Answering "done" takes no room; "c" was forgotten, so it is claimable again: this is the
    // weakened duplicate protection the header warns about.
    CHECK(claim_state_of(*s.store, "a") == "done");
    CHECK(claim_state_of(*s.store, "b") == "done");
    CHECK(claim_state_of(*s.store, "c") == "claimed");  // evicts "a", now the first to expire
    CHECK(claim_state_of(*s.store, "b") == "done");
    CHECK(s.store->size() == 3);
  }

  TEST_CASE("inbox done entries are evicted like dedup keys when the store is full") {
    small_store s(2);
    must_offer(*s.store, make_record("a"));
    const auto a = lease_one(*s.store);
    REQUIRE(outcome(s.store->ack(a.id, a.lease_token, hours(1))) == "ok");
    must_complete(*s.store, "dedup-key", hours(2));
    CHECK(outcome(s.store->offer(make_record("b"))) == "queued");  // evicts inbox "a" (expires first)
    CHECK_FALSE(must_get(*s.store, a.id).has_value());
    CHECK(claim_state_of(*s.store, "dedup-key") == "done");
    CHECK(s.store->size() == 2);
  }

  TEST_CASE("a store full of queued, leased, claimed and dead keys refuses new keys with store_unavailable") {
    small_store s(4);
    must_offer(*s.store, make_record("leased"));
    const auto leased = lease_one(*s.store);
    must_offer(*s.store, make_record("dead"));
    const auto dead = lease_one(*s.store);
    REQUIRE(outcome(s.store->dead_letter(dead.id, dead.lease_token, "x")) == "ok");
    must_offer(*s.store, make_record("queued"));
    must_claim(*s.store, "claimed", hours(24 * 400));
    REQUIRE(s.store->size() == 4);

    CHECK(outcome(s.store->offer(make_record("new"))) == "error: store_unavailable");
    CHECK(claim_state_of(*s.store, "new") == "error: store_unavailable");
    s.clock->advance(hours(24 * 365));  // leases run out, but a leased entry is still held
    CHECK(outcome(s.store->offer(make_record("new"))) == "error: store_unavailable");
    // Nothing was dropped, and known keys are still answered without room.
    CHECK(s.store->size() == 4);
    CHECK(outcome(s.store->offer(make_record("queued"))) == "duplicate");
    CHECK(outcome(s.store->offer(make_record("dead"))) == "duplicate");
    CHECK(must_list(*s.store, hookrx::entry_state::dead).size() == 1);
    CHECK(must_list(*s.store, hookrx::entry_state::queued).size() == 1);
    CHECK(must_list(*s.store, hookrx::entry_state::leased).size() == 1);

    // Once an entry is done it may make way.
    const auto again = s.store->lease(1, seconds(30));
    REQUIRE(again.has_value());
    REQUIRE(again->size() == 1);
    REQUIRE(outcome(s.store->ack(again->front().id, again->front().lease_token, hours(1))) == "ok");
    CHECK(outcome(s.store->offer(make_record("new"))) == "queued");
    CHECK(s.store->size() == 4);
  }

  TEST_CASE("claims whose lease ran out give their room back when the store is full") {
    small_store s(2);
    must_claim(*s.store, "a", seconds(30));
    must_claim(*s.store, "b", seconds(30));
    CHECK(claim_state_of(*s.store, "c") == "error: store_unavailable");
    s.clock->advance(seconds(31));
    CHECK(claim_state_of(*s.store, "c") == "claimed");
    CHECK(s.store->size() == 1);
  }

  TEST_CASE("released claims, forgotten keys and purged entries give their room back") {
    small_store s(10);
    const std::uint64_t token = must_claim(*s.store, "a");
    CHECK(s.store->size() == 1);
    REQUIRE(outcome(s.store->release("a", token)) == "ok");
    CHECK(s.store->size() == 0);
    must_complete(*s.store, "b", minutes(1));
    must_complete(*s.store, "c", minutes(1));
    must_offer(*s.store, make_record("d"));
    const auto d = lease_one(*s.store);
    REQUIRE(outcome(s.store->ack(d.id, d.lease_token, minutes(1))) == "ok");
    CHECK(s.store->size() == 3);
    s.clock->advance(minutes(2));
    auto purged = s.store->purge_expired();
    REQUIRE(purged.has_value());
    CHECK(*purged == 3);  // done keys of both roles
    CHECK(s.store->size() == 0);
  }

  TEST_CASE("a store with no capacity refuses every new key") {
    small_store s(0);
    CHECK(claim_state_of(*s.store, "a") == "error: store_unavailable");
    CHECK(outcome(s.store->offer(make_record("a"))) == "error: store_unavailable");
    CHECK(s.store->capacity() == 0);
  }

  TEST_CASE("callers racing at capacity all get room when done keys can be evicted") {
    small_store s(64);
    constexpr int threads = 8;
    constexpr int per_thread = 300;
    std::atomic<int> failures{0};
    hookrx_conformance::run_threads(threads, [&](int t) {
      for (int i = 0; i < per_thread; ++i) {
        const std::string key = std::to_string(t) + ":" + std::to_string(i);
        auto c = s.store->try_claim(key, seconds(30));
        if (!c || c->state != hookrx::claim_state::claimed || !s.store->complete(key, c->token, hours(1))) {
          failures.fetch_add(1);
        }
      }
    });
    CHECK(failures.load() == 0);
    CHECK(s.store->size() == 64);
  }

  // The inbox keeps its entries in open-addressed tables (by key, by id) that grow and close the
  // gaps of erased entries, and in a FIFO of entries due at once beside an ordered set of the
  // others. A few thousand random operations, checked against a plain model of the contract, reach
  // every path: growth, erasure in the middle of probe clusters, re-offers of expired keys, and
  // leases that merge both due indexes.
  TEST_CASE("thousands of random inbox operations agree with a model of the contract") {
    small_store s(1'000'000);
    auto& store = *s.store;
    const auto now = [&] { return s.clock->now(); };
    struct model_entry {
      std::string key;
      hookrx::entry_state state = hookrx::entry_state::queued;
      hookrx::time_point due{};         // queued: next attempt; leased: end of the lease
      hookrx::time_point done_until{};  // done: end of retention
      int attempts = 0;
    };
    std::map<std::int64_t, model_entry> model;  // live entries by id
    std::map<std::string, std::int64_t> by_key;
    std::int64_t last_id = 0;
    std::mt19937 rng(20260620);  // NOLINT(cert-msc32-c,cert-msc51-cpp): fixed, so a failure replays
    const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };

    for (int step = 0; step < 6000; ++step) {
      const int op = pick(100);
      if (op < 45) {  // offer a key, often one seen before
        const std::string key = "k" + std::to_string(pick(2500));
        bool duplicate = false;
        if (auto k = by_key.find(key); k != by_key.end()) {
          const model_entry& e = model.at(k->second);
          duplicate = e.state != hookrx::entry_state::done || now() < e.done_until;
          if (!duplicate) {  // done past its retention: new again
            model.erase(k->second);
            by_key.erase(k);
          }
        }
        auto r = store.offer(make_record(key));
        REQUIRE(r.has_value());
        REQUIRE((*r == hookrx::offer_state::duplicate) == duplicate);
        if (!duplicate) {
          ++last_id;  // offers get increasing ids; the store's are checked against these below
          model[last_id] = model_entry{key, hookrx::entry_state::queued, now(), {}, 0};
          by_key[key] = last_id;
        }
      } else if (op < 75) {  // lease a batch, and settle each entry one way or another
        const auto max = static_cast<std::size_t>(pick(12));
        std::vector<std::tuple<hookrx::time_point, std::int64_t>> due;
        for (const auto& [id, e] : model) {
          if ((e.state == hookrx::entry_state::queued || e.state == hookrx::entry_state::leased) && e.due <= now())
            due.emplace_back(e.due, id);
        }
        std::sort(due.begin(), due.end());
        due.resize(std::min(due.size(), max));
        const auto leased = must_lease(store, max, minutes(10));
        REQUIRE(leased.size() == due.size());
        for (std::size_t i = 0; i < leased.size(); ++i) {
          const hookrx::inbox_entry& got = leased[i];
          INFO("step ", step, ", leased #", i);
          REQUIRE(got.id == std::get<1>(due[i]));
          model_entry& e = model.at(got.id);
          REQUIRE(got.record.key == e.key);
          REQUIRE(got.attempts == e.attempts + 1);
          e.attempts = got.attempts;
          e.state = hookrx::entry_state::leased;
          e.due = got.lease_until;
          const int how = pick(10);
          if (how < 4) {
            const auto retention = seconds(1 + pick(300));
            REQUIRE(store.ack(got.id, got.lease_token, retention));
            e.state = hookrx::entry_state::done;
            e.done_until = now() + retention;
          } else if (how < 6) {
            const auto when = now() + seconds(pick(120)) - seconds(10);
            REQUIRE(store.retry_at(got.id, got.lease_token, when, "boom"));
            e.state = hookrx::entry_state::queued;
            e.due = when;
          } else if (how < 7) {
            REQUIRE(store.dead_letter(got.id, got.lease_token, "gave up"));
            e.state = hookrx::entry_state::dead;
          } else if (how < 8) {
            REQUIRE(store.release(got.id, got.lease_token));
            e.state = hookrx::entry_state::queued;
            e.due = now();
            --e.attempts;
          }  // otherwise keep the lease until it runs out
        }
      } else if (op < 80) {  // replay a dead letter
        for (auto& [id, e] : model) {
          if (e.state == hookrx::entry_state::dead) {
            REQUIRE(store.replay(id));
            e.state = hookrx::entry_state::queued;
            e.due = now();
            e.attempts = 0;
            break;
          }
        }
      } else if (op < 83) {  // purge done entries past their retention
        std::size_t expired = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (it->second.state == hookrx::entry_state::done && it->second.done_until <= now()) {
            by_key.erase(it->second.key);
            it = model.erase(it);
            ++expired;
          } else {
            ++it;
          }
        }
        auto purged = store.purge_expired();
        REQUIRE(purged.has_value());
        REQUIRE(*purged == expired);
      } else {  // time passes
        s.clock->advance(seconds(pick(40)));
      }
    }

    // Every live entry is found by id with its key and state, and nothing else is there.
    REQUIRE(store.size() == model.size());
    std::map<hookrx::entry_state, std::vector<std::int64_t>> ids;
    for (const auto& [id, e] : model) {
      const auto got = must_get(store, id);
      REQUIRE(got.has_value());
      CHECK(got->record.key == e.key);
      CHECK(got->state == e.state);
      ids[e.state].push_back(id);
    }
    for (auto state : {hookrx::entry_state::queued, hookrx::entry_state::leased, hookrx::entry_state::done,
                       hookrx::entry_state::dead}) {
      std::vector<std::int64_t> listed;
      for (const auto& e : must_list(store, state, 1'000'000)) listed.push_back(e.id);
      CHECK(listed == ids[state]);
    }
    CHECK(!must_get(store, last_id + 1).has_value());
  }

  // The dedup shards keep their keys in open-addressed tables that grow, shift entries on insert
  // and erase, and lose keys to release(), purging, eviction and the sweep of expired claims.
  TEST_CASE("thousands of random claims, completes and releases over many keys agree with a model") {
    check_dedup_against_model(1'000'000, false, 30'000, 20'000, 20260621);
  }

  TEST_CASE("a small store full of dedup keys evicts and sweeps as a model of the contract says") {
    check_dedup_against_model(100, true, 30'000, 400, 20260622);
  }

  TEST_CASE("done keys purged or evicted can be claimed again, and every other key still answers") {
    small_store s(2'000);
    const auto key = [](int i) { return "key-" + std::to_string(i); };
    // 2,000 done keys: the first 1,000 expire in a minute, the others one by one after an hour.
    for (int i = 0; i < 2'000; ++i) must_complete(*s.store, key(i), i < 1'000 ? minutes(1) : hours(1) + seconds(i));
    s.clock->advance(minutes(2));
    // Claimed again where they lie (nothing has purged them yet): their slots are reused.
    for (int i = 0; i < 500; ++i) CHECK(claim_state_of(*s.store, key(i)) == "claimed");
    auto purged = s.store->purge_expired();  // the other 500 go, from the middle of their runs
    REQUIRE(purged.has_value());
    CHECK(*purged == 500);
    CHECK(s.store->size() == 1'500);
    for (int i = 500; i < 1'000; ++i) CHECK(claim_state_of(*s.store, key(i)) == "claimed");
    for (int i = 1'000; i < 2'000; ++i) CHECK(claim_state_of(*s.store, key(i)) == "done");
    // Full now: each new key evicts the done key that expires first, which is then new again.
    CHECK(s.store->size() == 2'000);
    CHECK(claim_state_of(*s.store, "new-0") == "claimed");     // evicts key(1000)
    CHECK(claim_state_of(*s.store, key(1'000)) == "claimed");  // evicts key(1001)
    CHECK(claim_state_of(*s.store, key(1'001)) == "claimed");  // evicts key(1002)
    for (int i = 1'003; i < 2'000; ++i) CHECK(claim_state_of(*s.store, key(i)) == "done");
    for (int i = 0; i < 1'000; ++i) CHECK(claim_state_of(*s.store, key(i)) == "in_progress");
    CHECK(s.store->size() == 2'000);
  }

  TEST_CASE("expired claims swept from a full store are claimable again and the keys beside them still answer") {
    small_store s(1'500);
    const auto key = [](int i) { return "key-" + std::to_string(i); };
    for (int i = 0; i < 1'500; ++i) {
      if (i % 3 == 0) {
        must_claim(*s.store, key(i), hours(24 * 400));  // held on
      } else {
        must_claim(*s.store, key(i), seconds(30));  // to expire
      }
    }
    s.clock->advance(seconds(31));
    const std::uint64_t token = must_claim(*s.store, "new");  // sweeps the 1,000 expired claims
    CHECK(s.store->size() == 501);
    REQUIRE(outcome(s.store->release("new", token)) == "ok");
    for (int i = 0; i < 1'500; i += 3) CHECK(claim_state_of(*s.store, key(i)) == "in_progress");
    for (int i = 0; i < 1'500; ++i) {
      if (i % 3 != 0) CHECK(claim_state_of(*s.store, key(i)) == "claimed");
    }
    CHECK(s.store->size() == 1'500);
  }

  TEST_CASE("entries queued while the clock goes back are leased by due time, then by id") {
    small_store s(100);
    const hookrx::time_point t0 = s.clock->now();
    must_offer(*s.store, make_record("a"));  // due t0
    s.clock->set(t0 - seconds(5));
    must_offer(*s.store, make_record("b"));  // due t0 - 5 s: first, though offered later
    s.clock->set(t0);
    must_offer(*s.store, make_record("c"));  // due t0, after "a" by id
    s.clock->set(t0 + seconds(1));
    const auto leased = must_lease(*s.store, 10);
    CHECK(hookrx_conformance::keys_of(leased) == std::vector<std::string>{"b", "a", "c"});
  }

  TEST_CASE("a retained dedup key costs less than 200 bytes") {
#ifdef HOOKRX_TEST_SANITIZED
    MESSAGE("skipped under a sanitizer: its allocator does not report through mallinfo2");
#else
    constexpr int keys = 200'000;
    small_store s(1'000'000);
    must_complete(*s.store, "warm-up", hours(1));  // thread-local digest context, token generator
    const std::size_t before = heap_in_use();
    const auto start = std::chrono::steady_clock::now();
    int failures = 0;
    for (int i = 0; i < keys; ++i) {
      const std::string key =
          "pp:ext_" + std::to_string(i) + ":doc_" + std::to_string(i) + ":extraction.document_completed";
      auto c = s.store->try_claim(key, seconds(30));
      if (!c || c->state != hookrx::claim_state::claimed || !s.store->complete(key, c->token, hours(24 * 7)))
        ++failures;
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const std::size_t after = heap_in_use();
    REQUIRE(failures == 0);
    REQUIRE(after > before);
    const double per_key = static_cast<double>(after - before) / keys;
    const double ns_per_key =
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) / keys;
    MESSAGE("memory store: ", per_key, " bytes per retained dedup key (keys of ~50 bytes), ", ns_per_key,
            " ns per claim + complete");
    CHECK(per_key < 200.0);
    CHECK(claim_state_of(*s.store, "pp:ext_123:doc_123:extraction.document_completed") == "done");
    CHECK(claim_state_of(*s.store, "pp:ext_123:doc_124:extraction.document_completed") == "claimed");
#endif
  }
}
