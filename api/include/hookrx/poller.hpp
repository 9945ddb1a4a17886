// hookrx/poller.hpp: the fallback poller. Every terminal document reaches the handlers once, whether
// its webhook came, came late, came twice or never came.
//
// Webhooks get lost for good (both vendors say so). The poller watches extraction ids (those the
// application registers and every one a webhook mentions); an extraction whose terminal webhook has
// not come within a grace period is fetched (GET /v1/extractions/{id}), and each terminal document
// whose key the inbox does not know yet is fetched and fed into the SAME acceptor with the SAME
// idempotency key as its webhook, marked delivery_origin::poll. A periodic sweep
// (GET /v1/extractions?since=watermark-overlap) catches extractions nobody registered. Parashift
// documents registered with an expected completion time are fetched once overdue. State (watch
// list, watermark, leader lease) lives in a poll_store, so a restart forgets nothing and several
// instances on one PostgreSQL poll one at a time.
//
//   auto store = *hookrx::sqlite_store::open({"/var/lib/hookrx/hookrx.db"});
//   auto box = hookrx::inbox::create(store, rx->handlers());
//   auto pp = std::make_shared<hookrx::perfectparser_client>(*hookrx::perfectparser_client::create(o));
//   auto poller = hookrx::poller::create(store, store, store, hookrx::poller_api_of(pp, nullptr), rx->handlers());
//   rx->accept_with((*poller)->wrap(box->acceptor()));   // webhooks and polls: one acceptor
//   box->start();
//   (*poller)->start();                                  // (*poller)->stop() on shutdown
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hookrx/api.hpp"
#include "hookrx/clock.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/retry.hpp"
#include "hookrx/store.hpp"

