#include "hookrx/inbox.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>

#include "parse.hpp"

namespace hookrx {
namespace {

// A store error stays the store's (503, the sender retries); anything else a store reports is
// also a store failure from the sender's point of view.
error as_store_error(const error& e) {
  return e.code() == errc::store_unavailable ? e : error(errc::store_unavailable, e.message());
}

// Fixed threads running queued tasks, for handlers that must finish within a deadline.
class task_pool {
 public:
  explicit task_pool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { run(); });
    }
  }
  task_pool(const task_pool&) = delete;
  task_pool& operator=(const task_pool&) = delete;
  ~task_pool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void post(std::function<void()> task) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

 private:
  void run() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and every queued task has run
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Synchronous mode

struct dedup_acceptor::impl {
  std::shared_ptr<dedup_store> store;
  dedup_options options;
  std::shared_ptr<const clock> time;
  std::atomic<time_point::rep> next_purge{0};
  std::unique_ptr<task_pool> pool;  // only with a deadline

  // One caller in each purge_interval purges expired keys, so that a dedup-only store does not grow.
  void purge_if_due() {
    const time_point now = time->now();
    time_point::rep due = next_purge.load(std::memory_order_relaxed);
    if (now.time_since_epoch().count() < due) return;
    const time_point::rep next = (now + options.purge_interval).time_since_epoch().count();
    if (next_purge.compare_exchange_strong(due, next, std::memory_order_relaxed)) (void)store->purge_expired();
  }

  // Marks the key done or gives it back, once the handlers have finished.
  void settle(const std::string& key, std::uint64_t token, const status& outcome) const {
    if (outcome) {
      // If this fails the event was still handled: answering 2xx stops the sender's retries,
      // and the claim's lease keeps a concurrent retry away until it expires.
      (void)store->complete(key, token, options.retention);
    } else {
      (void)store->release(key, token);
    }
  }
};

dedup_acceptor::dedup_acceptor(std::shared_ptr<dedup_store> store, dedup_options options,
                               std::shared_ptr<const clock> time)
    : impl_(std::make_unique<impl>()) {
  impl_->store = std::move(store);
  impl_->options = options;
  impl_->time = std::move(time);
  if (options.deadline.count() > 0)
    impl_->pool = std::make_unique<task_pool>(std::max<std::size_t>(1, options.handler_threads));
}

dedup_acceptor::~dedup_acceptor() = default;

result<disposition> dedup_acceptor::accept(event&& ev, const request_view& /*request*/, const dispatcher& handlers) {
  impl_->purge_if_due();
  const result<claim> c = impl_->store->try_claim(ev.key(), impl_->options.lease);
  if (!c) return as_store_error(c.error());
  if (c->state == claim_state::done) return disposition::duplicate;
  if (c->state == claim_state::in_progress) return errc::in_progress;

  const std::uint64_t token = c->token;
  if (!impl_->pool) {
    const status outcome = handlers.dispatch(ev);
    impl_->settle(ev.key(), token, outcome);
    if (!outcome) return outcome.error();
    return disposition::processed;
  }

  // The task owns the event and settles the claim itself, so a handler that outlives the
  // deadline still completes or releases its claim when it finishes.
  auto done = std::make_shared<std::promise<status>>();
  std::future<status> finished = done->get_future();
  impl_->pool->post([state = impl_.get(), &handlers, ev = std::move(ev), token, done]() {
    const status outcome = handlers.dispatch(ev);
    state->settle(ev.key(), token, outcome);
    done->set_value(outcome);
  });
  if (finished.wait_for(impl_->options.deadline) != std::future_status::ready) {
    return error(errc::handler_failed, "the handlers did not finish within the deadline");
  }
  const status outcome = finished.get();
  if (!outcome) return outcome.error();
  return disposition::processed;
}

// ---------------------------------------------------------------------------------------------
// Asynchronous mode

struct inbox::impl {
  std::shared_ptr<inbox_store> store;
  const dispatcher* handlers = nullptr;
  inbox_options options;
  std::shared_ptr<const clock> time;
  random_source random;

