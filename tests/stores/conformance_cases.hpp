// tests/stores/conformance_cases.hpp: the contract every store backend passes, as doctest cases.
//
// A backend's test file defines `store_fixture`, then includes this header once:
//
//   struct store_fixture {
//     static constexpr const char* backend = "memory";              // optional: named in messages
//     std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
//     std::shared_ptr<hookrx::memory_store> store = hookrx::memory_store::create({}, clock);
//     std::shared_ptr<hookrx::dedup_store> dedup = store;           // required
//     std::shared_ptr<hookrx::inbox_store> inbox = store;           // nullptr: dedup only (Redis)
//   };
//   #define HOOKRX_STORE_SUITE "memory store conformance"          // optional TEST_SUITE name
//   #include "conformance_cases.hpp"
//
// The default constructor must give a FRESH, EMPTY store (a new file, schema or key prefix) that
// reads the time from `clock` and from nothing else: every case is independent, and no case sleeps;
// time moves only by clock->advance(). A backend that keeps time itself (e.g. Redis TTLs) must take
// it from the clock. Cases with threads use at most 16 of them.
//
// What the suite pins down beyond the wording of hookrx/store.hpp (every backend follows it):
// - Keys are byte strings compared exactly (no case folding, trimming or Unicode normalisation), up
//   to 2 KiB at least, any bytes but NUL. The dedup and inbox key spaces are not tested together.
// - Times are kept to the millisecond at least. "Live" means now < end: a claim, lease or
//   retention that ends at T no longer holds at T + 1 ms; the instant T itself is left open, except
//   that an entry retried for `when` is due at exactly `when` (store.hpp says next_attempt_at <= now).
// - Dedup: tokens are non-zero for `claimed` and zero otherwise. complete() and release() with a
//   token that does not hold the key's claim (wrong, zero, stale, the key done, released or never
//   claimed) change nothing; complete() then fails with errc::in_progress and release() succeeds.
//   In-progress answers do not extend the holder's lease. Retention counts from complete().
//   A token whose lease ran out while nobody claimed the key may still complete() or may fail with
//   in_progress: both are allowed, and the store must stay consistent either way.
// - Inbox: ids are positive, increase in offer order and are never reused (not even after purge).
//   A fresh entry is due at once (next_attempt_at = now at offer). lease() hands out entries by due
//   time, then by id, never more than `max` (0 gives none), counts the attempt, and gives a non-zero
//   token (entries of one batch may share it) and lease_until = now + lease, which get() also shows.
//   release() makes the entry due at the moment of release, with one attempt fewer. list() returns
//   entries by ascending id; `queued` includes entries waiting for a retry. A token that does not
//   hold the entry's current lease fails ack/retry_at/dead_letter/release with errc::in_progress
//   while the entry exists (also once it is queued, done or dead); an unknown id fails with
//   in_progress or not_found (replay: not_found). A done key past its retention is new to offer()
//   even before purge_expired(), which then deletes the entry (get() answers nullopt). last_error
//   survives later leases and replay. Dead entries keep their body and attempts; replay() makes
//   them queued, due now, attempts 0. Acked entries keep their key; the body may be dropped.
//   ack_all() acknowledges exactly the entries ack() would accept, each once (an entry named twice
//   counts once), skips the others without changing them, and returns how many it acknowledged.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "hookrx/clock.hpp"
#include "hookrx/store.hpp"

#ifndef HOOKRX_STORE_SUITE
#define HOOKRX_STORE_SUITE "store conformance"
#endif

// Poll-store cases return early (and say so) on a backend without that role.
#define HOOKRX_CONFORMANCE_NEEDS_POLL()                                                                       \
  hookrx::poll_store* const ps = ::hookrx_conformance::poll_of(*this);                                        \
  if (!ps) {                                                                                                  \
    MESSAGE(::hookrx_conformance::backend_name<::store_fixture>() << ": no poll store, poller case skipped"); \
    return;                                                                                                   \
  }                                                                                                           \
  static_cast<void>(0)

// Inbox cases return early (and say so) on a dedup-only backend.
#define HOOKRX_CONFORMANCE_NEEDS_INBOX()                                                                  \
  if (!inbox) {                                                                                           \
    MESSAGE(::hookrx_conformance::backend_name<::store_fixture>() << ": dedup only, inbox case skipped"); \
    return;                                                                                               \
  }                                                                                                       \
  static_cast<void>(0)

namespace hookrx_conformance {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr milliseconds one_ms{1};
constexpr milliseconds lease_30s = seconds(30);
constexpr milliseconds retention_1h = hours(1);

template <class F, class = void>
struct has_backend : std::false_type {};
template <class F>
struct has_backend<F, std::void_t<decltype(F::backend)>> : std::true_type {};

/// The fixture's `backend`, or "store".
template <class F>
const char* backend_name() {
  if constexpr (has_backend<F>::value) {
    return F::backend;
  } else {
    return "store";
  }
}

template <class F, class = void>
struct has_offers_leased : std::false_type {};
template <class F>
struct has_offers_leased<F, std::void_t<decltype(F::offers_leased)>> : std::bool_constant<F::offers_leased> {};

template <class F, class = void>
struct has_poll : std::false_type {};
template <class F>
struct has_poll<F, std::void_t<decltype(std::declval<F&>().poll)>> : std::true_type {};

/// The fixture's `poll` store (the poller's role), or nullptr for a backend without it.
template <class F>
hookrx::poll_store* poll_of(F& f) {
  if constexpr (has_poll<F>::value) {
    return f.poll.get();
  } else {
    return nullptr;
  }
}

// --- outcomes as text, so that a failed CHECK prints what the store answered ---------------------

inline std::string failure(const hookrx::error& e) { return "error: " + std::string(hookrx::to_string(e.code())); }

/// "claimed", "done", "in_progress", or "error: <errc>".
inline std::string outcome(const hookrx::result<hookrx::claim>& r) {
  return r ? std::string(hookrx::to_string(r->state)) : failure(r.error());
}
/// "ok" or "error: <errc>".
inline std::string outcome(const hookrx::status& s) { return s ? "ok" : failure(s.error()); }
/// "queued", "duplicate", or "error: <errc>".
inline std::string outcome(const hookrx::result<hookrx::offer_state>& r) {
  if (!r) return failure(r.error());
  return *r == hookrx::offer_state::queued ? "queued" : "duplicate";
}
/// The count as text ("3"), or "error: <errc>".
/// "queued, leased", "queued" (queued for lease() to find), "duplicate", or "error: <errc>".
inline std::string outcome(const hookrx::result<hookrx::leased_offer>& r) {
  if (!r) return failure(r.error());
  const std::string state = r->state == hookrx::offer_state::queued ? "queued" : "duplicate";
  return r->entry ? state + ", leased" : state;
}
inline std::string outcome(const hookrx::result<std::size_t>& r) { return r ? std::to_string(*r) : failure(r.error()); }
inline std::string name(hookrx::entry_state s) { return std::string(hookrx::to_string(s)); }

inline std::int64_t ms_of(hookrx::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// --- dedup helpers ------------------------------------------------------------------------------

/// Claims `key`, requiring the claim to be won; returns its token.
inline std::uint64_t must_claim(hookrx::dedup_store& store, std::string_view key, milliseconds lease = lease_30s) {
  INFO("claiming key of ", key.size(), " bytes: ", std::string(key.substr(0, 80)));
  auto r = store.try_claim(key, lease);
  REQUIRE(outcome(r) == "claimed");
  REQUIRE(r->token != 0);
  return r->token;
}

/// What a claim of `key` answers now ("claimed", "done", "in_progress" or an error); a `claimed`
/// answer is left standing, so use it last or on keys the case is done with.
inline std::string claim_state_of(hookrx::dedup_store& store, std::string_view key, milliseconds lease = lease_30s) {
  auto r = store.try_claim(key, lease);
  if (r && r->state != hookrx::claim_state::claimed && r->token != 0) return "non-zero token with " + outcome(r);
  return outcome(r);
}

/// Claims and completes `key`.
inline void must_complete(hookrx::dedup_store& store, std::string_view key, milliseconds retention = retention_1h) {
  const std::uint64_t token = must_claim(store, key);
  REQUIRE(outcome(store.complete(key, token, retention)) == "ok");
}

/// A token that is certainly not `token` and not zero.
inline std::uint64_t other_token(std::uint64_t token) { return token == 1 ? 2 : token - 1; }

// --- inbox helpers ------------------------------------------------------------------------------

/// A record as a receiver stores it, with `key` and `body`.
inline hookrx::inbox_record make_record(std::string key,
                                        std::string body = R"({"event":"extraction.document_completed"})") {
  hookrx::inbox_record r;
  r.key = std::move(key);
  r.source = hookrx::provider::perfectparser;
  r.event_name = "extraction.document_completed";
  r.body = std::move(body);
  r.headers = "Content-Type: application/json\nUser-Agent: PerfectParser-Webhooks/1.0";
  r.received_at = hookrx::time_point(milliseconds(1'767'225'600'123));  // 2026-01-01T00:00:00.123Z
  return r;
}

inline void must_offer(hookrx::inbox_store& store, const hookrx::inbox_record& rec) {
  INFO("offering key ", rec.key);
  REQUIRE(outcome(store.offer(rec)) == "queued");
}

inline std::vector<hookrx::inbox_entry> must_lease(hookrx::inbox_store& store, std::size_t max,
                                                   milliseconds lease = lease_30s) {
  auto r = store.lease(max, lease);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return std::move(*r);
}

/// Leases exactly one entry (and requires there to be exactly one due among the first two).
inline hookrx::inbox_entry lease_one(hookrx::inbox_store& store, milliseconds lease = lease_30s) {
  auto v = must_lease(store, 1, lease);
  REQUIRE(v.size() == 1);
  return std::move(v.front());
}

inline std::vector<hookrx::inbox_entry> must_list(hookrx::inbox_store& store, hookrx::entry_state state,
                                                  std::size_t limit = 10'000, std::int64_t after_id = 0) {
  auto r = store.list(state, limit, after_id);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return std::move(*r);
}

inline std::optional<hookrx::inbox_entry> must_get(hookrx::inbox_store& store, std::int64_t id) {
  auto r = store.get(id);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return std::move(*r);
}

/// The entry `id`, which must exist.
inline hookrx::inbox_entry must_find(hookrx::inbox_store& store, std::int64_t id) {
  auto e = must_get(store, id);
  REQUIRE(e.has_value());
  return std::move(*e);
}

/// The id of the one entry (in any state) with `key`.
inline std::int64_t id_of(hookrx::inbox_store& store, const std::string& key) {
  std::vector<std::int64_t> ids;
  for (auto s : {hookrx::entry_state::queued, hookrx::entry_state::leased, hookrx::entry_state::done,
                 hookrx::entry_state::dead}) {
    for (const auto& e : must_list(store, s)) {
      if (e.record.key == key) ids.push_back(e.id);
    }
  }
  INFO("key ", key);
  REQUIRE(ids.size() == 1);
  return ids.front();
}

inline std::vector<std::string> keys_of(const std::vector<hookrx::inbox_entry>& entries) {
  std::vector<std::string> keys;
  for (const auto& e : entries) keys.push_back(e.record.key);
  return keys;
}

inline std::vector<std::int64_t> ids_of(const std::vector<hookrx::inbox_entry>& entries) {
  std::vector<std::int64_t> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

/// The leases of `entries`, as ack_all() takes them.
inline std::vector<hookrx::lease_ref> refs_of(const std::vector<hookrx::inbox_entry>& entries) {
  std::vector<hookrx::lease_ref> refs;
  for (const auto& e : entries) refs.push_back({e.id, e.lease_token});
  return refs;
}

/// Offset of the first byte where `a` and `b` differ, or -1 when they are equal.
inline long first_difference(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<long>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<long>(n);
}

/// Checks every field of a stored record against what was offered; times to the millisecond.
inline void check_record(const hookrx::inbox_record& got, const hookrx::inbox_record& want) {
  CHECK(got.key == want.key);
  CHECK(got.source == want.source);
  CHECK(got.event_name == want.event_name);
  CHECK(got.headers == want.headers);
  CHECK(got.body.size() == want.body.size());
  CHECK_MESSAGE(first_difference(got.body, want.body) == -1, "the body differs from the one offered");
  CHECK(ms_of(got.received_at) == ms_of(want.received_at));
  CHECK(got.origin == want.origin);
}

// --- threads ------------------------------------------------------------------------------------

/// Runs body(0) .. body(n - 1) on n threads released together, and joins them. `body` must not
/// use doctest assertions (collect results and check them afterwards).
template <class F>
void run_threads(int n, F&& body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    pool.emplace_back([&, i] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      body(i);
    });
  }
  while (ready.load() < n) std::this_thread::yield();
  go.store(true);
  for (auto& t : pool) t.join();
}

// ================================================================================================
TEST_SUITE(HOOKRX_STORE_SUITE) {
  // --- dedup: claims ------------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "a new key is claimed with a non-zero token") {
    auto r = dedup->try_claim("pp:ext_1:doc_1:extraction.document_completed", lease_30s);
    REQUIRE(outcome(r) == "claimed");
    CHECK(r->token != 0);
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "a key claimed by someone else is in_progress, without a token, until the lease ends") {
    must_claim(*dedup, "k", seconds(10));
    auto again = dedup->try_claim("k", seconds(10));
    REQUIRE(outcome(again) == "in_progress");
    CHECK(again->token == 0);
    clock->advance(seconds(5));
    CHECK(claim_state_of(*dedup, "k", seconds(10)) == "in_progress");
    clock->advance(seconds(5) - one_ms);  // 1 ms before the first claim's lease ends
    CHECK(claim_state_of(*dedup, "k", seconds(10)) == "in_progress");
    // The in_progress answers above did not extend the lease: it ends 10 s after the claim.
    clock->advance(2 * one_ms);
    CHECK(claim_state_of(*dedup, "k") == "claimed");
  }

