// hookrx/store.hpp: the two store roles delivery guarantees rest on, one small interface each.
//
// A `dedup_store` remembers idempotency keys: a claim is atomic (exactly one caller wins a new key),
// a completed key is remembered for a retention longer than the senders' retry horizon, and a
// claim is a lease that expires, so a crashed worker does not block an event forever.
// An `inbox_store` keeps deliveries durably between the 2xx and the handler: offer() stores a
// delivery and checks its key in one atomic step; workers lease entries, then ack, retry later or
// dead-letter them.
// A `poll_store` is the fallback poller's memory: the ids it watches and when each is due, the
// sweep's watermarks, and a leader lease so that one instance polls at a time.
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
#include <functional>
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

  /// try_claim(), complete() and release() that may finish later, on another thread, as
  /// inbox_store::offer_async() does (SQLite queues them for the writer's next commit): `done` is
  /// called exactly once, and must be quick. The defaults call the synchronous ones, then `done`.
  virtual void try_claim_async(std::string key, std::chrono::milliseconds lease,
                               std::function<void(result<claim>)> done);
  virtual void complete_async(std::string key, std::uint64_t token, std::chrono::milliseconds retention,
                              std::function<void(status)> done);
  virtual void release_async(std::string key, std::uint64_t token, std::function<void(status)> done);
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

/// One leased entry, as ack_all() names it.
struct lease_ref {
  std::int64_t id = 0;
  std::uint64_t token = 0;
};

/// What offer_leased() did.
struct leased_offer {
  offer_state state = offer_state::duplicate;
  /// When `state` is queued and the store can: the new entry, already leased to the caller (one
  /// attempt counted). Empty otherwise: the entry is queued for lease() to find.
  std::optional<inbox_entry> entry;
};

class inbox_store {
 public:
  virtual ~inbox_store() = default;

  /// Stores `rec` durably and queues it, unless its key is already known (queued, leased, done
  /// within retention, or dead). Returns only once the entry is durable. Taken by value: pass an
  /// rvalue (std::move) and a store that keeps the record in memory takes the body without a copy.
  [[nodiscard]] virtual result<offer_state> offer(inbox_record rec) = 0;
  /// offer(), with the new entry leased for `lease` in the same durable step, for a caller that
  /// will process it soon: a durable store then writes the entry once, not once to queue it and
  /// again to lease it. The default calls offer() and leases nothing.
  [[nodiscard]] virtual result<leased_offer> offer_leased(inbox_record rec, std::chrono::milliseconds lease);
  /// offer_leased() (with a lease) or offer() (without) that completes through `done`, exactly
  /// once, possibly on another thread once the entry is durable: a store that commits in batches
  /// (SQLite) does not hold the caller's thread for the commit. `done` must be quick (hand the
  /// answer to the caller's own thread). The default calls the synchronous one, then `done`.
  virtual void offer_async(inbox_record rec, std::optional<std::chrono::milliseconds> lease,
                           std::function<void(result<leased_offer>)> done);
  /// Returns once every offer_async() made before it has called its `done`, and so has every
  /// asynchronous call of this store those `done`s made in turn (poll_store::note_document_async()
  /// on the same store): call it after the server stopped and before destroying what those `done`s
  /// reach (the receiver, the server). The default has nothing to wait for.
  virtual void wait_async() {}

  /// Leases up to `max` entries that are due (queued with next_attempt_at <= now, or leased with
  /// an expired lease), oldest due first, for `lease`; counts an attempt on each.
  [[nodiscard]] virtual result<std::vector<inbox_entry>> lease(std::size_t max, std::chrono::milliseconds lease) = 0;