  std::mutex mutex;
  std::condition_variable wake;
  bool running = false;
  bool stopping = false;
  // Bumped on every queued offer. Offers do not take `mutex`: a wake-up bumps `wakeups`, then
  // locks and notifies only when a worker is waiting (`sleepers` > 0). A worker counts itself in
  // `sleepers` before it checks `wakeups` under the lock, and both sides use sequentially
  // consistent operations, so either the worker sees the new count or the waker sees the sleeper
  // and wakes it: no wakeup is lost, and a busy receiver never serialises on `mutex`.
  std::atomic<std::uint64_t> offers{0};
  std::atomic<std::size_t> sleepers{0};
  // Workers not asleep. With options.gather, offers do not wake a sleeper while one is busy: it
  // leases again before it sleeps, so it takes them, in fuller batches; when it finds a full batch
  // it wakes the next worker itself (see more_due()). A worker that goes to sleep last (`busy`
  // drops to 0) also stays up for any offer made since its last lease began: an offer that saw it
  // still busy did not wake anyone (the same Dekker-style ordering as above, on `busy`).
  std::atomic<std::size_t> busy{0};
  // Bumped by every wake-up call; what sleepers wait for.
  std::atomic<std::uint64_t> wakeups{0};
  // Gathering workers wait here, so that a wake-up meant for a sleeper never lands on one of them.
  std::condition_variable gathering;
  std::vector<std::thread> workers;
  time_point next_purge{};
  // Entries offered leased (options.handoff), oldest first, waiting for a worker.
  std::mutex handoff_mutex;
  std::deque<inbox_entry> handed;
  std::atomic<std::size_t> handed_count{0};  // handed.size(), read without the lock
  std::atomic<bool> handing_off{false};      // workers are running; set under handoff_mutex
  time_point next_store_lease{};             // under handoff_mutex

  // Stores one delivery; wakes a worker when it is new. The event is consumed: its strings (the
  // body above all) move into the record, and the record into the store. While the workers run
  // and fewer than options.handoff wait, the entry is stored leased and handed to them directly.
  result<disposition> offer(event&& ev, const request_view& request) {
    inbox_record rec = record_of(std::move(ev), request);
    if (!handing_off_now()) return settle(store->offer(std::move(rec)));
    return settle(store->offer_leased(std::move(rec), options.lease));
  }

  // offer() completing through `done` once the store has the entry (see inbox_store::offer_async).
  static void offer_async(const std::shared_ptr<impl>& self, event&& ev, const request_view& request,
                          acceptor::completion done) {
    inbox_record rec = self->record_of(std::move(ev), request);
    const std::optional<std::chrono::milliseconds> lease =
        self->handing_off_now() ? std::optional(self->options.lease) : std::nullopt;
    self->store->offer_async(std::move(rec), lease, [self, done = std::move(done)](result<leased_offer> stored) {
      done(self->settle(std::move(stored)));
    });
  }

  [[nodiscard]] bool handing_off_now() const {
    return handing_off.load() && handed_count.load(std::memory_order_relaxed) < options.handoff;
  }

  result<disposition> settle(const result<offer_state>& stored) {
    if (!stored) return as_store_error(stored.error());
    return settle(leased_offer{*stored, std::nullopt});
  }

  result<disposition> settle(result<leased_offer> stored) {
    if (!stored) return as_store_error(stored.error());
    if (stored->state == offer_state::duplicate) return disposition::duplicate;
    if (stored->entry && !hand_over(std::move(*stored->entry))) {
      (void)store->release(stored->entry->id, stored->entry->lease_token);  // stopping: back to the queue
    }
    announce();
    return disposition::queued;
  }

  inbox_record record_of(event&& ev, const request_view& request) const {
    inbox_record rec;
    rec.source = ev.source();
    rec.origin = ev.origin();
    detail::event_builder::take(ev, rec.event_name, rec.key, rec.body);
    rec.received_at = time->now();
    std::size_t size = 0;  // sized first: appending into a growing string reallocates several times
    for (const std::string& name : options.kept_headers) {
      if (const auto value = request.header(name)) size += name.size() + value->size() + 3;
    }
    rec.headers.reserve(size);
    for (const std::string& name : options.kept_headers) {
      if (const auto value = request.header(name)) {
        rec.headers.append(name).append(": ").append(*value).append(1, '\n');
      }
    }
    if (!rec.headers.empty()) rec.headers.pop_back();
    return rec;
  }