  TEST_CASE_FIXTURE(::store_fixture, "each claim keeps the lease it asked for") {
    must_claim(*dedup, "short", seconds(1));
    must_claim(*dedup, "long", hours(1));
    clock->advance(seconds(2));
    CHECK(claim_state_of(*dedup, "long") == "in_progress");
    CHECK(claim_state_of(*dedup, "short") == "claimed");
    clock->advance(hours(1) - seconds(2) - one_ms);  // 1 ms before the long lease ends
    CHECK(claim_state_of(*dedup, "long") == "in_progress");
    clock->advance(2 * one_ms);
    CHECK(claim_state_of(*dedup, "long") == "claimed");
  }

  // --- dedup: complete -------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "the asynchronous claim, complete and release answer as the synchronous ones") {
    const auto claim_async = [&](const std::string& key) {
      std::promise<hookrx::result<hookrx::claim>> answered;
      auto r = answered.get_future();
      dedup->try_claim_async(key, lease_30s, [&answered](hookrx::result<hookrx::claim> c) { answered.set_value(c); });
      return r.get();
    };
    const auto status_of = [](const std::function<void(std::function<void(hookrx::status)>)>& call) {
      std::promise<hookrx::status> answered;
      auto r = answered.get_future();
      call([&answered](hookrx::status st) { answered.set_value(st); });
      return r.get();
    };
    const auto first = claim_async("ka");
    REQUIRE(outcome(first) == "claimed");
    CHECK(first->token != 0);
    CHECK(outcome(claim_async("ka")) == "in_progress");
    CHECK(outcome(status_of([&](auto done) { dedup->complete_async("ka", first->token ^ 1U, retention_1h, done); })) ==
          "error: in_progress");
    CHECK(outcome(status_of([&](auto done) { dedup->complete_async("ka", first->token, retention_1h, done); })) ==
          "ok");
    CHECK(outcome(claim_async("ka")) == "done");
    const auto second = claim_async("kb");
    REQUIRE(outcome(second) == "claimed");
    CHECK(outcome(status_of([&](auto done) { dedup->release_async("kb", second->token, done); })) == "ok");
    const auto again = claim_async("kb");
    REQUIRE(outcome(again) == "claimed");
    CHECK(again->token != second->token);
  }

  TEST_CASE_FIXTURE(::store_fixture, "a completed key is done until its retention ends, then can be claimed again") {
    const std::uint64_t token = must_claim(*dedup, "k");
    REQUIRE(outcome(dedup->complete("k", token, hours(2))) == "ok");
    auto dup = dedup->try_claim("k", lease_30s);
    REQUIRE(outcome(dup) == "done");
    CHECK(dup->token == 0);
    clock->advance(hours(2) - one_ms);
    CHECK(claim_state_of(*dedup, "k") == "done");
    clock->advance(2 * one_ms);
    auto again = dedup->try_claim("k", lease_30s);
    REQUIRE(outcome(again) == "claimed");
    CHECK(again->token != 0);
    // The key is an ordinary claim again: held by its new owner, done once completed.
    CHECK(claim_state_of(*dedup, "k") == "in_progress");
    REQUIRE(outcome(dedup->complete("k", again->token, retention_1h)) == "ok");
    CHECK(claim_state_of(*dedup, "k") == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture, "retention counts from complete, not from the claim") {
    const std::uint64_t token = must_claim(*dedup, "k", minutes(5));
    clock->advance(minutes(3));
    REQUIRE(outcome(dedup->complete("k", token, minutes(10))) == "ok");
    clock->advance(minutes(10) - one_ms);  // 13 min after the claim, 1 ms before retention ends
    CHECK(claim_state_of(*dedup, "k") == "done");
    clock->advance(2 * one_ms);
    CHECK(claim_state_of(*dedup, "k") == "claimed");
  }

  TEST_CASE_FIXTURE(::store_fixture, "a completed key stays done past the lease its claim had") {
    const std::uint64_t token = must_claim(*dedup, "k", seconds(1));
    REQUIRE(outcome(dedup->complete("k", token, hours(24 * 7))) == "ok");
    clock->advance(hours(24));
    CHECK(claim_state_of(*dedup, "k") == "done");
    clock->advance(hours(24 * 6) - one_ms);
    CHECK(claim_state_of(*dedup, "k") == "done");
    clock->advance(2 * one_ms);
    CHECK(claim_state_of(*dedup, "k") == "claimed");
  }

  TEST_CASE_FIXTURE(::store_fixture, "complete with a wrong or zero token fails and leaves the claim to its owner") {
    const std::uint64_t token = must_claim(*dedup, "k");
    CHECK(outcome(dedup->complete("k", other_token(token), retention_1h)) == "error: in_progress");
    CHECK(outcome(dedup->complete("k", 0, retention_1h)) == "error: in_progress");
    CHECK(claim_state_of(*dedup, "k") == "in_progress");
    CHECK(outcome(dedup->complete("k", token, retention_1h)) == "ok");
    CHECK(claim_state_of(*dedup, "k") == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture, "complete of a key nobody claimed fails and does not mark it done") {
    CHECK(outcome(dedup->complete("never-claimed", 12345, retention_1h)) == "error: in_progress");
    CHECK(claim_state_of(*dedup, "never-claimed") == "claimed");
  }

  TEST_CASE_FIXTURE(::store_fixture, "a token that completed its key cannot complete it again or release it") {
    const std::uint64_t token = must_claim(*dedup, "k");
    REQUIRE(outcome(dedup->complete("k", token, retention_1h)) == "ok");
    CHECK(outcome(dedup->complete("k", token, retention_1h)) == "error: in_progress");
    CHECK(outcome(dedup->complete("k", other_token(token), retention_1h)) == "error: in_progress");
    CHECK(outcome(dedup->release("k", token)) == "ok");  // a no-op: the key stays done
    CHECK(claim_state_of(*dedup, "k") == "done");
    clock->advance(retention_1h - one_ms);
    CHECK(claim_state_of(*dedup, "k") == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture, "a second complete by the owner fails and does not extend the retention") {
    const std::uint64_t token = must_claim(*dedup, "k");
    REQUIRE(outcome(dedup->complete("k", token, minutes(10))) == "ok");
    clock->advance(minutes(5));
    CHECK(outcome(dedup->complete("k", token, hours(24))) == "error: in_progress");
    clock->advance(minutes(5) - one_ms);
    CHECK(claim_state_of(*dedup, "k") == "done");
    clock->advance(2 * one_ms);
    CHECK(claim_state_of(*dedup, "k") == "claimed");
  }

  // --- dedup: release --------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "release lets the next claim win with a different token") {
    const std::uint64_t first = must_claim(*dedup, "k");
    REQUIRE(outcome(dedup->release("k", first)) == "ok");
    const std::uint64_t second = must_claim(*dedup, "k");
    CHECK(second != first);
    CHECK(outcome(dedup->complete("k", first, retention_1h)) == "error: in_progress");
    CHECK(outcome(dedup->complete("k", second, retention_1h)) == "ok");
    CHECK(claim_state_of(*dedup, "k") == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture, "release with a wrong token leaves the claim in place") {
    const std::uint64_t token = must_claim(*dedup, "k");
    CHECK(outcome(dedup->release("k", other_token(token))) == "ok");
    CHECK(outcome(dedup->release("k", 0)) == "ok");
    CHECK(claim_state_of(*dedup, "k") == "in_progress");
    CHECK(outcome(dedup->complete("k", token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture, "release of a key nobody claimed is a harmless no-op") {
    CHECK(outcome(dedup->release("never-claimed", 42)) == "ok");
    CHECK(claim_state_of(*dedup, "never-claimed") == "claimed");
  }

  // --- dedup: expired leases ---------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "a claim whose lease ran out can be claimed again, and its old token is void") {
    const std::uint64_t old_token = must_claim(*dedup, "k", seconds(10));
    clock->advance(seconds(10) + one_ms);
    const std::uint64_t new_token = must_claim(*dedup, "k", seconds(10));
    CHECK(new_token != old_token);
    CHECK(outcome(dedup->complete("k", old_token, retention_1h)) == "error: in_progress");
    // The old owner's release is a no-op: it must not free the new owner's claim.
    CHECK(outcome(dedup->release("k", old_token)) == "ok");
    CHECK(claim_state_of(*dedup, "k") == "in_progress");
    CHECK(outcome(dedup->complete("k", new_token, retention_1h)) == "ok");
    CHECK(claim_state_of(*dedup, "k") == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "a lease that ran out with nobody else claiming may still complete, consistently") {
    const std::uint64_t token = must_claim(*dedup, "k", seconds(10));
    clock->advance(seconds(11));
    auto late = dedup->complete("k", token, retention_1h);
    if (late) {
      CHECK(claim_state_of(*dedup, "k") == "done");
    } else {
      CHECK(failure(late.error()) == "error: in_progress");
      CHECK(claim_state_of(*dedup, "k") == "claimed");
    }
  }

  TEST_CASE_FIXTURE(::store_fixture, "a release after the lease ran out leaves the key claimable") {
    const std::uint64_t token = must_claim(*dedup, "k", seconds(10));
    clock->advance(seconds(11));
    CHECK(outcome(dedup->release("k", token)) == "ok");
    CHECK(claim_state_of(*dedup, "k") == "claimed");
  }

  // --- dedup: keys -----------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "dedup keys are compared exactly: case, prefixes and trailing bytes matter") {
    must_complete(*dedup, "a");
    for (const char* other : {"ab", "A", "a ", " a", "a\t", "b"}) {
      INFO("key: [", other, "]");
      CHECK(claim_state_of(*dedup, other) == "claimed");
    }
    CHECK(claim_state_of(*dedup, "a") == "done");
    // The longer key claimed does not make its prefix busy either.
    must_claim(*dedup, "pp:ext_1:doc_10");
    CHECK(claim_state_of(*dedup, "pp:ext_1:doc_1") == "claimed");
  }

  TEST_CASE_FIXTURE(::store_fixture, "long dedup keys, keys with colons and non-ASCII keys are kept exactly") {
    std::string long_key(2048, 'k');
    long_key.replace(0, 3, "pp:");
    std::string long_other = long_key;
    long_other.back() = 'K';  // differs only in the last of 2048 bytes
    const std::vector<std::string> keys = {
        long_key,
        "pp:ext_1:doc_1:extraction.document_completed",
        "ps::42::document-processing-finished",
        u8"документ:ключ:\u2713",
        u8"caf\u00e9",   // precomposed é
        u8"cafe\u0301",  // e + combining acute: the same text, other bytes, so another key
        u8"\U0001F680:rocket",
    };
    for (const auto& key : keys) must_complete(*dedup, key);
    for (const auto& key : keys) {
      INFO("key of ", key.size(), " bytes: ", key.substr(0, 60));
      CHECK(claim_state_of(*dedup, key) == "done");
    }
    CHECK(claim_state_of(*dedup, long_other) == "claimed");
    CHECK(claim_state_of(*dedup, long_key.substr(0, 2047)) == "claimed");
    CHECK(claim_state_of(*dedup, u8"документ:ключ:") == "claimed");
  }

  TEST_CASE_FIXTURE(::store_fixture, "claims of different keys do not affect each other") {
    const std::uint64_t a = must_claim(*dedup, "a");
    const std::uint64_t b = must_claim(*dedup, "b");
    REQUIRE(outcome(dedup->release("a", a)) == "ok");
    CHECK(claim_state_of(*dedup, "b") == "in_progress");
    // Tokens are checked per key: b's token does not complete a.
    const std::uint64_t a2 = must_claim(*dedup, "a");
    CHECK(outcome(dedup->complete("a", b, retention_1h)) == "error: in_progress");
    CHECK(outcome(dedup->complete("b", b, retention_1h)) == "ok");
    CHECK(claim_state_of(*dedup, "a") == "in_progress");
    CHECK(outcome(dedup->complete("a", a2, retention_1h)) == "ok");
  }

  // --- dedup: concurrency ----------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "concurrent claims of one key from 16 threads: exactly one wins, 50 keys over") {
    constexpr int threads = 16;
    constexpr int keys = 50;
    std::vector<std::vector<std::string>> seen(threads);
    run_threads(threads, [&](int t) {
      for (int k = 0; k < keys; ++k) {
        seen[static_cast<std::size_t>(t)].push_back(claim_state_of(*dedup, "race:" + std::to_string(k)));
      }
    });
    for (int k = 0; k < keys; ++k) {
      std::map<std::string, int> counts;
      for (const auto& per_thread : seen) counts[per_thread[static_cast<std::size_t>(k)]]++;
      INFO("key race:", k);
      CHECK(counts["claimed"] == 1);
      CHECK(counts["in_progress"] == threads - 1);
    }
  }

  TEST_CASE_FIXTURE(::store_fixture, "concurrent claims of different keys all succeed with distinct tokens") {
    constexpr int threads = 16;
    constexpr int per_thread = 32;
    std::vector<std::vector<std::pair<std::string, std::uint64_t>>> won(threads);
    std::atomic<int> failures{0};
    run_threads(threads, [&](int t) {
      for (int i = 0; i < per_thread; ++i) {
        const std::string key = "t" + std::to_string(t) + ":" + std::to_string(i);
        auto r = dedup->try_claim(key, lease_30s);
        if (r && r->state == hookrx::claim_state::claimed && r->token != 0) {
          won[static_cast<std::size_t>(t)].emplace_back(key, r->token);
        } else {
          failures.fetch_add(1);
        }
      }
    });
    CHECK(failures.load() == 0);
    std::set<std::uint64_t> tokens;
    std::size_t claims = 0;
    for (const auto& per_thread_won : won) {
      for (const auto& [key, token] : per_thread_won) {
        tokens.insert(token);
        ++claims;
        CHECK(outcome(dedup->complete(key, token, retention_1h)) == "ok");
      }
    }
    CHECK(claims == static_cast<std::size_t>(threads * per_thread));
    CHECK(tokens.size() == claims);
    CHECK(claim_state_of(*dedup, "t7:31") == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture, "under claim and release churn at most one caller holds a key at a time") {
    constexpr int threads = 8;
    constexpr int rounds = 200;
    std::atomic<int> holders{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> wins{0};
    std::atomic<int> errors{0};
    run_threads(threads, [&](int) {
      for (int i = 0; i < rounds; ++i) {
        auto r = dedup->try_claim("churn", hours(1));
        if (!r) {
          errors.fetch_add(1);
          continue;
        }
        if (r->state != hookrx::claim_state::claimed) continue;
        if (holders.fetch_add(1) != 0) overlaps.fetch_add(1);
        wins.fetch_add(1);
        holders.fetch_sub(1);
        if (!dedup->release("churn", r->token)) errors.fetch_add(1);
      }
    });
    CHECK(errors.load() == 0);
    CHECK(overlaps.load() == 0);
    CHECK(wins.load() > 0);
    CHECK(claim_state_of(*dedup, "churn") == "claimed");  // the last release freed it
  }

  // --- inbox: offer ----------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "offer stores a record, answers queued, and the entry is due at once") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    const auto rec = make_record("pp:ext_1:doc_1:extraction.document_completed");
    REQUIRE(outcome(inbox->offer(rec)) == "queued");
    const auto queued = must_list(*inbox, hookrx::entry_state::queued);
    REQUIRE(queued.size() == 1);
    const auto& e = queued.front();
    CHECK(e.id > 0);
    CHECK(name(e.state) == "queued");
    CHECK(e.attempts == 0);
    CHECK(e.last_error.empty());
    CHECK(ms_of(e.next_attempt_at) == ms_of(clock->now()));
    check_record(e.record, rec);
    const auto got = must_find(*inbox, e.id);
    CHECK(name(got.state) == "queued");
    check_record(got.record, rec);
    CHECK(lease_one(*inbox).id == e.id);
  }

  TEST_CASE_FIXTURE(::store_fixture, "ids are positive and increase in offer order") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (int i = 0; i < 5; ++i) must_offer(*inbox, make_record("k" + std::to_string(i)));
    const auto queued = must_list(*inbox, hookrx::entry_state::queued);
    REQUIRE(queued.size() == 5);
    for (std::size_t i = 0; i < queued.size(); ++i) {
      CHECK(queued[i].id > 0);
      CHECK(queued[i].record.key == "k" + std::to_string(i));
      if (i > 0) CHECK(queued[i].id > queued[i - 1].id);
    }
  }

  TEST_CASE_FIXTURE(::store_fixture, "pending_count counts the queued and leased entries, not the done or dead ones") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    const auto pending = [&] {
      auto n = inbox->pending_count();
      REQUIRE_MESSAGE(n.has_value(), (n ? std::string() : n.error().message()));
      return *n;
    };
    CHECK(pending() == 0);
    for (int i = 0; i < 4; ++i) must_offer(*inbox, make_record("k" + std::to_string(i)));
    CHECK(pending() == 4);
    const auto leased = must_lease(*inbox, 3);
    REQUIRE(leased.size() == 3);
    CHECK(pending() == 4);  // one queued, three leased
    REQUIRE(outcome(inbox->ack(leased[0].id, leased[0].lease_token, retention_1h)) == "ok");
    REQUIRE(outcome(inbox->dead_letter(leased[1].id, leased[1].lease_token, "gave up")) == "ok");
    CHECK(pending() == 2);
    REQUIRE(outcome(inbox->retry_at(leased[2].id, leased[2].lease_token, clock->now() + hours(1), "later")) == "ok");
    CHECK(pending() == 2);  // waiting for its retry: still in the inbox
  }

  TEST_CASE_FIXTURE(::store_fixture, "offering a queued key again answers duplicate and keeps the first record") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k", "first"));
    CHECK(outcome(inbox->offer(make_record("k", "second"))) == "duplicate");
    clock->advance(hours(1));
    CHECK(outcome(inbox->offer(make_record("k", "third"))) == "duplicate");
    const auto queued = must_list(*inbox, hookrx::entry_state::queued);
    REQUIRE(queued.size() == 1);
    CHECK(queued.front().record.body == "first");
  }

  TEST_CASE_FIXTURE(::store_fixture, "offering a leased key again answers duplicate") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    lease_one(*inbox);
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
    CHECK(must_list(*inbox, hookrx::entry_state::queued).empty());
  }

  TEST_CASE_FIXTURE(::store_fixture, "offering a key that waits for a retry answers duplicate") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto e = lease_one(*inbox);
    REQUIRE(outcome(inbox->retry_at(e.id, e.lease_token, clock->now() + minutes(5), "503")) == "ok");
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
  }

  TEST_CASE_FIXTURE(::store_fixture, "offering an acknowledged key answers duplicate until its retention ends") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto e = lease_one(*inbox);
    REQUIRE(outcome(inbox->ack(e.id, e.lease_token, hours(2))) == "ok");
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
    clock->advance(hours(2) - one_ms);
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
    // Past the retention the key is unknown again (store.hpp: "done within retention"), even
    // before purge_expired() has run.
    clock->advance(2 * one_ms);
    CHECK(outcome(inbox->offer(make_record("k", "redelivered"))) == "queued");
    const auto again = lease_one(*inbox);
    CHECK(again.record.body == "redelivered");
    CHECK(again.id != e.id);
  }

  TEST_CASE_FIXTURE(::store_fixture, "offering a dead-lettered key answers duplicate") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto e = lease_one(*inbox);
    REQUIRE(outcome(inbox->dead_letter(e.id, e.lease_token, "gave up")) == "ok");
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
    clock->advance(hours(24 * 30));
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
    CHECK(must_list(*inbox, hookrx::entry_state::queued).empty());
  }

  TEST_CASE_FIXTURE(::store_fixture, "inbox keys are compared exactly") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    std::string long_key(2048, 'x');
    std::string long_other = long_key;
    long_other.back() = 'y';
    for (const std::string& key : {std::string("a"), std::string("A"), std::string("ab"), std::string("a "),
                                   std::string(u8"caf\u00e9"), std::string(u8"cafe\u0301"), long_key, long_other}) {
      INFO("key of ", key.size(), " bytes: ", key.substr(0, 40));
      CHECK(outcome(inbox->offer(make_record(key))) == "queued");
    }
    CHECK(outcome(inbox->offer(make_record("a"))) == "duplicate");
    CHECK(outcome(inbox->offer(make_record(long_key))) == "duplicate");
    const auto queued = must_list(*inbox, hookrx::entry_state::queued);
    REQUIRE(queued.size() == 8);
    CHECK(queued[6].record.key == long_key);
  }

  // --- inbox: records round-trip -----------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "a record round-trips exactly: binary body, headers, event name, provider, time") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    hookrx::inbox_record rec;
    rec.key = u8"ps:4711:document-processing-finished:\u2713";
    rec.source = hookrx::provider::parashift;
    rec.event_name = "document-processing-finished";
    rec.body.assign("\0{\"a\":1}\0", 9);
    for (int i = 0; i < 512; ++i) rec.body.push_back(static_cast<char>(i & 0xff));  // every byte, 0xFF too
    rec.body.append("\xff\xfe\x00\x01", 4);
    rec.headers = "Content-Type: application/json; charset=utf-8\nUser-Agent: Parashift/2\nX-Request-Id: r-1";
    rec.received_at = hookrx::time_point(milliseconds(1'767'225'600'000 - 3'723'456));  // ms precision
    must_offer(*inbox, rec);

    const auto listed = must_list(*inbox, hookrx::entry_state::queued);
    REQUIRE(listed.size() == 1);
    check_record(listed.front().record, rec);
    const auto leased = lease_one(*inbox);
    check_record(leased.record, rec);
    check_record(must_find(*inbox, leased.id).record, rec);
  }

  TEST_CASE_FIXTURE(::store_fixture, "a record's origin round-trips: a polled event leases as a poll") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    auto polled = make_record("pp:polled");
    polled.origin = hookrx::delivery_origin::poll;
    must_offer(*inbox, make_record("pp:webhook"));
    must_offer(*inbox, polled);
    const auto leased = must_lease(*inbox, 2);
    REQUIRE(leased.size() == 2);
    CHECK(leased[0].record.origin == hookrx::delivery_origin::webhook);
    CHECK(leased[1].record.origin == hookrx::delivery_origin::poll);
    check_record(must_find(*inbox, leased[1].id).record, polled);
  }

  // --- inbox: find by key ---------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "find by key answers the entry in every state, and nothing for unknown keys") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    auto none = inbox->find("pp:unknown");
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());
    must_offer(*inbox, make_record("pp:a"));
    must_offer(*inbox, make_record("pp:b"));
    const auto state_of = [&](const std::string& key) -> std::string {
      auto r = inbox->find(key);
      if (!r) return failure(r.error());
      if (!*r) return "none";
      CHECK((*r)->record.key == key);
      return name((*r)->state);
    };
    CHECK(state_of("pp:a") == "queued");
    CHECK(state_of("pp:A") == "none");
    const auto a = lease_one(*inbox);
    CHECK(state_of("pp:a") == "leased");
    REQUIRE(outcome(inbox->ack(a.id, a.lease_token, retention_1h)) == "ok");
    CHECK(state_of("pp:a") == "done");
    const auto b = lease_one(*inbox);
    REQUIRE(outcome(inbox->dead_letter(b.id, b.lease_token, "boom")) == "ok");
    CHECK(state_of("pp:b") == "dead");
    clock->advance(retention_1h + one_ms);
    CHECK(state_of("pp:a") == "none");  // past retention: offer() would queue it as new
    CHECK(state_of("pp:b") == "dead");
  }

  // --- poll store: watch list ---------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "a watched id is added once and is due only from its due time") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    hookrx::watch_entry e;
    e.id = "ext_1";
    e.due_at = clock->now() + minutes(5);
    e.polls = 7;  // ignored: a new entry starts at zero
    auto added = ps->watch(e);
    REQUIRE(added.has_value());
    CHECK(*added);
    hookrx::watch_entry again = e;
    again.due_at = clock->now();
    added = ps->watch(again);
    REQUIRE(added.has_value());
    CHECK_FALSE(*added);  // kept as it was: not due now
    auto due = ps->due(10);
    REQUIRE(due.has_value());
    CHECK(due->empty());
    clock->advance(minutes(5));
    due = ps->due(10);
    REQUIRE(due.has_value());
    REQUIRE(due->size() == 1);
    CHECK((*due)[0].id == "ext_1");
    CHECK((*due)[0].source == hookrx::provider::perfectparser);
    CHECK((*due)[0].polls == 0);
    CHECK((*due)[0].documents_seen == 0);
    CHECK_FALSE((*due)[0].expected_at.has_value());
    CHECK(ms_of((*due)[0].due_at) == ms_of(e.due_at));
  }

  TEST_CASE_FIXTURE(::store_fixture, "due ids come earliest first, at most max, and providers keep separate ids") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    for (int i = 0; i < 5; ++i) {
      hookrx::watch_entry e;
      e.id = "id_" + std::to_string(i);
      e.due_at = clock->now() - seconds(10 * (5 - i));  // id_0 is the earliest
      REQUIRE(ps->watch(e).has_value());
    }
    hookrx::watch_entry doc;
    doc.source = hookrx::provider::parashift;
    doc.id = "id_0";
    doc.due_at = clock->now();
    doc.expected_at = clock->now() - minutes(1);
    auto added = ps->watch(doc);
    REQUIRE(added.has_value());
    CHECK(*added);
    auto due = ps->due(3);
    REQUIRE(due.has_value());
    REQUIRE(due->size() == 3);
    CHECK((*due)[0].id == "id_0");
    CHECK((*due)[1].id == "id_1");
    CHECK((*due)[2].id == "id_2");
    due = ps->due(100);
    REQUIRE(due.has_value());
    REQUIRE(due->size() == 6);
    CHECK((*due)[5].source == hookrx::provider::parashift);
    REQUIRE((*due)[5].expected_at.has_value());
    CHECK(ms_of(*(*due)[5].expected_at) == ms_of(*doc.expected_at));
  }

  TEST_CASE_FIXTURE(::store_fixture, "reschedule counts a poll and moves the due time, and unwatch forgets the id") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    hookrx::watch_entry e;
    e.id = "ext_r";
    e.due_at = clock->now();
    REQUIRE(ps->watch(e).has_value());
    REQUIRE(outcome(ps->reschedule(e.source, "ext_r", clock->now() + minutes(2))) == "ok");
    auto w = ps->watched(e.source, "ext_r");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK((*w)->polls == 1);
    CHECK(ms_of((*w)->due_at) == ms_of(clock->now() + minutes(2)));
    auto due = ps->due(10);
    REQUIRE(due.has_value());
    CHECK(due->empty());
    CHECK(outcome(ps->reschedule(e.source, "ext_unknown", clock->now())) == "error: not_found");
    CHECK(outcome(ps->reschedule(hookrx::provider::parashift, "ext_r", clock->now())) == "error: not_found");
    REQUIRE(outcome(ps->unwatch(e.source, "ext_r")) == "ok");
    w = ps->watched(e.source, "ext_r");
    REQUIRE(w.has_value());
    CHECK_FALSE(w->has_value());
    CHECK(outcome(ps->unwatch(e.source, "ext_r")) == "ok");  // a no-op the second time
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "note_document watches a new extraction and counts every document, also concurrently") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    const auto due_at = clock->now() + minutes(10);
    run_threads(8, [&](int) {
      for (int i = 0; i < 5; ++i) (void)ps->note_document(hookrx::provider::perfectparser, "ext_n", due_at);
    });
    auto w = ps->watched(hookrx::provider::perfectparser, "ext_n");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK((*w)->documents_seen == 40);
    CHECK(ms_of((*w)->due_at) == ms_of(due_at));
    CHECK((*w)->polls == 0);
  }

  TEST_CASE_FIXTURE(
      ::store_fixture,
      "note_document_async counts as note_document does, calls done once each, then the async unwatch and watch") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    const auto due_at = clock->now() + minutes(10);
    constexpr int notes = 20;
    std::atomic<int> ok{0};
    std::atomic<int> calls{0};
    for (int i = 0; i < notes; ++i) {
      ps->note_document_async(hookrx::provider::perfectparser, "ext_async", due_at, [&](const hookrx::status& st) {
        calls.fetch_add(1);
        if (st) ok.fetch_add(1);
      });
    }
    if (inbox != nullptr) inbox->wait_async();  // a store that completes later (SQLite) has by now
    CHECK(calls.load() == notes);
    CHECK(ok.load() == notes);
    auto w = ps->watched(hookrx::provider::perfectparser, "ext_async");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK((*w)->documents_seen == notes);
    CHECK(ms_of((*w)->due_at) == ms_of(due_at));
    std::promise<hookrx::status> unwatched;
    auto u = unwatched.get_future();
    ps->unwatch_async(hookrx::provider::perfectparser, "ext_async",
                      [&unwatched](hookrx::status st) { unwatched.set_value(st); });
    CHECK(outcome(u.get()) == "ok");
    w = ps->watched(hookrx::provider::perfectparser, "ext_async");
    REQUIRE(w.has_value());
    CHECK_FALSE(w->has_value());
    const auto watch_async = [&](const hookrx::watch_entry& e) {
      std::promise<hookrx::result<bool>> added;
      auto r = added.get_future();
      ps->watch_async(e, [&added](hookrx::result<bool> got) { added.set_value(got); });
      return r.get();
    };
    hookrx::watch_entry e;
    e.source = hookrx::provider::perfectparser;
    e.id = "ext_async";
    e.due_at = due_at;
    auto added = watch_async(e);
    REQUIRE(added.has_value());
    CHECK(*added);
    added = watch_async(e);
    REQUIRE(added.has_value());
    CHECK_FALSE(*added);  // watched already: kept as it was
    w = ps->watched(hookrx::provider::perfectparser, "ext_async");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK((*w)->documents_seen == 0);
  }

  // --- poll store: watermarks and the leader lease ------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "a watermark is unset until set, then keeps the last value to the millisecond") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    auto w = ps->watermark("sweep:perfectparser");
    REQUIRE(w.has_value());
    CHECK_FALSE(w->has_value());
    const hookrx::time_point t1 = hookrx::time_point(milliseconds(1'767'225'600'123));
    REQUIRE(outcome(ps->set_watermark("sweep:perfectparser", t1)) == "ok");
    REQUIRE(outcome(ps->set_watermark("other", t1 + hours(1))) == "ok");
    w = ps->watermark("sweep:perfectparser");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK(ms_of(**w) == ms_of(t1));
    REQUIRE(outcome(ps->set_watermark("sweep:perfectparser", t1 + milliseconds(1))) == "ok");
    w = ps->watermark("sweep:perfectparser");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK(ms_of(**w) == ms_of(t1) + 1);
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "one holder leads at a time, renews its lease, and loses it to another once it runs out") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    const auto lead = [&](const char* holder) -> std::string {
      auto r = ps->try_lead("poller", holder, seconds(30));
      if (!r) return failure(r.error());
      return *r ? "leads" : "follows";
    };
    CHECK(lead("a") == "leads");
    CHECK(lead("b") == "follows");
    clock->advance(seconds(20));
    CHECK(lead("a") == "leads");  // renewed: until now + 30 s
    clock->advance(seconds(20));
    CHECK(lead("b") == "follows");
    clock->advance(seconds(10) + one_ms);
    CHECK(lead("b") == "leads");  // a stopped renewing: b takes over
    CHECK(lead("a") == "follows");
    REQUIRE(outcome(ps->resign("poller", "a")) == "ok");  // not the holder: no effect
    CHECK(lead("a") == "follows");
    REQUIRE(outcome(ps->resign("poller", "b")) == "ok");
    CHECK(lead("a") == "leads");
  }

  TEST_CASE_FIXTURE(::store_fixture, "of 16 instances racing for the lease exactly one leads") {
    HOOKRX_CONFORMANCE_NEEDS_POLL();
    std::atomic<int> leaders{0};
    run_threads(16, [&](int i) {
      auto r = ps->try_lead("race", "holder-" + std::to_string(i), seconds(30));
      if (r && *r) leaders.fetch_add(1);
    });
    CHECK(leaders.load() == 1);
  }

  TEST_CASE_FIXTURE(::store_fixture, "received_at keeps at least millisecond precision") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    auto rec = make_record("k");
    const hookrx::time_point exact =
        hookrx::time_point(milliseconds(1'767'225'600'456)) + std::chrono::microseconds(789);
    rec.received_at = exact;
    must_offer(*inbox, rec);
    const auto got = lease_one(*inbox).record.received_at;
    const auto diff = got > exact ? got - exact : exact - got;
    CHECK(std::chrono::duration_cast<std::chrono::microseconds>(diff).count() < 1000);
  }

  TEST_CASE_FIXTURE(::store_fixture, "an empty body and empty headers round-trip") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    auto rec = make_record("k", "");
    rec.headers.clear();
    rec.event_name.clear();
    must_offer(*inbox, rec);
    check_record(lease_one(*inbox).record, rec);
  }

  TEST_CASE_FIXTURE(::store_fixture, "a 1 MiB body round-trips") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    std::string body(1u << 20, '\0');
    std::uint32_t x = 2463534242u;  // xorshift: every byte value, no pattern a store could compress away
    for (auto& c : body) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      c = static_cast<char>(x & 0xff);
    }
    must_offer(*inbox, make_record("big", body));
    const auto e = lease_one(*inbox);
    CHECK(e.record.body.size() == body.size());
    CHECK_MESSAGE(first_difference(e.record.body, body) == -1, "the 1 MiB body differs");
  }

  // --- inbox: lease ----------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "lease returns due entries oldest first, counts the attempt and sets the lease") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (const char* key : {"first", "second", "third"}) {
      must_offer(*inbox, make_record(key));
      clock->advance(seconds(1));
    }
    const auto batch = must_lease(*inbox, 10, seconds(45));
    REQUIRE(batch.size() == 3);
    CHECK(keys_of(batch) == std::vector<std::string>{"first", "second", "third"});
    for (const auto& e : batch) {
      INFO("key ", e.record.key);
      CHECK(name(e.state) == "leased");
      CHECK(e.attempts == 1);
      CHECK(e.lease_token != 0);
      CHECK(ms_of(e.lease_until) == ms_of(clock->now() + seconds(45)));
      const auto got = must_find(*inbox, e.id);
      CHECK(name(got.state) == "leased");
      CHECK(got.attempts == 1);
      CHECK(got.lease_token == e.lease_token);
      CHECK(ms_of(got.lease_until) == ms_of(e.lease_until));
    }
    CHECK(must_lease(*inbox, 10).empty());
    CHECK(must_list(*inbox, hookrx::entry_state::leased).size() == 3);
    CHECK(must_list(*inbox, hookrx::entry_state::queued).empty());
  }

  TEST_CASE_FIXTURE(::store_fixture, "entries offered at the same instant are leased in offer order") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    std::vector<std::string> keys;
    for (int i = 0; i < 6; ++i) {
      keys.push_back("same-instant-" + std::to_string(i));
      must_offer(*inbox, make_record(keys.back()));
    }
    auto first = must_lease(*inbox, 4);
    auto rest = must_lease(*inbox, 4);
    CHECK(keys_of(first) == std::vector<std::string>(keys.begin(), keys.begin() + 4));
    CHECK(keys_of(rest) == std::vector<std::string>(keys.begin() + 4, keys.end()));
  }

  TEST_CASE_FIXTURE(::store_fixture, "lease orders by due time, not by id") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (const char* key : {"a", "b", "c"}) must_offer(*inbox, make_record(key));
    const auto batch = must_lease(*inbox, 3);
    REQUIRE(keys_of(batch) == std::vector<std::string>{"a", "b", "c"});
    const auto now = clock->now();
    REQUIRE(outcome(inbox->retry_at(batch[0].id, batch[0].lease_token, now + seconds(3), "e")) == "ok");
    REQUIRE(outcome(inbox->retry_at(batch[1].id, batch[1].lease_token, now + seconds(2), "e")) == "ok");
    REQUIRE(outcome(inbox->retry_at(batch[2].id, batch[2].lease_token, now + seconds(1), "e")) == "ok");
    clock->advance(milliseconds(2500));
    must_offer(*inbox, make_record("d"));  // due now: after c and b, before a
    clock->advance(milliseconds(500));
    CHECK(keys_of(must_lease(*inbox, 10)) == std::vector<std::string>{"c", "b", "d", "a"});
  }

  TEST_CASE_FIXTURE(::store_fixture, "lease never returns more than max") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (int i = 0; i < 10; ++i) must_offer(*inbox, make_record("k" + std::to_string(i)));
    CHECK(must_lease(*inbox, 0).empty());
    CHECK(must_lease(*inbox, 3).size() == 3);
    CHECK(must_lease(*inbox, 1).size() == 1);
    CHECK(must_lease(*inbox, 100).size() == 6);
    CHECK(must_lease(*inbox, 5).empty());
    CHECK(must_list(*inbox, hookrx::entry_state::leased).size() == 10);
  }

  TEST_CASE_FIXTURE(::store_fixture, "lease on an empty inbox returns nothing") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    CHECK(must_lease(*inbox, 10).empty());
    clock->advance(hours(24));
    CHECK(must_lease(*inbox, 10).empty());
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "a leased entry comes back only after its lease ends, with attempt 2 and a new token") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k", "payload"));
    const auto first = lease_one(*inbox, seconds(30));
    CHECK(first.attempts == 1);
    CHECK(must_lease(*inbox, 10, seconds(30)).empty());
    clock->advance(seconds(30) - one_ms);
    CHECK(must_lease(*inbox, 10, seconds(30)).empty());
    clock->advance(2 * one_ms);
    const auto second = lease_one(*inbox, seconds(30));
    CHECK(second.id == first.id);
    CHECK(second.attempts == 2);
    CHECK(second.lease_token != 0);
    CHECK(second.lease_token != first.lease_token);
    CHECK(second.record.body == "payload");
    CHECK(ms_of(second.lease_until) == ms_of(clock->now() + seconds(30)));
    // The first worker's token is void for every operation, and leaves the new lease untouched.
    CHECK(outcome(inbox->ack(first.id, first.lease_token, retention_1h)) == "error: in_progress");
    CHECK(outcome(inbox->retry_at(first.id, first.lease_token, clock->now(), "x")) == "error: in_progress");
    CHECK(outcome(inbox->dead_letter(first.id, first.lease_token, "x")) == "error: in_progress");
    CHECK(outcome(inbox->release(first.id, first.lease_token)) == "error: in_progress");
    const auto now_held = must_find(*inbox, first.id);
    CHECK(name(now_held.state) == "leased");
    CHECK(now_held.lease_token == second.lease_token);
    CHECK(now_held.attempts == 2);
    CHECK(now_held.last_error.empty());
    CHECK(outcome(inbox->ack(second.id, second.lease_token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture, "expired leases are handed out again together with queued entries") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("early"));
    const auto early = lease_one(*inbox, seconds(10));
    clock->advance(seconds(5));
    must_offer(*inbox, make_record("late"));
    clock->advance(seconds(10));
    const auto batch = must_lease(*inbox, 10);
    REQUIRE(batch.size() == 2);
    const auto batch_keys = keys_of(batch);
    CHECK(std::set<std::string>(batch_keys.begin(), batch_keys.end()) == std::set<std::string>{"early", "late"});
    for (const auto& e : batch) CHECK(e.attempts == (e.id == early.id ? 2 : 1));
  }

  TEST_CASE_FIXTURE(::store_fixture, "a lease that ran out with no new lease may still be settled, consistently") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto e = lease_one(*inbox, seconds(10));
    clock->advance(seconds(11));
    auto late = inbox->ack(e.id, e.lease_token, retention_1h);
    if (late) {
      CHECK(name(must_find(*inbox, e.id).state) == "done");
      CHECK(must_lease(*inbox, 10).empty());
    } else {
      CHECK(failure(late.error()) == "error: in_progress");
      CHECK(lease_one(*inbox).attempts == 2);
    }
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
  }

  // --- inbox: ack ------------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "ack marks the entry done, keeps its key, and takes it out of the queue") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k", std::string(4096, 'b')));
    const auto e = lease_one(*inbox);
    REQUIRE(outcome(inbox->ack(e.id, e.lease_token, retention_1h)) == "ok");
    const auto got = must_find(*inbox, e.id);
    CHECK(name(got.state) == "done");
    CHECK(got.record.key == "k");
    CHECK((got.record.body.empty() || got.record.body == e.record.body));  // the body may be dropped
    const auto done = must_list(*inbox, hookrx::entry_state::done);
    REQUIRE(done.size() == 1);
    CHECK(done.front().id == e.id);
    CHECK(must_list(*inbox, hookrx::entry_state::leased).empty());
    clock->advance(hours(24 * 365));
    CHECK(must_lease(*inbox, 10).empty());
  }

  TEST_CASE_FIXTURE(::store_fixture, "a token stops working once its lease is settled") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    // retry_at settles the lease: the entry is queued and the token void.
    const auto t1 = lease_one(*inbox);
    REQUIRE(outcome(inbox->retry_at(t1.id, t1.lease_token, clock->now(), "500")) == "ok");
    CHECK(outcome(inbox->ack(t1.id, t1.lease_token, retention_1h)) == "error: in_progress");
    CHECK(outcome(inbox->retry_at(t1.id, t1.lease_token, clock->now(), "x")) == "error: in_progress");
    // dead_letter settles it: the dead entry refuses the token.
    const auto t2 = lease_one(*inbox);
    REQUIRE(outcome(inbox->dead_letter(t2.id, t2.lease_token, "gave up")) == "ok");
    CHECK(outcome(inbox->ack(t2.id, t2.lease_token, retention_1h)) == "error: in_progress");
    CHECK(outcome(inbox->release(t2.id, t2.lease_token)) == "error: in_progress");
    CHECK(outcome(inbox->retry_at(t2.id, t2.lease_token, clock->now(), "x")) == "error: in_progress");
    CHECK(name(must_find(*inbox, t2.id).state) == "dead");
    // release settles it: the queued entry refuses the token.
    REQUIRE(outcome(inbox->replay(t2.id)) == "ok");
    const auto t3 = lease_one(*inbox);
    REQUIRE(outcome(inbox->release(t3.id, t3.lease_token)) == "ok");
    CHECK(outcome(inbox->ack(t3.id, t3.lease_token, retention_1h)) == "error: in_progress");
    CHECK(outcome(inbox->dead_letter(t3.id, t3.lease_token, "x")) == "error: in_progress");
    CHECK(name(must_find(*inbox, t3.id).state) == "queued");
    // ack settles it: the done entry refuses the token.
    const auto t4 = lease_one(*inbox);
    REQUIRE(outcome(inbox->ack(t4.id, t4.lease_token, retention_1h)) == "ok");
    CHECK(outcome(inbox->ack(t4.id, t4.lease_token, retention_1h)) == "error: in_progress");
    CHECK(outcome(inbox->release(t4.id, t4.lease_token)) == "error: in_progress");
    CHECK(outcome(inbox->dead_letter(t4.id, t4.lease_token, "x")) == "error: in_progress");
    CHECK(name(must_find(*inbox, t4.id).state) == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture, "a wrong or zero token is refused and leaves the lease to its holder") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto e = lease_one(*inbox);
    for (const std::uint64_t bad : {other_token(e.lease_token), std::uint64_t{0}}) {
      CHECK(outcome(inbox->ack(e.id, bad, retention_1h)) == "error: in_progress");
      CHECK(outcome(inbox->retry_at(e.id, bad, clock->now(), "x")) == "error: in_progress");
      CHECK(outcome(inbox->dead_letter(e.id, bad, "x")) == "error: in_progress");
      CHECK(outcome(inbox->release(e.id, bad)) == "error: in_progress");
    }
    const auto got = must_find(*inbox, e.id);
    CHECK(name(got.state) == "leased");
    CHECK(got.attempts == 1);
    CHECK(outcome(inbox->ack(e.id, e.lease_token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture, "operations on an unknown id fail without creating anything") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto e = lease_one(*inbox);
    const std::int64_t unknown = e.id + 1000;
    for (const std::string& got :
         {outcome(inbox->ack(unknown, e.lease_token, retention_1h)),
          outcome(inbox->retry_at(unknown, e.lease_token, clock->now(), "x")),
          outcome(inbox->dead_letter(unknown, e.lease_token, "x")), outcome(inbox->release(unknown, e.lease_token))}) {
      CHECK((got == "error: not_found" || got == "error: in_progress"));
    }
    CHECK_FALSE(must_get(*inbox, unknown).has_value());
    CHECK(outcome(inbox->replay(unknown)) == "error: not_found");
    CHECK(name(must_find(*inbox, e.id).state) == "leased");
  }

  // --- inbox: ack_all --------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture,
                    "ack_all marks every entry done, keeps their keys, takes them out of the queue, and counts them") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (const char* key : {"a", "b", "c", "d"}) must_offer(*inbox, make_record(key, std::string(1024, *key)));
    const auto batch = must_lease(*inbox, 3);
    REQUIRE(keys_of(batch) == std::vector<std::string>{"a", "b", "c"});
    CHECK(outcome(inbox->ack_all(refs_of(batch), retention_1h)) == "3");
    for (const auto& e : batch) {
      INFO("key ", e.record.key);
      const auto got = must_find(*inbox, e.id);
      CHECK(name(got.state) == "done");
      CHECK(got.record.key == e.record.key);
      CHECK((got.record.body.empty() || got.record.body == e.record.body));  // the body may be dropped
      // Settled: the token is void, for ack() and for another ack_all().
      CHECK(outcome(inbox->ack(e.id, e.lease_token, retention_1h)) == "error: in_progress");
    }
    CHECK(outcome(inbox->ack_all(refs_of(batch), retention_1h)) == "0");
    CHECK(ids_of(must_list(*inbox, hookrx::entry_state::done)) == ids_of(batch));
    CHECK(must_list(*inbox, hookrx::entry_state::leased).empty());
    CHECK(keys_of(must_list(*inbox, hookrx::entry_state::queued)) == std::vector<std::string>{"d"});
    // The keys are kept for the retention ack_all was given, counted from the ack.
    clock->advance(retention_1h - one_ms);
    for (const auto& e : batch) CHECK(outcome(inbox->offer(make_record(e.record.key))) == "duplicate");
    clock->advance(2 * one_ms);
    CHECK(outcome(inbox->offer(make_record("a"))) == "queued");
    CHECK(keys_of(must_lease(*inbox, 10)) == std::vector<std::string>{"d", "a"});
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "a retention or lease of milliseconds::max() means for good and overflows nothing") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    constexpr auto forever = std::chrono::milliseconds::max();
    for (const char* key : {"a", "b", "c"}) must_offer(*inbox, make_record(key));
    const auto first = must_lease(*inbox, 1, forever);  // a
    REQUIRE(keys_of(first) == std::vector<std::string>{"a"});
    const auto rest = must_lease(*inbox, 2);  // b, c
    CHECK(outcome(inbox->ack(rest[0].id, rest[0].lease_token, forever)) == "ok");
    CHECK(outcome(inbox->ack_all({{rest[1].id, rest[1].lease_token}}, forever)) == "1");
    clock->advance(hours(24 * 365 * 10));
    for (const char* key : {"b", "c"}) CHECK(outcome(inbox->offer(make_record(key))) == "duplicate");
    CHECK(must_lease(*inbox, 10).empty());  // a's lease has not run out either
    CHECK(outcome(inbox->ack(first[0].id, first[0].lease_token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "ack_all skips entries another lease took over, acks the rest, and the new holder acks its own") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (const char* key : {"a", "b", "c", "d"}) must_offer(*inbox, make_record(key));
    const auto short_lease = must_lease(*inbox, 2, seconds(10));
    REQUIRE(keys_of(short_lease) == std::vector<std::string>{"a", "b"});
    const auto long_lease = must_lease(*inbox, 2, hours(1));
    REQUIRE(keys_of(long_lease) == std::vector<std::string>{"c", "d"});
    clock->advance(seconds(11));
    const auto taken_over = must_lease(*inbox, 10);  // a and b, whose leases ran out
    REQUIRE(keys_of(taken_over) == std::vector<std::string>{"a", "b"});

    // The first worker acks all four at once: its tokens for a and b are stale, so only c and d count.
    const std::vector<hookrx::lease_ref> first_worker = {
        {short_lease[0].id, short_lease[0].lease_token},
        {long_lease[0].id, long_lease[0].lease_token},
        {short_lease[1].id, short_lease[1].lease_token},
        {long_lease[1].id, long_lease[1].lease_token},
    };
    CHECK(outcome(inbox->ack_all(first_worker, retention_1h)) == "2");
    for (const auto& e : long_lease) CHECK(name(must_find(*inbox, e.id).state) == "done");
    for (const auto& e : taken_over) {
      INFO("key ", e.record.key);
      const auto held = must_find(*inbox, e.id);
      CHECK(name(held.state) == "leased");
      CHECK(held.lease_token == e.lease_token);
      CHECK(held.attempts == 2);
      CHECK(ms_of(held.lease_until) == ms_of(e.lease_until));
    }
    CHECK(ids_of(must_list(*inbox, hookrx::entry_state::leased)) == ids_of(taken_over));

    CHECK(outcome(inbox->ack_all(refs_of(taken_over), retention_1h)) == "2");
    CHECK(must_list(*inbox, hookrx::entry_state::done).size() == 4);
    CHECK(must_list(*inbox, hookrx::entry_state::leased).empty());
  }

  TEST_CASE_FIXTURE(::store_fixture, "ack_all of an empty list returns 0 and changes nothing") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    CHECK(outcome(inbox->ack_all({}, retention_1h)) == "0");
    must_offer(*inbox, make_record("leased"));
    must_offer(*inbox, make_record("queued"));
    const auto e = lease_one(*inbox);
    REQUIRE(e.record.key == "leased");
    CHECK(outcome(inbox->ack_all({}, retention_1h)) == "0");
    const auto got = must_find(*inbox, e.id);
    CHECK(name(got.state) == "leased");
    CHECK(got.lease_token == e.lease_token);
    CHECK(got.attempts == 1);
    CHECK(must_list(*inbox, hookrx::entry_state::done).empty());
    CHECK(keys_of(must_list(*inbox, hookrx::entry_state::queued)) == std::vector<std::string>{"queued"});
    CHECK(outcome(inbox->ack(e.id, e.lease_token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "ack_all skips unknown ids and tokens that hold no lease, without creating or changing anything") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (const char* key : {"a", "b", "never-leased"}) must_offer(*inbox, make_record(key));
    const auto batch = must_lease(*inbox, 2);
    REQUIRE(keys_of(batch) == std::vector<std::string>{"a", "b"});
    const std::int64_t never_leased = id_of(*inbox, "never-leased");
    const std::int64_t unknown = never_leased + 1000;
    const std::vector<hookrx::lease_ref> refs = {
        {unknown, batch[0].lease_token},
        {batch[0].id, batch[0].lease_token},
        {batch[1].id, other_token(batch[1].lease_token)},
        {batch[1].id, 0},
        {never_leased, 0},  // a queued entry holds no lease: zero is not its token
        {never_leased, batch[0].lease_token},
    };
    CHECK(outcome(inbox->ack_all(refs, retention_1h)) == "1");
    CHECK_FALSE(must_get(*inbox, unknown).has_value());
    CHECK(name(must_find(*inbox, batch[0].id).state) == "done");
    const auto b = must_find(*inbox, batch[1].id);
    CHECK(name(b.state) == "leased");
    CHECK(b.lease_token == batch[1].lease_token);
    const auto q = must_find(*inbox, never_leased);
    CHECK(name(q.state) == "queued");
    CHECK(q.attempts == 0);
    CHECK(outcome(inbox->ack_all({{unknown, 1}, {unknown + 1, 0}}, retention_1h)) == "0");
    CHECK(outcome(inbox->ack(batch[1].id, batch[1].lease_token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture, "an entry named twice in one ack_all is acknowledged and counted once") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("a"));
    must_offer(*inbox, make_record("b"));
    const auto batch = must_lease(*inbox, 2);
    REQUIRE(batch.size() == 2);
    const hookrx::lease_ref a{batch[0].id, batch[0].lease_token};
    const hookrx::lease_ref b{batch[1].id, batch[1].lease_token};
    CHECK(outcome(inbox->ack_all({a, b, a}, retention_1h)) == "2");
    CHECK(ids_of(must_list(*inbox, hookrx::entry_state::done)) == ids_of(batch));
  }

  // --- inbox: offer_leased and offer_async -----------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture,
                    "offer_leased stores the record leased to the caller, or queues it when the store cannot") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    const auto rec = make_record("pp:ext_1:doc_1:extraction.document_completed", R"({"a":1})");
    auto r = inbox->offer_leased(rec, lease_30s);
    if (has_offers_leased<::store_fixture>::value) REQUIRE(outcome(r) == "queued, leased");
    REQUIRE(r);
    REQUIRE(r->state == hookrx::offer_state::queued);
    if (!r->entry) {  // the default: offer()
      CHECK(lease_one(*inbox).record.key == rec.key);
      return;
    }
    const hookrx::inbox_entry& e = *r->entry;
    CHECK(e.id > 0);
    CHECK(name(e.state) == "leased");
    CHECK(e.attempts == 1);
    CHECK(e.lease_token != 0);
    CHECK(ms_of(e.lease_until) == ms_of(clock->now() + lease_30s));
    check_record(e.record, rec);
    const auto got = must_find(*inbox, e.id);
    CHECK(name(got.state) == "leased");
    CHECK(got.attempts == 1);
    CHECK(got.lease_token == e.lease_token);
    CHECK(ms_of(got.lease_until) == ms_of(e.lease_until));
    check_record(got.record, rec);
    CHECK(must_lease(*inbox, 10).empty());  // not due before its lease ends
    CHECK(outcome(inbox->ack(e.id, e.lease_token, retention_1h)) == "ok");
    CHECK(name(must_find(*inbox, e.id).state) == "done");
  }

  TEST_CASE_FIXTURE(::store_fixture, "offer_leased of a known key answers duplicate with no entry") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k", "first"));
    CHECK(outcome(inbox->offer_leased(make_record("k", "second"), lease_30s)) == "duplicate");
    const auto e = lease_one(*inbox);
    CHECK(e.record.body == "first");
    CHECK(e.attempts == 1);
    CHECK(outcome(inbox->ack(e.id, e.lease_token, retention_1h)) == "ok");
    CHECK(outcome(inbox->offer_leased(make_record("k", "third"), lease_30s)) == "duplicate");
    CHECK(must_lease(*inbox, 10).empty());
  }

  TEST_CASE_FIXTURE(::store_fixture,
                    "an entry offered leased comes back when its lease runs out, and once released, at once") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    auto a = inbox->offer_leased(make_record("a"), lease_30s);
    auto b = inbox->offer_leased(make_record("b"), lease_30s);
    REQUIRE(a);
    REQUIRE(b);
    if (!a->entry || !b->entry) return;  // queued as offer() would: covered by the offer cases
    const hookrx::inbox_entry& ea = *a->entry;
    const hookrx::inbox_entry& eb = *b->entry;
    CHECK(eb.id > ea.id);
    REQUIRE(outcome(inbox->release(eb.id, eb.lease_token)) == "ok");
    const auto released = lease_one(*inbox, hours(1));
    CHECK(released.id == eb.id);
    CHECK(released.attempts == 1);  // the release gave its attempt back
    clock->advance(lease_30s + milliseconds(1));
    const auto again = must_lease(*inbox, 10);
    REQUIRE(keys_of(again) == std::vector<std::string>{"a"});
    CHECK(again.front().attempts == 2);
    CHECK(again.front().lease_token != ea.lease_token);
    CHECK(outcome(inbox->ack(ea.id, ea.lease_token, retention_1h)) == "error: in_progress");
    CHECK(outcome(inbox->ack(ea.id, again.front().lease_token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture, "offer_async answers once with what offer and offer_leased answer") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    const auto offer_async = [&](const hookrx::inbox_record& rec, std::optional<milliseconds> lease) {
      std::promise<hookrx::result<hookrx::leased_offer>> answer;
      auto got = answer.get_future();
      std::atomic<int> calls{0};
      inbox->offer_async(rec, lease, [&](hookrx::result<hookrx::leased_offer> r) {
        if (calls.fetch_add(1) == 0) answer.set_value(std::move(r));
      });
      hookrx::result<hookrx::leased_offer> r = got.get();
      CHECK(calls.load() == 1);
      return r;
    };
    CHECK(outcome(offer_async(make_record("plain"), std::nullopt)) == "queued");
    auto leased = offer_async(make_record("leased"), lease_30s);
    REQUIRE(leased);
    CHECK(leased->state == hookrx::offer_state::queued);
    if (has_offers_leased<::store_fixture>::value) CHECK(outcome(leased) == "queued, leased");
    CHECK(outcome(offer_async(make_record("plain"), lease_30s)) == "duplicate");
    CHECK(outcome(offer_async(make_record("leased"), std::nullopt)) == "duplicate");
    const auto due = must_lease(*inbox, 10);
    std::vector<std::string> want = {"plain"};
    if (!leased->entry) want.emplace_back("leased");
    CHECK(keys_of(due) == want);
    if (leased->entry) {
      const auto got = must_find(*inbox, leased->entry->id);
      CHECK(name(got.state) == "leased");
      CHECK(got.lease_token == leased->entry->lease_token);
      check_record(got.record, make_record("leased"));
    }
  }

  // --- inbox: retry_at -------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "retry_at hides the entry until the given time and records the error") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k", "payload"));
    const auto first = lease_one(*inbox);
    const auto when = clock->now() + seconds(10);
    REQUIRE(outcome(inbox->retry_at(first.id, first.lease_token, when, "handler returned 503")) == "ok");
    const auto waiting = must_find(*inbox, first.id);
    CHECK(name(waiting.state) == "queued");
    CHECK(waiting.last_error == "handler returned 503");
    CHECK(waiting.attempts == 1);
    CHECK(ms_of(waiting.next_attempt_at) == ms_of(when));
    const auto queued = must_list(*inbox, hookrx::entry_state::queued);
    REQUIRE(queued.size() == 1);
    CHECK(queued.front().last_error == "handler returned 503");

    CHECK(must_lease(*inbox, 10).empty());
    clock->advance(seconds(10) - one_ms);
    CHECK(must_lease(*inbox, 10).empty());
    clock->advance(one_ms);  // exactly `when`: due (next_attempt_at <= now)
    const auto second = lease_one(*inbox);
    CHECK(second.id == first.id);
    CHECK(second.attempts == 2);
    CHECK(second.record.body == "payload");
    CHECK(second.last_error == "handler returned 503");  // the last error stays until replaced
  }

  TEST_CASE_FIXTURE(::store_fixture, "retry_at a time already past makes the entry due at once") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto first = lease_one(*inbox);
    REQUIRE(outcome(inbox->retry_at(first.id, first.lease_token, clock->now() - minutes(1), "x")) == "ok");
    const auto second = lease_one(*inbox);
    CHECK(second.id == first.id);
    CHECK(second.attempts == 2);
  }

  TEST_CASE_FIXTURE(::store_fixture, "each retry replaces the last error and counts its attempt") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    for (int attempt = 1; attempt <= 4; ++attempt) {
      const auto e = lease_one(*inbox);
      CHECK(e.attempts == attempt);
      const std::string err = "attempt " + std::to_string(attempt) + " failed";
      REQUIRE(outcome(inbox->retry_at(e.id, e.lease_token, clock->now() + seconds(attempt), err)) == "ok");
      CHECK(must_find(*inbox, e.id).last_error == err);
      clock->advance(seconds(attempt));
    }
    CHECK(lease_one(*inbox).attempts == 5);
  }

  // --- inbox: dead letters and replay -------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "dead_letter moves the entry to the dead letter with its error and body") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    const auto rec = make_record("k", std::string("dead \0 body", 11));
    must_offer(*inbox, rec);
    must_offer(*inbox, make_record("other"));
    const auto e = lease_one(*inbox);
    REQUIRE(e.record.key == "k");
    REQUIRE(outcome(inbox->dead_letter(e.id, e.lease_token, "400 from the handler, attempt 8 of 8")) == "ok");
    const auto dead = must_list(*inbox, hookrx::entry_state::dead);
    REQUIRE(dead.size() == 1);
    CHECK(dead.front().id == e.id);
    CHECK(name(dead.front().state) == "dead");
    CHECK(dead.front().last_error == "400 from the handler, attempt 8 of 8");
    CHECK(dead.front().attempts == 1);
    check_record(dead.front().record, rec);
    const auto got = must_find(*inbox, e.id);
    CHECK(name(got.state) == "dead");
    CHECK(got.last_error == "400 from the handler, attempt 8 of 8");
    // Out of the lease queue for good, whatever the time; the other entry is unaffected.
    clock->advance(hours(24 * 30));
    CHECK(keys_of(must_lease(*inbox, 10)) == std::vector<std::string>{"other"});
    CHECK(must_lease(*inbox, 10).empty());
    CHECK(must_list(*inbox, hookrx::entry_state::dead).size() == 1);
  }

  TEST_CASE_FIXTURE(::store_fixture, "replay queues a dead entry again, due now, with its attempts reset") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    const auto rec = make_record("k", "replay me");
    must_offer(*inbox, rec);
    auto e = lease_one(*inbox);
    REQUIRE(outcome(inbox->retry_at(e.id, e.lease_token, clock->now(), "first")) == "ok");
    e = lease_one(*inbox);
    REQUIRE(e.attempts == 2);
    REQUIRE(outcome(inbox->dead_letter(e.id, e.lease_token, "second")) == "ok");
    clock->advance(hours(3));

    REQUIRE(outcome(inbox->replay(e.id)) == "ok");
    const auto queued = must_find(*inbox, e.id);
    CHECK(name(queued.state) == "queued");
    CHECK(queued.attempts == 0);
    CHECK(ms_of(queued.next_attempt_at) == ms_of(clock->now()));
    CHECK(queued.last_error == "second");
    CHECK(must_list(*inbox, hookrx::entry_state::dead).empty());
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");

    const auto again = lease_one(*inbox);
    CHECK(again.id == e.id);
    CHECK(again.attempts == 1);
    CHECK(again.lease_token != 0);
    check_record(again.record, rec);
    CHECK(outcome(inbox->ack(again.id, again.lease_token, retention_1h)) == "ok");
  }

  TEST_CASE_FIXTURE(::store_fixture, "replay of an entry that is not dead fails with not_found and changes nothing") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (const char* key : {"queued", "leased", "done", "dead"}) must_offer(*inbox, make_record(key));
    auto batch = must_lease(*inbox, 4);
    REQUIRE(keys_of(batch) == std::vector<std::string>{"queued", "leased", "done", "dead"});
    REQUIRE(outcome(inbox->release(batch[0].id, batch[0].lease_token)) == "ok");
    REQUIRE(outcome(inbox->ack(batch[2].id, batch[2].lease_token, retention_1h)) == "ok");
    REQUIRE(outcome(inbox->dead_letter(batch[3].id, batch[3].lease_token, "x")) == "ok");

    CHECK(outcome(inbox->replay(batch[0].id)) == "error: not_found");
    CHECK(outcome(inbox->replay(batch[1].id)) == "error: not_found");
    CHECK(outcome(inbox->replay(batch[2].id)) == "error: not_found");
    CHECK(outcome(inbox->replay(batch[3].id + 100)) == "error: not_found");
    CHECK(name(must_find(*inbox, batch[0].id).state) == "queued");
    CHECK(name(must_find(*inbox, batch[1].id).state) == "leased");
    CHECK(must_find(*inbox, batch[1].id).lease_token == batch[1].lease_token);
    CHECK(name(must_find(*inbox, batch[2].id).state) == "done");
    // A second replay of the same dead letter finds it queued already.
    CHECK(outcome(inbox->replay(batch[3].id)) == "ok");
    CHECK(outcome(inbox->replay(batch[3].id)) == "error: not_found");
  }

  // --- inbox: release --------------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "release returns a lease at once without counting the attempt") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto first = lease_one(*inbox, hours(1));
    REQUIRE(first.attempts == 1);
    REQUIRE(outcome(inbox->release(first.id, first.lease_token)) == "ok");
    const auto got = must_find(*inbox, first.id);
    CHECK(name(got.state) == "queued");
    CHECK(got.attempts == 0);
    CHECK(got.last_error.empty());
    const auto second = lease_one(*inbox);  // no time has passed: due at once
    CHECK(second.id == first.id);
    CHECK(second.attempts == 1);
    CHECK(second.lease_token != first.lease_token);
    CHECK(outcome(inbox->release(first.id, first.lease_token)) == "error: in_progress");
  }

  TEST_CASE_FIXTURE(::store_fixture, "release after failed attempts gives back only the current one") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    auto e = lease_one(*inbox);
    REQUIRE(outcome(inbox->retry_at(e.id, e.lease_token, clock->now(), "boom")) == "ok");
    e = lease_one(*inbox);
    REQUIRE(e.attempts == 2);
    REQUIRE(outcome(inbox->release(e.id, e.lease_token)) == "ok");
    const auto got = must_find(*inbox, e.id);
    CHECK(got.attempts == 1);
    CHECK(got.last_error == "boom");
    CHECK(lease_one(*inbox).attempts == 2);
  }

  TEST_CASE_FIXTURE(::store_fixture, "a released entry is due from the moment of its release") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("a"));
    clock->advance(seconds(1));
    must_offer(*inbox, make_record("b"));
    clock->advance(seconds(1));
    const auto a = lease_one(*inbox);
    REQUIRE(a.record.key == "a");
    clock->advance(seconds(1));
    REQUIRE(outcome(inbox->release(a.id, a.lease_token)) == "ok");  // due now: after b, which was due before
    CHECK(keys_of(must_lease(*inbox, 10)) == std::vector<std::string>{"b", "a"});
  }

  // --- inbox: list and get -----------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture, "list pages by id after after_id, at most limit at a time") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (int i = 0; i < 10; ++i) must_offer(*inbox, make_record("k" + std::to_string(i)));
    const auto all = must_list(*inbox, hookrx::entry_state::queued);
    REQUIRE(all.size() == 10);
    std::vector<std::int64_t> paged;
    std::int64_t after = 0;
    for (int page = 0; page < 10; ++page) {
      const auto chunk = must_list(*inbox, hookrx::entry_state::queued, 3, after);
      if (chunk.empty()) break;
      CHECK(chunk.size() <= 3);
      for (const auto& e : chunk) {
        CHECK(e.id > after);
        paged.push_back(e.id);
      }
      after = chunk.back().id;
    }
    CHECK(paged == ids_of(all));
    CHECK(std::is_sorted(paged.begin(), paged.end()));
    CHECK(std::set<std::int64_t>(paged.begin(), paged.end()).size() == 10);
    CHECK(must_list(*inbox, hookrx::entry_state::queued, 0).empty());
    CHECK(must_list(*inbox, hookrx::entry_state::queued, 100, all.back().id).empty());
    const auto from_middle = must_list(*inbox, hookrx::entry_state::queued, 2, all[4].id);
    CHECK(ids_of(from_middle) == std::vector<std::int64_t>{all[5].id, all[6].id});
  }

  TEST_CASE_FIXTURE(::store_fixture, "done entries list by id, paged, whatever order their retentions end in") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (int i = 0; i < 6; ++i) must_offer(*inbox, make_record("k" + std::to_string(i)));
    const auto batch = must_lease(*inbox, 6);
    REQUIRE(batch.size() == 6);
    // Acknowledged out of id order, the later ones with a shorter retention.
    for (const std::size_t i : {5U, 3U, 1U}) {
      REQUIRE(outcome(inbox->ack(batch[i].id, batch[i].lease_token, retention_1h)) == "ok");
    }
    for (const std::size_t i : {4U, 0U, 2U}) {
      REQUIRE(outcome(inbox->ack(batch[i].id, batch[i].lease_token, minutes(30))) == "ok");
    }
    CHECK(ids_of(must_list(*inbox, hookrx::entry_state::done)) == ids_of(batch));
    std::vector<std::int64_t> paged;
    std::int64_t after = 0;
    for (int page = 0; page < 6; ++page) {
      const auto chunk = must_list(*inbox, hookrx::entry_state::done, 4, after);
      if (chunk.empty()) break;
      CHECK(chunk.size() <= 4);
      for (const auto& e : chunk) {
        CHECK(name(e.state) == "done");
        paged.push_back(e.id);
      }
      after = chunk.back().id;
    }
    CHECK(paged == ids_of(batch));
    CHECK(must_list(*inbox, hookrx::entry_state::done, 0).empty());
    clock->advance(minutes(31));  // the short retentions ended: purged, the rest still listed
    REQUIRE(inbox->purge_expired().has_value());
    CHECK(ids_of(must_list(*inbox, hookrx::entry_state::done)) ==
          std::vector<std::int64_t>{batch[1].id, batch[3].id, batch[5].id});
  }

  TEST_CASE_FIXTURE(::store_fixture, "list shows only the entries in the state asked for") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (int i = 0; i < 10; ++i) must_offer(*inbox, make_record("k" + std::to_string(i)));
    auto batch = must_lease(*inbox, 4);
    REQUIRE(batch.size() == 4);
    REQUIRE(outcome(inbox->ack(batch[0].id, batch[0].lease_token, retention_1h)) == "ok");
    REQUIRE(outcome(inbox->dead_letter(batch[1].id, batch[1].lease_token, "x")) == "ok");
    const auto queued = must_list(*inbox, hookrx::entry_state::queued);
    const auto leased = must_list(*inbox, hookrx::entry_state::leased);
    const auto done = must_list(*inbox, hookrx::entry_state::done);
    const auto dead = must_list(*inbox, hookrx::entry_state::dead);
    CHECK(queued.size() == 6);
    CHECK(ids_of(leased) == std::vector<std::int64_t>{batch[2].id, batch[3].id});
    CHECK(ids_of(done) == std::vector<std::int64_t>{batch[0].id});
    CHECK(ids_of(dead) == std::vector<std::int64_t>{batch[1].id});
    for (const auto& e : queued) CHECK(name(e.state) == "queued");
    for (const auto& e : leased) CHECK(name(e.state) == "leased");
    std::set<std::int64_t> every;
    for (const auto* part : {&queued, &leased, &done, &dead}) {
      for (const auto& e : *part) every.insert(e.id);
    }
    CHECK(every.size() == 10);
  }

  TEST_CASE_FIXTURE(::store_fixture, "get of an unknown id answers nothing, not an error") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    CHECK_FALSE(must_get(*inbox, 1).has_value());
    CHECK_FALSE(must_get(*inbox, 987654321).has_value());
    must_offer(*inbox, make_record("k"));
    const std::int64_t id = id_of(*inbox, "k");
    CHECK(must_get(*inbox, id).has_value());
    CHECK_FALSE(must_get(*inbox, id + 1).has_value());
  }

  // --- inbox: retention and purge ----------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture,
                    "purge_expired forgets done keys past their retention, and their ids stay unused") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    must_offer(*inbox, make_record("k"));
    const auto e = lease_one(*inbox);
    REQUIRE(outcome(inbox->ack(e.id, e.lease_token, retention_1h)) == "ok");
    auto none = inbox->purge_expired();
    REQUIRE(none.has_value());
    CHECK(*none == 0);
    clock->advance(retention_1h - one_ms);
    CHECK(*inbox->purge_expired() == 0);
    CHECK(outcome(inbox->offer(make_record("k"))) == "duplicate");
    clock->advance(2 * one_ms);
    auto purged = inbox->purge_expired();
    REQUIRE(purged.has_value());
    CHECK(*purged == 1);
    CHECK_FALSE(must_get(*inbox, e.id).has_value());
    CHECK(must_list(*inbox, hookrx::entry_state::done).empty());
    CHECK(*inbox->purge_expired() == 0);
    // The key is new again, under a new id: ids are never reused.
    CHECK(outcome(inbox->offer(make_record("k"))) == "queued");
    const std::int64_t again = id_of(*inbox, "k");
    CHECK(again > e.id);
  }

  TEST_CASE_FIXTURE(::store_fixture, "purge_expired never touches queued, leased, waiting or dead entries") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    for (const char* key : {"leased", "waiting", "dead", "done-short", "done-long", "queued"}) {
      must_offer(*inbox, make_record(key));
    }
    auto batch = must_lease(*inbox, 5, hours(24 * 400));
    REQUIRE(keys_of(batch) == std::vector<std::string>{"leased", "waiting", "dead", "done-short", "done-long"});
    REQUIRE(outcome(inbox->retry_at(batch[1].id, batch[1].lease_token, clock->now() + hours(24 * 400), "x")) == "ok");
    REQUIRE(outcome(inbox->dead_letter(batch[2].id, batch[2].lease_token, "x")) == "ok");
    REQUIRE(outcome(inbox->ack(batch[3].id, batch[3].lease_token, hours(1))) == "ok");
    REQUIRE(outcome(inbox->ack(batch[4].id, batch[4].lease_token, hours(24 * 7))) == "ok");
    clock->advance(hours(2));
    auto purged = inbox->purge_expired();
    REQUIRE(purged.has_value());
    CHECK(*purged == 1);
    CHECK_FALSE(must_get(*inbox, batch[3].id).has_value());
    CHECK(name(must_find(*inbox, batch[0].id).state) == "leased");
    CHECK(name(must_find(*inbox, batch[1].id).state) == "queued");
    CHECK(name(must_find(*inbox, batch[2].id).state) == "dead");
    CHECK(name(must_find(*inbox, batch[4].id).state) == "done");
    CHECK(must_list(*inbox, hookrx::entry_state::queued).size() == 2);
    CHECK(outcome(inbox->offer(make_record("done-long"))) == "duplicate");
    clock->advance(hours(24 * 7));
    CHECK(*inbox->purge_expired() == 1);
    CHECK(must_list(*inbox, hookrx::entry_state::dead).size() == 1);
    CHECK(must_list(*inbox, hookrx::entry_state::leased).size() == 1);
  }

  // --- inbox: concurrency ----------------------------------------------------------------------

  TEST_CASE_FIXTURE(::store_fixture,
                    "concurrent offers of one key from 16 threads: exactly one is queued, 20 keys over") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    constexpr int threads = 16;
    constexpr int keys = 20;
    std::vector<std::vector<std::string>> seen(threads);
    run_threads(threads, [&](int t) {
      for (int k = 0; k < keys; ++k) {
        seen[static_cast<std::size_t>(t)].push_back(
            outcome(inbox->offer(make_record("race:" + std::to_string(k), "from thread " + std::to_string(t)))));
      }
    });
    for (int k = 0; k < keys; ++k) {
      std::map<std::string, int> counts;
      for (const auto& per_thread : seen) counts[per_thread[static_cast<std::size_t>(k)]]++;
      INFO("key race:", k);
      CHECK(counts["queued"] == 1);
      CHECK(counts["duplicate"] == threads - 1);
    }
    const auto queued = must_list(*inbox, hookrx::entry_state::queued);
    CHECK(queued.size() == keys);
    const auto queued_keys = keys_of(queued);
    CHECK(std::set<std::string>(queued_keys.begin(), queued_keys.end()).size() == keys);
  }

  TEST_CASE_FIXTURE(::store_fixture, "concurrent leases from 8 threads hand out each of 200 entries exactly once") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    constexpr int entries = 200;
    constexpr int threads = 8;
    for (int i = 0; i < entries; ++i) must_offer(*inbox, make_record("e" + std::to_string(i)));
    std::vector<std::vector<hookrx::inbox_entry>> got(threads);
    std::atomic<int> errors{0};
    run_threads(threads, [&](int t) {
      auto& mine = got[static_cast<std::size_t>(t)];
      // Nothing is released or expires here: an empty lease means all was handed out. A store that
      // hands entries out again would loop forever, hence the bound.
      while (mine.size() <= static_cast<std::size_t>(entries)) {
        auto r = inbox->lease(7, hours(1));
        if (!r) {
          errors.fetch_add(1);
          return;
        }
        if (r->empty()) return;
        for (auto& e : *r) mine.push_back(std::move(e));
      }
    });
    CHECK(errors.load() == 0);
    std::map<std::int64_t, int> times;
    for (const auto& per_thread : got) {
      for (const auto& e : per_thread) {
        times[e.id]++;
        CHECK(e.attempts == 1);
        CHECK(e.lease_token != 0);
      }
    }
    CHECK(times.size() == static_cast<std::size_t>(entries));
    for (const auto& id_and_count : times) {  // no structured binding: INFO's lambda captures it
      INFO("id ", id_and_count.first);
      CHECK(id_and_count.second == 1);
    }
    CHECK(must_list(*inbox, hookrx::entry_state::leased).size() == static_cast<std::size_t>(entries));
  }

  TEST_CASE_FIXTURE(::store_fixture, "producers and workers running together handle every entry exactly once") {
    HOOKRX_CONFORMANCE_NEEDS_INBOX();
    constexpr int producers = 4;
    constexpr int workers = 4;
    constexpr int per_producer = 50;
    std::atomic<int> producing{producers};
    std::atomic<int> errors{0};
    std::vector<std::vector<std::int64_t>> acked(workers);
    run_threads(producers + workers, [&](int t) {
      if (t < producers) {
        for (int i = 0; i < per_producer; ++i) {
          auto r = inbox->offer(make_record("p" + std::to_string(t) + ":" + std::to_string(i)));
          if (!r || *r != hookrx::offer_state::queued) errors.fetch_add(1);
        }
        producing.fetch_sub(1);
        return;
      }
      auto& mine = acked[static_cast<std::size_t>(t - producers)];
      // Bounded like the case above: a correct store hands out each entry once.
      std::size_t received = 0;
      while (received <= static_cast<std::size_t>(producers * per_producer)) {
        const bool last_round = producing.load() == 0;  // read before leasing: nothing new comes after
        auto r = inbox->lease(5, hours(1));
        if (!r) {
          errors.fetch_add(1);
          return;
        }
        received += r->size();
        for (const auto& e : *r) {
          if (inbox->ack(e.id, e.lease_token, retention_1h)) {
            mine.push_back(e.id);
          } else {
            errors.fetch_add(1);
          }
        }
        if (r->empty()) {
          if (last_round) return;
          std::this_thread::yield();
        }
      }
    });
    CHECK(errors.load() == 0);
    std::map<std::int64_t, int> times;
    for (const auto& per_worker : acked) {
      for (const std::int64_t id : per_worker) times[id]++;
    }
    CHECK(times.size() == static_cast<std::size_t>(producers * per_producer));
    for (const auto& id_and_count : times) {  // no structured binding: INFO's lambda captures it
      INFO("id ", id_and_count.first);
      CHECK(id_and_count.second == 1);
    }
    CHECK(must_list(*inbox, hookrx::entry_state::done).size() == static_cast<std::size_t>(producers * per_producer));
    CHECK(must_list(*inbox, hookrx::entry_state::queued).empty());
  }
}

}  // namespace hookrx_conformance