  /// The handlers succeeded: done; the key is kept for `retention`, the body dropped.
  [[nodiscard]] virtual status ack(std::int64_t id, std::uint64_t token, std::chrono::milliseconds retention) = 0;
  /// ack() for several leased entries in one step: one lock, one transaction and one fsync in a
  /// durable store, where one ack() each would wait for a commit each. Returns how many were
  /// acknowledged; an entry whose `token` no longer owns it is skipped, as ack() would refuse it.
  /// The default calls ack() for each.
  [[nodiscard]] virtual result<std::size_t> ack_all(const std::vector<lease_ref>& leases,
                                                    std::chrono::milliseconds retention);
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
  /// The entry with idempotency key `key` (queued, leased, dead, or done within retention); nullopt
  /// when offer() would queue that key as new. The poller skips known keys with it at no API cost.
  [[nodiscard]] virtual result<std::optional<inbox_entry>> find(std::string_view key) = 0;
  /// The inbox's depth: entries queued or leased now, whoever offered them (on a shared store,
  /// every instance's). The default counts list() pages.
  [[nodiscard]] virtual result<std::int64_t> pending_count();
  /// Queue a dead-lettered entry again, due now, with its attempts reset. errc::not_found when
  /// there is no dead entry with that id.
  [[nodiscard]] virtual status replay(std::int64_t id) = 0;
  /// Forgets done keys whose retention has ended; returns how many. (A store with both roles
  /// implements one purge_expired() for both.)
  [[nodiscard]] virtual result<std::size_t> purge_expired() = 0;
};

/// One id the fallback poller watches: a PerfectParser extraction or a Parashift document.
struct watch_entry {
  provider source = provider::perfectparser;
  std::string id;
  /// When it is polled next.
  time_point due_at{};
  /// Polls so far: the poller backs off with it.
  int polls = 0;
  /// Document webhooks newly accepted for this extraction (PerfectParser): when the job's webhook
  /// says as many documents finished, nothing is missing and the extraction needs no poll.
  int documents_seen = 0;
  /// When the vendor expected the document to be done (Parashift), if the application said.
  std::optional<time_point> expected_at;
};

/// The fallback poller's state, shared by every instance on one store. Times are the store clock's.
class poll_store {
 public:
  virtual ~poll_store() = default;

  /// Watches `e.source`/`e.id` from now on, due at `e.due_at` (its polls and documents_seen are
  /// ignored: a new entry starts at zero). An id already watched keeps its entry. True when added.
  [[nodiscard]] virtual result<bool> watch(const watch_entry& e) = 0;
  /// watch() that may finish later, as note_document_async() does.
  virtual void watch_async(watch_entry e, std::function<void(result<bool>)> done);
  /// Counts one more document webhook for an extraction, watching it (due at `due_if_new`) when it
  /// was not watched yet. Atomic: concurrent calls from several instances all count.
  [[nodiscard]] virtual status note_document(provider source, std::string_view id, time_point due_if_new) = 0;
  /// note_document() that may finish later, on another thread, as inbox_store::offer_async() does
  /// (SQLite queues it for the writer's next commit): `done` is called exactly once, and must be
  /// quick. The default calls the synchronous one, then `done`.
  virtual void note_document_async(provider source, std::string id, time_point due_if_new,
                                   std::function<void(status)> done);
  /// The watched ids due now (due_at <= now), earliest first, at most `max`.
  [[nodiscard]] virtual result<std::vector<watch_entry>> due(std::size_t max) = 0;
  /// After a poll that left the id open: one poll more, due again at `next`. not_found when the
  /// id is not watched.
  [[nodiscard]] virtual status reschedule(provider source, std::string_view id, time_point next) = 0;
  /// Stops watching (settled: its terminal events are all accepted). Unknown ids are a no-op.
  [[nodiscard]] virtual status unwatch(provider source, std::string_view id) = 0;
  /// unwatch() that may finish later, as note_document_async() does.
  virtual void unwatch_async(provider source, std::string id, std::function<void(status)> done);
  /// The entry, or nullopt when the id is not watched.
  [[nodiscard]] virtual result<std::optional<watch_entry>> watched(provider source, std::string_view id) = 0;

  /// The watermark called `name` (the sweep's "everything updated before this is accepted"), or
  /// nullopt when it was never set.
  [[nodiscard]] virtual result<std::optional<time_point>> watermark(std::string_view name) = 0;
  /// Sets it, durably, to `at`: callers move it only once what it covers is accepted.
  [[nodiscard]] virtual status set_watermark(std::string_view name, time_point at) = 0;

  /// Takes or renews the lease `name` for `holder` until now + `lease`. True when `holder` holds it
  /// now: it was free, its holder's lease had run out, or `holder` held it already (renewed).
  [[nodiscard]] virtual result<bool> try_lead(std::string_view name, std::string_view holder,
                                              std::chrono::milliseconds lease) = 0;
  /// Gives the lease up if `holder` holds it, so another instance can take it at once.
  [[nodiscard]] virtual status resign(std::string_view name, std::string_view holder) = 0;
};

}  // namespace hookrx
