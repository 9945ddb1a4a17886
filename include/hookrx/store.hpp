// hookrx/store.hpp: the two store roles delivery guarantees rest on, one small interface each.
//
// A `dedup_store` remembers idempotency keys: a claim is atomic (exactly one caller wins a new key),
// a completed key is remembered for a retention longer than the senders' retry horizon, and a
// claim is a lease that expires, so a crashed worker does not block an event forever.
// An `inbox_store` keeps deliveries durably between the 2xx and the handler: offer() stores a
// delivery and checks its key in one atomic step; workers lease entries, then ack, retry later or
// dead-letter them.
//
// Backends (memory, SQLite, PostgreSQL; Redis for dedup only) are separate targets and all pass
// the same conformance suite (tests/stores/). Every method is safe to call from any thread. A
// backend that cannot reach its storage in time returns errc::store_unavailable; nothing is
// reported stored that was not.
//
//   auto claim = store->try_claim(ev.key(), std::chrono::seconds(30));
//   if (claim && claim->state == hookrx::claim_state::claimed) {
//     bool ok = run_handlers(ev);
//     ok ? store->complete(ev.key(), claim->token, retention) : store->release(ev.key(), claim->token);
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hookrx/clock.hpp"
#include "hookrx/error.hpp"
#include "hookrx/events.hpp"

namespace hookrx {

/// What try_claim() found.
enum class claim_state : std::uint8_t {
  claimed,      ///< the caller owns the key now: process, then complete() or release()
  done,         ///< processed before (within retention): acknowledge as a duplicate
  in_progress,  ///< another caller holds an unexpired claim: try again later
};
[[nodiscard]] std::string_view to_string(claim_state s) noexcept;

struct claim {
  claim_state state = claim_state::claimed;
  /// Proves ownership to complete() and release(); non-zero only when state == claimed.
  std::uint64_t token = 0;
};

/// Seven days: longer than either sender retries (PerfectParser ~155 min, Parashift ~17 h).
inline constexpr std::chrono::milliseconds default_retention = std::chrono::hours(24 * 7);

class dedup_store {
 public:
  virtual ~dedup_store() = default;

  /// Claims `key` for `lease` unless it is done or claimed by someone else. A claim whose lease
  /// has run out, or that was released, can be claimed again (with a new token).
  [[nodiscard]] virtual result<claim> try_claim(std::string_view key, std::chrono::milliseconds lease) = 0;
  /// Marks a claimed key done; it then answers `done` for `retention`. Fails with
  /// errc::in_progress when `token` no longer owns the claim (its lease ran out and another caller
  /// claimed the key).
  [[nodiscard]] virtual status complete(std::string_view key, std::uint64_t token,
                                        std::chrono::milliseconds retention) = 0;
  /// Gives a claim up so that the next try_claim() wins it. A stale token is a no-op.
  [[nodiscard]] virtual status release(std::string_view key, std::uint64_t token) = 0;
  /// Forgets keys whose retention (or claim) has ended; returns how many. Stores that expire keys
  /// by themselves (Redis TTLs) have nothing to do.
  [[nodiscard]] virtual result<std::size_t> purge_expired() { return std::size_t{0}; }
};

/// A delivery as the inbox keeps it.
struct inbox_record {
  std::string key;  ///< the event's idempotency key: unique in the inbox
  provider source = provider::perfectparser;
  std::string event_name;
  std::string body;  ///< the raw body, as verified
  /// Headers kept for audit and replay, as "Name: value" lines joined by '\n'. Never credentials.
  std::string headers;
  time_point received_at{};
  /// webhook, or poll for an event the fallback poller fetched; restored on the dispatched event.
  delivery_origin origin = delivery_origin::webhook;
};

enum class offer_state : std::uint8_t {
  queued,     ///< stored durably: safe to acknowledge
  duplicate,  ///< the key is already queued, in flight, done within retention, or dead-lettered
};

enum class entry_state : std::uint8_t {
  queued,  ///< waiting for a worker (or for its next attempt)
  leased,  ///< a worker holds it until lease_until
  done,    ///< handled; only the key is kept, until retention ends
  dead,    ///< failed every attempt; kept until replayed
};
[[nodiscard]] std::string_view to_string(entry_state s) noexcept;

struct inbox_entry {
  std::int64_t id = 0;
  inbox_record record;
  entry_state state = entry_state::queued;
  /// Attempts started so far; lease() counts one, release() gives it back.
  int attempts = 0;
  time_point next_attempt_at{};
  time_point lease_until{};
  std::uint64_t lease_token = 0;
  std::string last_error;
};

class inbox_store {
 public:
  virtual ~inbox_store() = default;

  /// Stores `rec` durably and queues it, unless its key is already known (queued, leased, done
  /// within retention, or dead). Returns only once the entry is durable. Taken by value: pass an
  /// rvalue (std::move) and a store that keeps the record in memory takes the body without a copy.
  [[nodiscard]] virtual result<offer_state> offer(inbox_record rec) = 0;

  /// Leases up to `max` entries that are due (queued with next_attempt_at <= now, or leased with
  /// an expired lease), oldest due first, for `lease`; counts an attempt on each.
  [[nodiscard]] virtual result<std::vector<inbox_entry>> lease(std::size_t max, std::chrono::milliseconds lease) = 0;

  /// The handlers succeeded: done; the key is kept for `retention`, the body dropped.
  [[nodiscard]] virtual status ack(std::int64_t id, std::uint64_t token, std::chrono::milliseconds retention) = 0;
  /// The handlers failed: queue again for `when`, remembering `error`.
  [[nodiscard]] virtual status retry_at(std::int64_t id, std::uint64_t token, time_point when,
                                        std::string_view error) = 0;
  /// The last attempt failed: move to the dead letter with `error`.
  [[nodiscard]] virtual status dead_letter(std::int64_t id, std::uint64_t token, std::string_view error) = 0;
  /// Return a lease unprocessed (shutdown): queued again at once, the attempt not counted.
  [[nodiscard]] virtual status release(std::int64_t id, std::uint64_t token) = 0;
  // ack, retry_at, dead_letter and release fail with errc::in_progress when `token` no longer owns
  // the entry (its lease ran out and another worker leased it), and may fail with errc::not_found
  // for an id that does not exist. Ids increase in offer order and are never reused.

  /// Entries in `state`, by id, after `after_id`, at most `limit`.
  [[nodiscard]] virtual result<std::vector<inbox_entry>> list(entry_state state, std::size_t limit,
                                                              std::int64_t after_id = 0) = 0;
  /// One entry by id; nullopt when there is none.
  [[nodiscard]] virtual result<std::optional<inbox_entry>> get(std::int64_t id) = 0;
  /// Queue a dead-lettered entry again, due now, with its attempts reset. errc::not_found when
  /// there is no dead entry with that id.
  [[nodiscard]] virtual status replay(std::int64_t id) = 0;
  /// Forgets done keys whose retention has ended; returns how many. (A store with both roles
  /// implements one purge_expired() for both.)
  [[nodiscard]] virtual result<std::size_t> purge_expired() = 0;
};

}  // namespace hookrx