  // The next batch: entries handed over by offers first; the store's due entries when there are
  // none, and at least every idle_poll even when there are (retries, expired leases).
  result<std::vector<inbox_entry>> next_batch() {
    std::vector<inbox_entry> batch;
    bool from_store = true;
    if (options.handoff > 0) {
      const time_point now = time->now();
      const std::lock_guard<std::mutex> lock(handoff_mutex);
      const std::size_t n = std::min(options.batch, handed.size());
      batch.reserve(n);
      std::move(handed.begin(), handed.begin() + static_cast<std::ptrdiff_t>(n), std::back_inserter(batch));
      handed.erase(handed.begin(), handed.begin() + static_cast<std::ptrdiff_t>(n));
      handed_count.store(handed.size(), std::memory_order_relaxed);
      from_store = batch.empty() || now >= next_store_lease;
      if (from_store) next_store_lease = now + options.idle_poll;
    }
    if (!from_store) return batch;
    result<std::vector<inbox_entry>> leased = store->lease(options.batch, options.lease);
    if (!leased) {
      if (batch.empty()) return leased.error();
      return batch;  // the store's share waits for the next pass
    }
    if (batch.empty()) return leased;
    std::move(leased->begin(), leased->end(), std::back_inserter(batch));
    return batch;
  }

  // Queues a leased entry for the workers, unless they are stopping.
  bool hand_over(inbox_entry&& e) {
    const std::lock_guard<std::mutex> lock(handoff_mutex);
    if (!handing_off.load()) return false;
    handed.push_back(std::move(e));
    handed_count.store(handed.size(), std::memory_order_relaxed);
    return true;
  }

  void set_handing_off(bool on) {
    const std::lock_guard<std::mutex> lock(handoff_mutex);
    handing_off.store(on && options.handoff > 0);
  }

  // On stop: the handed entries no worker took go back to the queue.
  void release_handed() {
    std::deque<inbox_entry> left;
    {
      const std::lock_guard<std::mutex> lock(handoff_mutex);
      left.swap(handed);
      handed_count.store(0, std::memory_order_relaxed);
    }
    for (const inbox_entry& e : left) (void)store->release(e.id, e.lease_token);
  }

  // Tells an idle worker that there is new work (see `offers`).
  void announce() {
    offers.fetch_add(1);
    if (options.gather.count() > 0 && busy.load() > 0) return;
    wake_sleeper();
  }

  // A worker leased a full batch: more may be due, so another worker should look now.
  void more_due() { wake_sleeper(); }

  void wake_sleeper() {
    wakeups.fetch_add(1);
    if (sleepers.load() == 0) return;
    { const std::lock_guard<std::mutex> lock(mutex); }  // the sleeper is inside wait() once we hold it
    wake.notify_one();
  }

  // Records a failed entry's outcome: queued again with backoff, or dead-lettered after its last
  // attempt. A store failure here leaves the lease to expire: the entry comes back, at least once.
  void record_failure(const inbox_entry& entry, const error& failure, bool parsed, inbox_pass& pass) {
    const std::string& reason = failure.message();
    if (parsed && options.retry.should_retry(entry.attempts)) {
      const time_point when = time->now() + options.retry.delay_after(entry.attempts, random());
      if (store->retry_at(entry.id, entry.lease_token, when, reason)) ++pass.retried;
    } else if (store->dead_letter(entry.id, entry.lease_token, reason)) {
      ++pass.dead_lettered;
    }
  }

  [[nodiscard]] bool stop_requested() {
    const std::lock_guard<std::mutex> lock(mutex);
    return stopping;
  }

  // Leases a batch and runs it.
  result<inbox_pass> process_due() {
    inbox_pass pass;
    result<std::vector<inbox_entry>> leased = next_batch();
    if (!leased) return leased.error();
    if (leased->empty()) return pass;
    // A full batch means more may be due: another idle worker can take them while this one works.
    if (leased->size() >= options.batch) more_due();
    if (handlers->has_batch_handlers()) {
      run_together(*leased, pass);
    } else {
      run_one_by_one(*leased, pass);
    }
    return pass;
  }

