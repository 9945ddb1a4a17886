// The receiver with a store behind it: the durable inbox (asynchronous) and dedup (synchronous),
// on the real embedded default store, SQLite, in a temporary file. Time is a manual clock and
// processing is driven with process_due(), so retries and leases are tested without sleeping.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "hookrx/inbox.hpp"
#include "hookrx/sqlite_store.hpp"
#include "support.hpp"
#include "temp_db.hpp"

namespace {

using namespace std::chrono_literals;
constexpr std::string_view secret = "wh_sec_inbox_tests";

using hookrx_test::temp_db;

std::string doc_body(const std::string& doc_id) {
  return R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":")" + doc_id +
         R"(","status":"completed"})";
}

hookrx_test::test_request delivery(const std::string& doc_id) {
  auto r = hookrx_test::signed_request(doc_body(doc_id), secret);
  r.header("X-Webhook-Secret", "static-should-not-be-stored");
  r.header("Content-Type", "application/json");
  return r;
}

// A receiver + SQLite store + inbox, with a manual clock and a fixed jitter draw.
struct inbox_setup {
  temp_db db;
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::sqlite_store> store;
  hookrx::receiver rx;
  std::shared_ptr<hookrx::inbox> box;

  explicit inbox_setup(hookrx::inbox_options options = {}) : rx(make_receiver()) {
    hookrx::sqlite_options so;
    so.path = db.path();
    auto opened = hookrx::sqlite_store::open(so, clock);
    REQUIRE(opened.has_value());
    store = *opened;
    box = hookrx::inbox::create(store, rx.handlers(), std::move(options), clock, [] { return 0.5; });
    rx.accept_with(box->acceptor());
  }

  static hookrx::receiver make_receiver() {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {std::string(secret)};
    creds.static_secrets = {"static-should-not-be-stored"};
    auto r = hookrx::receiver::create(creds);
    REQUIRE(r.has_value());
    return std::move(r).value();
  }

  hookrx::inbox_pass run() {
    auto pass = box->process_due();
    REQUIRE(pass.has_value());
    return *pass;
  }
};

// A receiver + SQLite store + inbox run by real worker threads (system clock). Handlers record
// what they saw in `handled`; expect_each_once() waits (bounded, 30 s) for the workers, stops them
// and checks that every delivery was handled exactly once, never how long it took.
struct worker_setup {
  temp_db db;
  std::shared_ptr<hookrx::sqlite_store> store;
  hookrx::receiver rx = inbox_setup::make_receiver();
  std::mutex m;
  std::multiset<std::string> handled;
  std::shared_ptr<hookrx::inbox> box;  // last: destroyed (its workers stopped) before what they use

  worker_setup() {
    auto opened = hookrx::sqlite_store::open({db.path()});
    REQUIRE(opened.has_value());
    store = *opened;
  }
  void record(const std::string& what) {
    const std::lock_guard<std::mutex> lock(m);
    handled.insert(what);
  }
  void start(const hookrx::inbox_options& options) {
    box = hookrx::inbox::create(store, rx.handlers(), options);
    rx.accept_with(box->acceptor());
    box->start();
  }
  void expect_each_once(int n) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        const std::lock_guard<std::mutex> lock(m);
        if (handled.size() >= static_cast<std::size_t>(n)) break;
      }
      std::this_thread::yield();
    }
    box->stop();
    const std::lock_guard<std::mutex> lock(m);
    CHECK(handled.size() == static_cast<std::size_t>(n));
    for (const std::string& what : handled) CHECK(handled.count(what) == 1);
  }
};

// A handler that records what it ran and holds the worker in `held`'s handler until open().
class handler_gate {
 public:
  explicit handler_gate(std::string held) : held_(std::move(held)) {}
  void enter(const std::string& doc) {
    std::unique_lock<std::mutex> lock(m_);
    seen_.push_back(doc);
    changed_.notify_all();
    if (doc == held_) changed_.wait(lock, [&] { return open_; });
  }
  void open() {
    const std::lock_guard<std::mutex> lock(m_);
    open_ = true;
    changed_.notify_all();
  }
  // Bounded waits (30 s), so that a lost delivery fails the test instead of hanging it.
  void wait_entered() { wait_seen(1); }
  void wait_seen(std::size_t n) {
    std::unique_lock<std::mutex> lock(m_);
    REQUIRE(changed_.wait_for(lock, 30s, [&] { return seen_.size() >= n; }));
  }
  std::vector<std::string> seen() {
    const std::lock_guard<std::mutex> lock(m_);
    return seen_;
  }

