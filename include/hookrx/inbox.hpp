// hookrx/inbox.hpp: the two ways a receiver takes deliveries in with a store behind it.
//
// Asynchronous (the default for production): `inbox`. Accepting a delivery stores it durably, in
// the same atomic step as the dedup check, before the 2xx (202 "queued") is sent; worker threads
// lease stored deliveries, run the handlers, and acknowledge, retry later with backoff and jitter,
// or dead-letter them after the last attempt. Dead letters can be listed, inspected and replayed.
//
//   auto store = hookrx::sqlite_store::open({"/var/lib/hookrx/inbox.db"});   // or memory, postgres
//   auto box = hookrx::inbox::create(*store, rx->handlers());
//   rx->accept_with(box->acceptor());
//   box->start();                               // workers; box->stop() drains them on shutdown
//
// Synchronous: `dedup_acceptor`. Claim the key, run the handlers inline (within a deadline well
// under the senders' 10 s), then mark the key done, or release it and answer 5xx so the sender
// retries. For users who want the handler's outcome to decide the HTTP answer.
//
//   rx->accept_with(std::make_shared<hookrx::dedup_acceptor>(redis_store));
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hookrx/clock.hpp"
#include "hookrx/dispatch.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/retry.hpp"
#include "hookrx/store.hpp"

namespace hookrx {

struct dedup_options {
  /// How long a claim protects an event being handled; longer than any handler runs.
  std::chrono::milliseconds lease{std::chrono::seconds(60)};
  /// How long a handled key is remembered: longer than the senders retry.
  std::chrono::milliseconds retention = default_retention;
  /// Past this the delivery is answered 500 (the sender retries) while the handler goes on; the
  /// claim is kept until it finishes, so the retry finds the event in progress or done. Zero runs
  /// handlers on the calling thread with no deadline.
  std::chrono::milliseconds deadline{std::chrono::seconds(5)};
  /// Threads that run handlers when a deadline is set.
  std::size_t handler_threads = 8;
  /// How often expired keys are purged from the store (on the next delivery after that).
  std::chrono::milliseconds purge_interval{std::chrono::minutes(10)};
};

/// Synchronous mode: dedup claim -> handlers -> complete (or release and 5xx).
class dedup_acceptor final : public acceptor {
 public:
  explicit dedup_acceptor(std::shared_ptr<dedup_store> store, dedup_options options = {},
                          std::shared_ptr<const clock> time = system_clock());
  ~dedup_acceptor() override;
  dedup_acceptor(const dedup_acceptor&) = delete;
  dedup_acceptor& operator=(const dedup_acceptor&) = delete;

  [[nodiscard]] result<disposition> accept(event&& ev, const request_view& request,
                                           const dispatcher& handlers) override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct inbox_options {
  std::size_t workers = 2;
  /// Entries one worker leases at a time. They share one lease: each entry's handlers run one
  /// after another, then the on_batch handlers once for the batch, then one ack_all(). `lease`
  /// should exceed `batch` times the slowest handler; an entry whose lease ran out before its turn
  /// is skipped (and handled by whoever leases it next), never run twice.
  std::size_t batch = 16;
  /// How long a leased entry is a worker's before another may take it (crash recovery).
  std::chrono::milliseconds lease{std::chrono::minutes(5)};
  /// How often idle workers look for entries that became due (retries, expired leases). New
  /// deliveries accepted by this process wake a worker at once.
  std::chrono::milliseconds idle_poll{std::chrono::seconds(1)};
  /// How long a worker woken by a new delivery (or finishing a batch that was not full) waits for
  /// more before it leases, so that handlers get batches (see dispatcher::on_batch: one write and
  /// one fsync for many events) and a busy receiver does not wake a worker per delivery. With it,
  /// one worker takes the stream while its batches come out partial, and a full batch wakes the
  /// next (so slow handlers still run side by side once a backlog builds). It delays handling,
  /// never the answer to the sender. Zero: every new delivery wakes an idle worker at once.
  std::chrono::milliseconds gather{0};
  /// Deliveries this process accepted that may wait in memory, already leased, for a worker: up to
  /// this many are stored leased (inbox_store::offer_leased(): one durable write instead of two)
  /// and handed to the workers directly, without a lease() round trip; past it, or with a store
  /// that cannot, offers are queued for lease() as usual. Retries and expired leases are still
  /// leased from the store at least every idle_poll. After a crash these wait for their lease
  /// to run out before another worker takes them. Zero: off.
  std::size_t handoff = 0;
  /// How often a worker purges done keys whose retention has ended.
  std::chrono::milliseconds purge_interval{std::chrono::minutes(10)};
  std::chrono::milliseconds retention = default_retention;
  retry_policy retry;
  /// Request headers stored with each delivery (for audit and replay). Never list credentials
  /// such as X-Webhook-Secret or Authorization: they would be written to the store.
  std::vector<std::string> kept_headers = {"Content-Type", "User-Agent", "X-PerfectParser-Signature"};
};

/// What one processing pass did.
struct inbox_pass {
  std::size_t handled = 0;        ///< handlers succeeded; acknowledged
  std::size_t retried = 0;        ///< handlers failed; queued again with backoff
  std::size_t dead_lettered = 0;  ///< failed the last attempt
  std::size_t expired = 0;        ///< not run: the batch's lease ran out before its turn
};

class inbox {
 public:
  /// `handlers` must outlive the inbox (it is normally the receiver's: receiver::handlers()).
  [[nodiscard]] static std::shared_ptr<inbox> create(std::shared_ptr<inbox_store> store, const dispatcher& handlers,
                                                     inbox_options options = {},
                                                     std::shared_ptr<const clock> time = system_clock(),
                                                     random_source random = default_random());
  ~inbox();
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  /// The acceptor to give receiver::accept_with(): offer -> 202 queued, or 200 duplicate.
  [[nodiscard]] std::shared_ptr<hookrx::acceptor> acceptor();

  /// Starts the worker threads (idempotent).
  void start();
  /// Stops leasing, lets running handlers finish, returns unstarted leases to the store, and joins
  /// the workers. Handlers are not interrupted: keep them bounded.
  void stop();

  /// One pass on the calling thread: leases what is due and processes it. For tests and for
  /// users who drive processing themselves instead of start().
  [[nodiscard]] result<inbox_pass> process_due();

  /// Dead letters, by id after `after_id`.
  [[nodiscard]] result<std::vector<inbox_entry>> dead_letters(std::size_t limit = 100, std::int64_t after_id = 0);
  [[nodiscard]] result<std::optional<inbox_entry>> inspect(std::int64_t id);
  /// Queues a dead letter again, due now, attempts reset.
  [[nodiscard]] status replay(std::int64_t id);

  struct impl;

 private:
  explicit inbox(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;  // shared with the acceptor, which may outlive the inbox
};

}  // namespace hookrx