  // Each entry's handlers, then its ack, one entry after another: a crash between a handler and
  // its ack repeats that one entry only.
  void run_one_by_one(const std::vector<inbox_entry>& leased, inbox_pass& pass) {
    for (std::size_t i = 0; i < leased.size(); ++i) {
      const inbox_entry& entry = leased[i];
      if (stop_requested()) {  // shutting down: hand back what was not started
        for (std::size_t j = i; j < leased.size(); ++j) (void)store->release(leased[j].id, leased[j].lease_token);
        return;
      }
      // A batch's entries share one lease, and they run one after another: when the handlers
      // before this one took so long that its lease ran out, another worker may hold it now.
      // Running it here too would run it twice; it is due again, so whoever leases it next runs it.
      if (time->now() >= entry.lease_until) {
        ++pass.expired;
        continue;
      }
      const result<event> ev = event_of(entry);
      const status outcome = ev ? handlers->dispatch(*ev, entry.attempts) : status(ev.error());
      if (!outcome) {
        record_failure(entry, outcome.error(), ev.has_value(), pass);
      } else if (store->ack(entry.id, entry.lease_token, options.retention)) {
        ++pass.handled;
      }
    }
  }

  // Every entry's handlers, then the on_batch handlers once for all of them (one write and one
  // fsync for the batch), then one ack_all() for what succeeded.
  void run_together(const std::vector<inbox_entry>& leased, inbox_pass& pass) {
    std::vector<result<event>> parsed;
    parsed.reserve(leased.size());
    time_point lease_until = time_point::max();
    for (const inbox_entry& entry : leased) {
      parsed.push_back(event_of(entry));
      lease_until = std::min(lease_until, entry.lease_until);
    }
    std::vector<batch_entry> batch;
    batch.reserve(leased.size());
    for (std::size_t i = 0; i < leased.size(); ++i) {
      // An entry that no longer parses fails before any handler sees it (and is dead-lettered).
      const event& ev = parsed[i] ? *parsed[i] : unparsable();
      batch.push_back({delivery_context{ev, leased[i].attempts}, parsed[i] ? status{} : status(parsed[i].error())});
    }
    // The batch shares one lease. Once it has run out another worker may hold these entries, so
    // what has not started is left to it (never run twice); on shutdown it goes back to the queue.
    bool stopped = false;
    handlers->dispatch_batch(batch, [&] {
      if (stop_requested()) stopped = true;
      return !stopped && time->now() < lease_until;
    });

    std::vector<lease_ref> succeeded;
    succeeded.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const inbox_entry& entry = leased[i];
      const status& outcome = batch[i].outcome;
      if (outcome) {
        succeeded.push_back({entry.id, entry.lease_token});
      } else if (outcome.error().code() != errc::in_progress) {
        record_failure(entry, outcome.error(), parsed[i].has_value(), pass);
      } else if (stopped) {
        (void)store->release(entry.id, entry.lease_token);
      } else {
        ++pass.expired;
      }
    }
    if (!succeeded.empty()) {
      if (const result<std::size_t> acked = store->ack_all(succeeded, options.retention)) pass.handled += *acked;
    }
  }

  // A stored delivery as its handlers see it: parsed again from the body, with its origin.
  static result<event> event_of(const inbox_entry& entry) {
    result<event> ev = parse_event(entry.record.source, entry.record.body);
    if (ev) ev->set_origin(entry.record.origin);
    return ev;
  }

  static const event& unparsable() {
    static const event none;
    return none;
  }

  void purge_if_due() {
    const time_point now = time->now();
    {
      const std::lock_guard<std::mutex> lock(mutex);
      if (now < next_purge) return;
      next_purge = now + options.purge_interval;
    }
    (void)store->purge_expired();
  }

  void work() {
    std::uint64_t seen_wakeups = 0;
    busy.fetch_add(1);
    while (!stop_requested()) {
      purge_if_due();
      const std::uint64_t seen_offers = offers.load();  // later offers may miss this lease
      const result<inbox_pass> pass = process_due();
      const std::size_t ran = pass ? pass->handled + pass->retried + pass->dead_lettered + pass->expired : 0;
      // A full batch: more may be due at once. Without gathering, keep going until nothing is.
      if (ran >= options.batch || (ran > 0 && options.gather.count() <= 0)) continue;
      std::unique_lock<std::mutex> lock(mutex);
      // Busy in small batches: the only busy worker waits for the next batch to fill up; any other
      // sleeps, so that one worker takes the stream until it finds full batches (more_due()).
      if (ran > 0 && busy.load() == 1) {
        gather(lock);
        continue;
      }
      // Idle (or the store is down, or another worker is busy): wait for a wake-up (a new offer,
      // a worker that found a full batch) or the next poll.
      const bool last = busy.fetch_sub(1) == 1;
      sleepers.fetch_add(1);
      wake.wait_for(lock, options.idle_poll, [&] {
        return stopping || wakeups.load() != seen_wakeups || (last && offers.load() != seen_offers);
      });
      sleepers.fetch_sub(1);
      busy.fetch_add(1);
      const bool woken = wakeups.load() != seen_wakeups || offers.load() != seen_offers;
      seen_wakeups = wakeups.load();
      if (woken) gather(lock);
    }
    busy.fetch_sub(1);
  }

  // Waits options.gather for more deliveries before the next lease, so that a busy receiver
  // hands its handlers full batches (one write and one fsync for many events) instead of waking
  // a worker for each delivery.
  void gather(std::unique_lock<std::mutex>& lock) {
    if (options.gather.count() <= 0 || stopping) return;
    gathering.wait_for(lock, options.gather, [&] { return stopping; });
  }
};