namespace hookrx {

/// What the poller asks the vendors' APIs. poller_api_of() puts the real clients behind it; tests
/// may count calls with their own.
class poller_api {
 public:
  virtual ~poller_api() = default;
  [[nodiscard]] virtual api_result<pp_extraction> get_extraction(std::string_view extraction_id) = 0;
  [[nodiscard]] virtual api_result<pp_document> get_document(std::string_view extraction_id,
                                                             std::string_view document_id) = 0;
  [[nodiscard]] virtual api_result<pp_extraction_page> list_extractions_page(const list_extractions_query& query,
                                                                             std::string_view cursor) = 0;
  [[nodiscard]] virtual api_result<parashift_document> get_parashift_document(std::string_view id) = 0;
};

/// The clients behind poller_api; either may be null when that vendor is not polled (its calls
/// then fail with api_errc::invalid_argument).
[[nodiscard]] std::shared_ptr<poller_api> poller_api_of(std::shared_ptr<perfectparser_client> perfectparser,
                                                        std::shared_ptr<parashift_client> parashift);

struct poller_options {
  /// An extraction with no terminal webhook this long after it was first seen or registered is
  /// polled.
  std::chrono::milliseconds grace{std::chrono::minutes(10)};
  /// Between polls of an extraction (or document) that is not finished yet: exponential backoff
  /// with jitter from here (the one retry_policy), up to max_backoff; after max_polls it is dropped
  /// from the watch list (the sweep still catches it once it finishes).
  std::chrono::milliseconds poll_backoff{std::chrono::minutes(2)};
  std::chrono::milliseconds max_backoff{std::chrono::hours(1)};
  int max_polls = 48;
  /// Which events are recovered: document and job events (API subscriptions) by default, batch.*
  /// for dashboard subscriptions.
  bool recover_documents = true;
  bool recover_jobs = true;
  bool recover_batches = false;
  /// The sweep: every sweep_interval, every extraction updated since the watermark minus
  /// sweep_overlap, all pages. The first sweep ever looks back first_sweep_lookback.
  bool sweep = true;
  std::chrono::milliseconds sweep_interval{std::chrono::minutes(5)};
  std::chrono::milliseconds sweep_overlap{std::chrono::minutes(2)};
  std::chrono::milliseconds first_sweep_lookback{std::chrono::hours(24)};
  std::string sweep_parser_id;  ///< only this parser's extractions; empty: all
  int page_limit = 100;         ///< the API's maximum: fewer pages, fewer requests
  /// Watched ids polled per round at most.
  std::size_t batch = 50;
  /// Parashift: a document is polled this long after its expected completion time.
  std::chrono::milliseconds parashift_grace{std::chrono::minutes(5)};
  /// How long "a terminal Parashift topic was handled for this document" is remembered.
  std::chrono::milliseconds terminal_retention = default_retention;
  /// The leader lease: one instance polls at a time; another takes over when it stops renewing.
  std::string lease_name = "hookrx.poller";
  std::chrono::milliseconds leader_lease{std::chrono::seconds(90)};
  std::string instance_id;  ///< empty: a random one
  /// start(): pause between rounds.
  std::chrono::milliseconds round_interval{std::chrono::seconds(30)};
  /// start(): how the thread waits round_interval; it returns false to end the thread. Null: a
  /// sleep that stop() interrupts. A custom wait (a test's, advancing a manual clock) must return
  /// within the duration it is given, since stop() cannot interrupt it.
  wait_function wait;
  /// One line per recovery (with the key), and per error; never a credential.
  std::function<void(std::string_view line)> log;
};

/// What the poller did so far (a metrics endpoint reads it). A non-zero documents_recovered means
/// webhooks were lost.
struct poller_counters {
  std::uint64_t rounds = 0;               ///< rounds this instance led
  std::uint64_t polls = 0;                ///< extractions / documents fetched because overdue or swept
  std::uint64_t documents_recovered = 0;  ///< document events accepted from a poll
  std::uint64_t jobs_recovered = 0;       ///< job / batch events accepted from a poll
  std::uint64_t skipped_known = 0;        ///< keys already known: no request made for them
  std::uint64_t sweeps = 0;               ///< sweeps finished
  std::uint64_t pages = 0;                ///< list pages fetched
  std::uint64_t errors = 0;               ///< failed API calls or store operations
};

/// What one round did.
struct poll_round {
  bool leader = false;  ///< false: another instance holds the lease; nothing was done
  std::size_t polled = 0;
  std::size_t recovered = 0;
  std::size_t errors = 0;
  bool swept = false;
};

class poller {
 public:
  /// `handlers` must outlive the poller (normally the receiver's). `inbox` answers which keys are
  /// known; `marks` remembers handled terminal Parashift topics per document. invalid_config when
  /// a store or the API is missing.
  [[nodiscard]] static result<std::shared_ptr<poller>> create(
      std::shared_ptr<poll_store> state, std::shared_ptr<inbox_store> inbox, std::shared_ptr<dedup_store> marks,
      std::shared_ptr<poller_api> api, const dispatcher& handlers, poller_options options = {},
      std::shared_ptr<const clock> time = system_clock(), random_source random = default_random());
  ~poller();
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  /// The acceptor to give the receiver: it passes every event to `inner`, records the extraction
  /// ids webhooks mention and whether their terminal webhook came, and makes a terminal Parashift
  /// topic for a document act once, by webhook or poll. The poller feeds what it recovers into it.
  [[nodiscard]] std::shared_ptr<acceptor> wrap(std::shared_ptr<acceptor> inner);

  /// Watches an extraction the application submitted: polled if no terminal webhook came within
  /// the grace period.
  [[nodiscard]] status watch(std::string_view extraction_id);
  /// Watches a Parashift document expected to be done at `expected_at`: polled once overdue.
  [[nodiscard]] status watch_parashift(std::string_view document_id, time_point expected_at);

  /// One round on the calling thread: take (or renew) the leader lease, poll what is due, sweep
  /// when the sweep is due. For tests and for callers that schedule rounds themselves.
  [[nodiscard]] result<poll_round> run_once();
  /// Rounds on a thread of its own, round_interval apart (idempotent).
  void start();
  /// Stops the thread and gives the lease up.
  void stop();

  [[nodiscard]] poller_counters counters() const noexcept;
  [[nodiscard]] const std::string& instance_id() const noexcept;

  struct impl;

 private:
  explicit poller(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

}  // namespace hookrx