 private:
  std::string held_;
  std::mutex m_;
  std::condition_variable changed_;
  bool open_ = false;
  std::vector<std::string> seen_;
};

// The stored entry whose body is `doc`'s delivery, whatever its state.
hookrx::inbox_entry entry_of(hookrx::inbox_store& store, const std::string& doc) {
  for (const hookrx::entry_state st : {hookrx::entry_state::queued, hookrx::entry_state::leased,
                                       hookrx::entry_state::done, hookrx::entry_state::dead}) {
    auto entries = store.list(st, 1000);
    REQUIRE(entries.has_value());
    for (hookrx::inbox_entry& e : *entries) {
      if (e.record.body == doc_body(doc) || e.record.key.find(doc) != std::string::npos) return std::move(e);
    }
  }
  FAIL("no entry for " << doc);
  return {};
}

}  // namespace

TEST_SUITE("inbox") {
  TEST_CASE("a delivery is stored and answered 202 before any handler runs, then handled once") {
    inbox_setup s;
    std::vector<std::pair<std::string, int>> seen;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed& d, const hookrx::delivery_context& ctx) {
      seen.emplace_back(d.document_id + "@" + ctx.key(), ctx.attempt);
    });
    const hookrx::response res = s.rx.handle(delivery("doc_1").view());
    CHECK(res.status == 202);
    CHECK(res.body.find("queued") != std::string::npos);
    CHECK(seen.empty());

    const hookrx::inbox_pass pass = s.run();
    CHECK(pass.handled == 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].first == "doc_1@perfectparser:extraction.document_completed:ext_1:doc_1");
    CHECK(seen[0].second == 1);
    CHECK(s.run().handled == 0);  // nothing left
  }

  TEST_CASE("an event the poller offered reaches the handler as a poll, a webhook's as a webhook") {
    inbox_setup s;
    std::vector<std::string> seen;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed& d, const hookrx::delivery_context& ctx) {
      seen.push_back(d.document_id + ":" + std::string(hookrx::to_string(ctx.origin())));
    });
    auto polled = hookrx::parse_event(hookrx::provider::perfectparser, doc_body("doc_p"));
    REQUIRE(polled.has_value());
    polled->set_origin(hookrx::delivery_origin::poll);
    auto accepted = s.box->acceptor()->accept(std::move(*polled), hookrx::request_view(), s.rx.handlers());
    REQUIRE(accepted.has_value());
    CHECK(*accepted == hookrx::disposition::queued);
    CHECK(s.rx.handle(delivery("doc_w").view()).status == 202);
    CHECK(s.run().handled == 2);
    CHECK(seen == std::vector<std::string>{"doc_p:poll", "doc_w:webhook"});
  }

  TEST_CASE("a retried delivery is acknowledged but not dispatched twice, queued or handled") {
    inbox_setup s;
    int calls = 0;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) { ++calls; });
    CHECK(s.rx.handle(delivery("doc_1").view()).status == 202);
    const hookrx::response while_queued = s.rx.handle(delivery("doc_1").view());
    CHECK(while_queued.status == 200);
    CHECK(while_queued.body.find("duplicate") != std::string::npos);
    CHECK(s.run().handled == 1);
    const hookrx::response after = s.rx.handle(delivery("doc_1").view());
    CHECK(after.status == 200);
    CHECK(after.body.find("duplicate") != std::string::npos);
    CHECK(s.run().handled == 0);
    CHECK(calls == 1);
  }

  TEST_CASE("a failing handler is retried with backoff, then dead-lettered with its last error") {
    hookrx::inbox_options options;
    options.retry.max_attempts = 3;
    options.retry.initial_delay = 10s;
    options.retry.multiplier = 2.0;
    inbox_setup s(options);
    std::vector<int> attempts;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&, const hookrx::delivery_context& ctx) {
      attempts.push_back(ctx.attempt);
      return hookrx::status(
          hookrx::error(hookrx::errc::handler_failed, "downstream said no #" + std::to_string(ctx.attempt)));
    });
    REQUIRE(s.rx.handle(delivery("doc_9").view()).status == 202);

    CHECK(s.run().retried == 1);
    CHECK(s.run().retried == 0);  // not due before the backoff (10 s, jitter draw 0.5 = none)
    s.clock->advance(9s);
    CHECK(s.run().retried == 0);
    s.clock->advance(1s);
    CHECK(s.run().retried == 1);  // second attempt failed: next one after 20 s
    s.clock->advance(19s);
    CHECK(s.run().dead_lettered == 0);
    s.clock->advance(1s);
    CHECK(s.run().dead_lettered == 1);
    CHECK(attempts == std::vector<int>{1, 2, 3});

    auto dead = s.box->dead_letters();
    REQUIRE(dead.has_value());
    REQUIRE(dead->size() == 1);
    const hookrx::inbox_entry& e = dead->front();
    CHECK(e.state == hookrx::entry_state::dead);
    CHECK(e.attempts == 3);
    CHECK(e.last_error.find("downstream said no #3") != std::string::npos);
    CHECK(e.record.key == "perfectparser:extraction.document_completed:ext_1:doc_9");
    auto inspected = s.box->inspect(e.id);
    REQUIRE(inspected.has_value());
    REQUIRE(inspected->has_value());
    CHECK((*inspected)->record.body == doc_body("doc_9"));

    // A retry of a dead-lettered delivery is acknowledged as a duplicate and does not run again.
    CHECK(s.rx.handle(delivery("doc_9").view()).status == 200);
    CHECK(s.run().retried + s.run().dead_lettered == 0);
    CHECK(attempts.size() == 3);
  }

  TEST_CASE("a replayed dead letter runs again from attempt 1") {
    hookrx::inbox_options options;
    options.retry.max_attempts = 1;
    inbox_setup s(options);
    bool fail = true;
    std::vector<int> attempts;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&, const hookrx::delivery_context& ctx) {
      attempts.push_back(ctx.attempt);
      if (fail) throw std::runtime_error("not yet");
    });
    REQUIRE(s.rx.handle(delivery("doc_r").view()).status == 202);
    CHECK(s.run().dead_lettered == 1);
    auto dead = s.box->dead_letters();
    REQUIRE(dead.has_value());
    REQUIRE(dead->size() == 1);

    fail = false;
    REQUIRE(s.box->replay(dead->front().id).has_value());
    CHECK(s.run().handled == 1);
    CHECK(attempts == std::vector<int>{1, 1});
    auto after = s.box->dead_letters();
    REQUIRE(after.has_value());
    CHECK(after->empty());
    const hookrx::status again = s.box->replay(dead->front().id);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code() == hookrx::errc::not_found);
  }

  TEST_CASE("a lease left by a crashed worker is taken over once it expires") {
    hookrx::inbox_options options;
    options.lease = 60s;
    inbox_setup s(options);
    std::vector<int> attempts;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&, const hookrx::delivery_context& ctx) {
      attempts.push_back(ctx.attempt);
    });
    REQUIRE(s.rx.handle(delivery("doc_c").view()).status == 202);
    // A worker that leased the entry and died before acknowledging it.
    auto crashed = s.store->lease(10, 60s);
    REQUIRE(crashed.has_value());
    REQUIRE(crashed->size() == 1);
    CHECK(s.run().handled == 0);
    s.clock->advance(61s);
    CHECK(s.run().handled == 1);
    CHECK(attempts == std::vector<int>{2});
  }

  TEST_CASE("an entry whose batch lease ran out before its turn is left to the worker that holds it now") {
    hookrx::inbox_options options;
    options.lease = 60s;
    options.batch = 16;
    inbox_setup s(options);
    // A second worker on the same store (another inbox, as in another process).
    auto other = hookrx::inbox::create(s.store, s.rx.handlers(), options, s.clock, [] { return 0.5; });
    std::multiset<std::string> runs;
    bool slow_first = true;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed& d) {
      runs.insert(d.document_id);
      if (slow_first) {  // worker A's first handler outlasts the batch's lease ...
        slow_first = false;
        s.clock->advance(90s);
        auto taken = other->process_due();  // ... and worker B leases the whole batch again
        REQUIRE(taken.has_value());
        CHECK(taken->handled == 4);
      }
    });
    for (const char* id : {"doc_a", "doc_b", "doc_c", "doc_d"}) REQUIRE(s.rx.handle(delivery(id).view()).status == 202);
    const hookrx::inbox_pass pass = s.run();  // worker A
    // A's own first handler ran past its lease: that one ran twice (the documented limit: a lease
    // must outlast the handler). The rest of A's batch was not started, so it ran once, in B.
    CHECK(pass.handled == 0);  // A's ack of doc_a lost to B's lease
    CHECK(pass.expired == 3);
    CHECK(runs.count("doc_a") == 2);
    for (const char* id : {"doc_b", "doc_c", "doc_d"}) CHECK(runs.count(id) == 1);
  }

  TEST_CASE("a batch handler gets a pass's whole lease in one call, and the batch is acknowledged together") {
    inbox_setup s;
    std::vector<std::vector<std::string>> calls;
    s.rx.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
      std::vector<std::string> ids;
      for (hookrx::batch_entry& e : batch) ids.push_back(e.ctx.ev.get_if<hookrx::document_completed>()->document_id);
      calls.push_back(ids);
    });
    for (const char* id : {"doc_1", "doc_2", "doc_3", "doc_4", "doc_5"})
      REQUIRE(s.rx.handle(delivery(id).view()).status == 202);
    const hookrx::inbox_pass pass = s.run();
    CHECK(pass.handled == 5);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0] == std::vector<std::string>{"doc_1", "doc_2", "doc_3", "doc_4", "doc_5"});
    auto done = s.store->list(hookrx::entry_state::done, 10);
    REQUIRE(done.has_value());
    CHECK(done->size() == 5);
    CHECK(s.rx.handle(delivery("doc_3").view()).status == 200);  // known: a duplicate
    CHECK(s.run().handled == 0);
  }

  TEST_CASE("an event its batch handler fails is retried alone, with backoff, and the rest are done") {
    inbox_setup s;
    std::vector<std::pair<std::string, int>> seen;
    s.rx.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
      for (hookrx::batch_entry& e : batch) {
        const std::string& id = e.ctx.ev.get_if<hookrx::document_completed>()->document_id;
        seen.emplace_back(id, e.ctx.attempt);
        if (id == "doc_b" && e.ctx.attempt == 1) e.outcome = hookrx::error(hookrx::errc::handler_failed, "disk full");
      }
    });
    for (const char* id : {"doc_a", "doc_b", "doc_c"}) REQUIRE(s.rx.handle(delivery(id).view()).status == 202);
    hookrx::inbox_pass pass = s.run();
    CHECK(pass.handled == 2);
    CHECK(pass.retried == 1);
    auto queued = s.store->list(hookrx::entry_state::queued, 10);
    REQUIRE(queued.has_value());
    REQUIRE(queued->size() == 1);
    CHECK(hookrx_test::contains(queued->front().last_error, "disk full"));
    CHECK(s.run().handled == 0);  // not due before its backoff
    s.clock->advance(1h);
    pass = s.run();
    CHECK(pass.handled == 1);
    CHECK(seen.back() == std::make_pair(std::string("doc_b"), 2));
    CHECK(seen.size() == 4);
  }

  TEST_CASE("a batch whose lease runs out before its batch handler runs is left whole to the next holder") {
    hookrx::inbox_options options;
    options.lease = 60s;
    inbox_setup s(options);
    int batch_calls = 0;
    bool slow = true;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) {
      if (slow) {
        slow = false;
        s.clock->advance(90s);  // the first event's handler outlasts the batch's lease
      }
    });
    s.rx.on_batch([&](std::vector<hookrx::batch_entry>&) { ++batch_calls; });
    for (const char* id : {"doc_a", "doc_b", "doc_c"}) REQUIRE(s.rx.handle(delivery(id).view()).status == 202);
    hookrx::inbox_pass pass = s.run();
    CHECK(pass.handled == 0);
    CHECK(pass.expired == 3);  // none finished: the batch handler, which finishes them, did not run
    CHECK(batch_calls == 0);
    pass = s.run();  // due again (their lease ran out): the next lease runs the whole batch
    CHECK(pass.handled == 3);
    CHECK(batch_calls == 1);
  }

  TEST_CASE("the inbox keeps the listed headers and never a credential") {
    inbox_setup s;
    REQUIRE(s.rx.handle(delivery("doc_h").view()).status == 202);
    auto queued = s.store->list(hookrx::entry_state::queued, 10);
    REQUIRE(queued.has_value());
    REQUIRE(queued->size() == 1);
    const std::string& headers = queued->front().record.headers;
    CHECK(headers.find("Content-Type: application/json") != std::string::npos);
    CHECK(headers.find("X-PerfectParser-Signature: ") != std::string::npos);
    CHECK(headers.find("static-should-not-be-stored") == std::string::npos);
    CHECK(headers.find("X-Webhook-Secret") == std::string::npos);
  }

  TEST_CASE("workers handle every accepted delivery exactly once and stop cleanly") {
    worker_setup s;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed& d) { s.record(d.document_id); });
    hookrx::inbox_options options;
    options.workers = 3;
    s.start(options);
    hookrx::receiver& rx = s.rx;

    constexpr int senders = 4;
    constexpr int per_sender = 50;
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
      threads.emplace_back([&rx, t] {
        for (int i = 0; i < per_sender; ++i) {
          const std::string id = "doc_" + std::to_string(i * senders + t);
          const int first = rx.handle(delivery(id).view()).status;
          const int again = rx.handle(delivery(id).view()).status;  // an immediate retry
          CHECK(first == 202);
          CHECK(again == 200);
        }
      });
    }
    for (auto& t : threads) t.join();
    s.expect_each_once(senders * per_sender);
  }

  // Offers wake an idle worker without taking the inbox's mutex unless a worker waits; a lost
  // wakeup would leave a delivery unhandled for idle_poll, here an hour, and fail the bounded wait.
  TEST_CASE("each new delivery wakes an idle worker, however the offer and the worker's wait interleave") {
    temp_db db;
    auto opened = hookrx::sqlite_store::open({db.path()});
    REQUIRE(opened.has_value());
    hookrx::receiver rx = inbox_setup::make_receiver();
    std::atomic<int> handled{0};
    rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) { handled.fetch_add(1); });
    hookrx::inbox_options options;
    options.workers = 2;
    options.idle_poll = std::chrono::hours(1);
    auto box = hookrx::inbox::create(*opened, rx.handlers(), options);
    rx.accept_with(box->acceptor());
    box->start();
    // Pauses of random length between deliveries let the offer land both while a worker is still
    // busy and after it has gone to sleep (the pause only varies the interleaving; nothing is timed).
    std::mt19937 rng(7);  // NOLINT(cert-msc32-c,cert-msc51-cpp): fixed, so a failure replays
    constexpr int deliveries = 100;
    for (int i = 0; i < deliveries; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
      REQUIRE(rx.handle(delivery("wake_" + std::to_string(i)).view()).status == 202);
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (handled.load() <= i && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      REQUIRE(handled.load() == i + 1);
    }
    box->stop();
  }

  // With gathering, offers do not wake a sleeping worker while another is busy; the busy one must
  // then take them before it sleeps, and a full batch wakes the next. A lost wakeup would leave a
  // delivery unhandled for idle_poll (an hour) and fail the wait.
  TEST_CASE("gathering workers with a batch handler handle every delivery, however offers and waits interleave") {
    worker_setup s;
    s.rx.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
      for (const hookrx::batch_entry& e : batch) s.record(e.ctx.key());
    });
    hookrx::inbox_options options;
    options.workers = 3;
    options.batch = 4;  // small, so that full batches wake more workers too
    options.gather = std::chrono::milliseconds(1);
    options.idle_poll = std::chrono::hours(1);
    s.start(options);
    std::mt19937 rng(11);  // NOLINT(cert-msc32-c,cert-msc51-cpp): fixed, so a failure replays
    constexpr int deliveries = 120;
    for (int i = 0; i < deliveries; ++i) {
      if (rng() % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
      REQUIRE(s.rx.handle(delivery("gather_" + std::to_string(i)).view()).status == 202);
    }
    s.expect_each_once(deliveries);
  }

  // --- handoff: deliveries stored leased and handed to the workers in memory ---

  TEST_CASE(
      "with handoff, deliveries are stored leased for the workers, and stop queues again what they did not take") {
    hookrx::inbox_options options;
    options.workers = 1;
    options.batch = 1;
    options.handoff = 64;
    options.idle_poll = std::chrono::hours(1);
    inbox_setup s(options);
    handler_gate gate("doc_a");
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed& d) { gate.enter(d.document_id); });
    s.box->start();
    REQUIRE(s.rx.handle(delivery("doc_a").view()).status == 202);
    gate.wait_entered();  // the only worker is in doc_a's handler
    for (const char* doc : {"doc_b", "doc_c"}) {
      REQUIRE(s.rx.handle(delivery(doc).view()).status == 202);
      // Leased, one attempt counted, by no lease() of a worker: the offer stored it so.
      const hookrx::inbox_entry e = entry_of(*s.store, doc);
      CHECK(hookrx::to_string(e.state) == "leased");
      CHECK(e.attempts == 1);
      CHECK(e.lease_until == s.clock->now() + options.lease);
    }
    // stop() first stops handing off: a delivery it finds stopping is queued as without handoff.
    std::thread stopper([&] { s.box->stop(); });
    int probes = 0;
    while (true) {
      const std::string doc = "probe_" + std::to_string(probes++);
      REQUIRE(s.rx.handle(delivery(doc).view()).status == 202);
      if (hookrx::to_string(entry_of(*s.store, doc).state) == "queued") break;
      REQUIRE(probes < 100000);
    }
    gate.open();
    stopper.join();
    CHECK(gate.seen() == std::vector<std::string>{"doc_a"});
    CHECK(hookrx::to_string(entry_of(*s.store, "doc_a").state) == "done");
    std::vector<std::string> returned = {"doc_b", "doc_c"};
    for (int i = 0; i < probes; ++i) returned.push_back("probe_" + std::to_string(i));
    for (const std::string& doc : returned) {  // none left leased to a worker that is gone
      const hookrx::inbox_entry e = entry_of(*s.store, doc);
      CHECK_MESSAGE(hookrx::to_string(e.state) == "queued", doc);
      CHECK_MESSAGE(e.attempts == 0, doc);
    }
    // The next run takes them from the store, each once.
    s.box->start();
    gate.wait_seen(1 + returned.size());
    s.box->stop();
    const std::vector<std::string> all = gate.seen();
    const std::multiset<std::string> seen(all.begin(), all.end());
    for (const std::string& doc : returned) CHECK_MESSAGE(seen.count(doc) == 1, doc);
  }

  TEST_CASE("with handoff, workers still lease retries and expired leases from the store every idle_poll") {
    for (const bool poll_due : {false, true}) {
      CAPTURE(poll_due);
      hookrx::inbox_options options;
      options.workers = 1;
      options.batch = 1;
      options.handoff = 64;
      options.idle_poll = std::chrono::minutes(1);  // a store lease when it is due on the manual clock
      options.lease = std::chrono::hours(1);        // the handed ones stay leased meanwhile
      inbox_setup s(options);
      handler_gate gate("doc_a");
      s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed& d) { gate.enter(d.document_id); });
      s.box->start();
      REQUIRE(s.rx.handle(delivery("doc_a").view()).status == 202);
      gate.wait_entered();
      // Due in the store (as a retry would be), then two deliveries handed to the worker.
      hookrx::inbox_record rec;
      rec.key = "store:doc_x";
      rec.event_name = "extraction.document_completed";
      rec.body = doc_body("doc_x");
      REQUIRE(s.store->offer(rec).has_value());
      REQUIRE(s.rx.handle(delivery("doc_b").view()).status == 202);
      REQUIRE(s.rx.handle(delivery("doc_c").view()).status == 202);
      if (poll_due) s.clock->advance(options.idle_poll);
      gate.open();
      gate.wait_seen(4);
      s.box->stop();
      // Handed deliveries go first; the store's due entries join the first pass after idle_poll,
      // or wait until nothing is handed.
      const std::vector<std::string> want = poll_due ? std::vector<std::string>{"doc_a", "doc_b", "doc_x", "doc_c"}
                                                     : std::vector<std::string>{"doc_a", "doc_b", "doc_c", "doc_x"};
      std::string order;
      for (const std::string& doc : gate.seen()) order += doc + " ";
      CAPTURE(order);
      CHECK(gate.seen() == want);
    }
  }

  TEST_CASE("a store that cannot take the delivery answers 503 and acknowledges nothing") {
    temp_db db;
    hookrx::sqlite_options so;
    so.path = db.path();
    so.busy_timeout = 50ms;
    auto opened = hookrx::sqlite_store::open(so);
    REQUIRE(opened.has_value());
    hookrx::receiver rx = inbox_setup::make_receiver();
    auto box = hookrx::inbox::create(*opened, rx.handlers());
    rx.accept_with(box->acceptor());

    // Another process's writer holds the database lock.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    const hookrx::response blocked = rx.handle(delivery("doc_x").view());
    CHECK(blocked.status == 503);
    CHECK(blocked.body.find("store_unavailable") != std::string::npos);
    REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);

    auto queued = (*opened)->list(hookrx::entry_state::queued, 10);
    REQUIRE(queued.has_value());
    CHECK(queued->empty());
    // The store recovers by itself: the sender's retry is stored.
    CHECK(rx.handle(delivery("doc_x").view()).status == 202);
  }
}