std::shared_ptr<inbox> inbox::create(std::shared_ptr<inbox_store> store, const dispatcher& handlers,
                                     inbox_options options, std::shared_ptr<const clock> time, random_source random) {
  auto p = std::make_shared<impl>();
  p->store = std::move(store);
  p->handlers = &handlers;
  p->options = std::move(options);
  p->time = std::move(time);
  p->random = std::move(random);
  return std::shared_ptr<inbox>(new inbox(std::move(p)));
}

inbox::inbox(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

inbox::~inbox() { stop(); }

namespace {
class inbox_acceptor final : public acceptor {
 public:
  explicit inbox_acceptor(std::shared_ptr<inbox::impl> box) : box_(std::move(box)) {}
  [[nodiscard]] result<disposition> accept(event&& ev, const request_view& request,
                                           const dispatcher& /*handlers*/) override {
    return box_->offer(std::move(ev), request);
  }
  void accept_async(event&& ev, const request_view& request, const dispatcher& /*handlers*/, completion done) override {
    inbox::impl::offer_async(box_, std::move(ev), request, std::move(done));
  }

 private:
  std::shared_ptr<inbox::impl> box_;
};
}  // namespace

std::shared_ptr<acceptor> inbox::acceptor() { return std::make_shared<inbox_acceptor>(impl_); }

void inbox::start() {
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->running) return;
  impl_->running = true;
  impl_->stopping = false;
  impl_->set_handing_off(true);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, impl_->options.workers); ++i) {
    impl_->workers.emplace_back([p = impl_.get()] { p->work(); });
  }
}

void inbox::stop() {
  std::vector<std::thread> workers;
  {
    const std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->running) return;
    impl_->stopping = true;
    workers.swap(impl_->workers);
  }
  impl_->set_handing_off(false);
  impl_->wake.notify_all();
  impl_->gathering.notify_all();
  for (std::thread& t : workers) t.join();
  impl_->release_handed();
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->running = false;
  impl_->stopping = false;
}

result<inbox_pass> inbox::process_due() { return impl_->process_due(); }

result<std::vector<inbox_entry>> inbox::dead_letters(std::size_t limit, std::int64_t after_id) {
  return impl_->store->list(entry_state::dead, limit, after_id);
}

result<std::optional<inbox_entry>> inbox::inspect(std::int64_t id) { return impl_->store->get(id); }

status inbox::replay(std::int64_t id) {
  status st = impl_->store->replay(id);
  if (st) impl_->announce();
  return st;
}

}  // namespace hookrx