TEST_SUITE("dedup acceptor") {
  struct sync_setup {
    temp_db db;
    std::shared_ptr<hookrx::sqlite_store> store;
    hookrx::receiver rx = inbox_setup::make_receiver();
    explicit sync_setup(hookrx::dedup_options options = {}) {
      auto opened = hookrx::sqlite_store::open({db.path()});
      REQUIRE(opened.has_value());
      store = *opened;
      rx.accept_with(std::make_shared<hookrx::dedup_acceptor>(store, options));
    }
  };

  TEST_CASE("synchronous mode runs the handler inline once and answers duplicates 200") {
    sync_setup s;
    int calls = 0;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) { ++calls; });
    const hookrx::response first = s.rx.handle(delivery("doc_s").view());
    CHECK(first.status == 200);
    CHECK(first.body.find("processed") != std::string::npos);
    CHECK(calls == 1);
    const hookrx::response second = s.rx.handle(delivery("doc_s").view());
    CHECK(second.status == 200);
    CHECK(second.body.find("duplicate") != std::string::npos);
    CHECK(calls == 1);
  }

  TEST_CASE("a failed synchronous handler releases the key so the sender's retry runs it again") {
    sync_setup s;
    int calls = 0;
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) {
      if (++calls == 1) throw std::runtime_error("transient");
    });
    CHECK(s.rx.handle(delivery("doc_f").view()).status == 500);
    CHECK(s.rx.handle(delivery("doc_f").view()).status == 200);
    CHECK(s.rx.handle(delivery("doc_f").view()).body.find("duplicate") != std::string::npos);
    CHECK(calls == 2);
  }

  TEST_CASE("synchronous mode purges keys past their retention, so the dedup table does not grow") {
    temp_db db;
    auto clock = std::make_shared<hookrx::manual_clock>();
    hookrx::sqlite_options so;
    so.path = db.path();
    auto opened = hookrx::sqlite_store::open(so, clock);
    REQUIRE(opened.has_value());
    hookrx::receiver rx = inbox_setup::make_receiver();
    hookrx::dedup_options options;
    options.retention = std::chrono::hours(1);
    options.purge_interval = std::chrono::minutes(10);
    rx.accept_with(std::make_shared<hookrx::dedup_acceptor>(*opened, options, clock));
    const auto rows = [&] {
      sqlite3* raw = nullptr;
      REQUIRE(sqlite3_open(db.path().c_str(), &raw) == SQLITE_OK);
      sqlite3_stmt* s = nullptr;
      REQUIRE(sqlite3_prepare_v2(raw, "SELECT count(*) FROM hookrx_dedup", -1, &s, nullptr) == SQLITE_OK);
      REQUIRE(sqlite3_step(s) == SQLITE_ROW);
      const auto n = sqlite3_column_int64(s, 0);
      sqlite3_finalize(s);
      sqlite3_close(raw);
      return n;
    };
    for (int i = 0; i < 5; ++i) CHECK(rx.handle(delivery("doc_p" + std::to_string(i)).view()).status == 200);
    CHECK(rows() == 5);
    clock->advance(std::chrono::minutes(61));
    CHECK(rx.handle(delivery("doc_new").view()).status == 200);  // past the interval: purges first
    CHECK(rows() == 1);
  }

  TEST_CASE("past the deadline the answer is 500, the claim holds until the handler finishes") {
    hookrx::dedup_options options;
    options.deadline = 50ms;
    sync_setup s(options);
    std::promise<void> gate;
    std::shared_future<void> open = gate.get_future().share();
    std::atomic<int> calls{0};
    s.rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) {
      ++calls;
      open.wait();
    });
    const hookrx::response slow = s.rx.handle(delivery("doc_d").view());
    CHECK(slow.status == 500);
    const hookrx::response meanwhile = s.rx.handle(delivery("doc_d").view());
    CHECK(meanwhile.status == 409);
    CHECK(meanwhile.body.find("in_progress") != std::string::npos);
    gate.set_value();
    // Once the handler finishes, the key is done (bounded wait for that state, not for a time).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline &&
           (status = s.rx.handle(delivery("doc_d").view()).status) != 200) {
      std::this_thread::yield();
    }
    CHECK(status == 200);
    CHECK(calls == 1);
  }
}
