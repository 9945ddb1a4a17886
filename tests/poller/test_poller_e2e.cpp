// The fallback poller end to end: real webhooks over loopback HTTP into receivers with a durable
// inbox, the real PerfectParser client against the fake API (which answers some calls 429 or 5xx),
// and a store shared the way production shares it (SQLite for one instance, PostgreSQL for two).
// Webhooks are dropped, duplicated and delivered after their document was polled: every terminal
// document must reach a handler exactly once, and the fake must never see more than the configured
// requests in any 60 s window. The poller's and stores' clock is manual (grace periods pass at
// once); the API client's rate budget runs on real time, as the fake does.
#include <doctest/doctest.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fake_api.hpp"
#include "hookrx/api.hpp"
#include "hookrx/httplib.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/poller.hpp"
#include "hookrx/sqlite_store.hpp"
#include "support.hpp"
#include "temp_db.hpp"
#ifdef HOOKRX_E2E_POSTGRES
#include "hookrx/postgres_store.hpp"
#endif

namespace {

using namespace std::chrono_literals;
using hookrx::testing::fake_api;

constexpr std::string_view signing_secret = "wh_sec_poller_e2e";
constexpr int budget_per_minute = 100;  // the configured budget the fake must never see exceeded

// What every instance's handlers saw, by key.
struct ledger {
  std::mutex mutex;
  std::map<std::string, int> by_key;
  std::map<std::string, int> polled;
  void record(const hookrx::event& ev, const hookrx::delivery_context& ctx) {
    const std::lock_guard<std::mutex> lock(mutex);
    ++by_key[ev.key()];
    if (ctx.origin() == hookrx::delivery_origin::poll) ++polled[ev.key()];
  }
  std::size_t size() {
    const std::lock_guard<std::mutex> lock(mutex);
    return by_key.size();
  }
};

// One receiver instance: HTTP server, receiver, inbox (workers running) and poller.
struct receiver_instance {
  hookrx::receiver rx;
  std::shared_ptr<hookrx::inbox> box;
  std::shared_ptr<hookrx::poller> poller;
  httplib::Server server;
  std::thread serving;
  int port = 0;

  receiver_instance(ledger& seen, const std::shared_ptr<hookrx::manual_clock>& clock,
                    const std::shared_ptr<hookrx::inbox_store>& inbox, const std::shared_ptr<hookrx::poll_store>& poll,
                    const std::shared_ptr<hookrx::dedup_store>& marks, const std::shared_ptr<hookrx::poller_api>& api,
                    const std::string& id)
      : rx(make_receiver()) {
    rx.on_any([&seen](const hookrx::event& ev, const hookrx::delivery_context& ctx) { seen.record(ev, ctx); });
    hookrx::inbox_options io;
    io.idle_poll = 20ms;
    box = hookrx::inbox::create(inbox, rx.handlers(), io, clock);
    hookrx::poller_options po;
    po.instance_id = id;
    po.grace = 10min;
    po.sweep_interval = 5min;
    auto p = hookrx::poller::create(poll, inbox, marks, api, rx.handlers(), po, clock);
    REQUIRE_MESSAGE(p.has_value(), hookrx_test::why(p));
    poller = *p;
    rx.accept_with(poller->wrap(box->acceptor()));
    hookrx::mount(server, "/webhooks", rx);
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    serving = std::thread([this] { server.listen_after_bind(); });
    box->start();
  }
  ~receiver_instance() {
    box->stop();
    server.stop();
    serving.join();
  }
  receiver_instance(const receiver_instance&) = delete;
  receiver_instance& operator=(const receiver_instance&) = delete;

  static hookrx::receiver make_receiver() {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {std::string(signing_secret)};
    auto r = hookrx::receiver::create(creds);
    REQUIRE(r.has_value());
    return std::move(r).value();
  }

  /// POSTs a signed webhook; the HTTP status.
  int send(const std::string& body) const {
    httplib::Client c("127.0.0.1", port);
    httplib::Headers h = {{"X-PerfectParser-Signature", hookrx_test::hmac_sha256_hex(signing_secret, body)}};
    auto res = c.Post("/webhooks", h, body, "application/json");
    return res ? res->status : 0;
  }
};

// The dataset: `extractions` extractions of 10 terminal documents each (every 7th failed).
struct dataset {
  std::vector<hookrx::testing::fake_extraction> extractions;
  std::vector<std::string> doc_keys;
  std::vector<std::string> job_keys;
};

dataset make_dataset(fake_api& api, int extractions, hookrx::time_point updated) {
  dataset d;
  for (int i = 0; i < extractions; ++i) {
    auto x = hookrx::testing::make_extraction("ext_e2e_" + std::to_string(i), 10, "completed",
                                              hookrx::to_iso8601(updated + std::chrono::seconds(i)), 7);
    api.put_extraction(x);
    for (const auto& doc : x.documents) {
      d.doc_keys.push_back("perfectparser:extraction.document_completed:" + x.extraction_id + ":" + doc.document_id);
    }
    d.job_keys.push_back("perfectparser:extraction.job_completed:" + x.extraction_id);
    d.extractions.push_back(std::move(x));
  }
  return d;
}

// Successful answers to `endpoint`.
std::size_t successes(const fake_api& api, std::string_view endpoint) { return api.count_status(endpoint, 200); }

std::shared_ptr<hookrx::poller_api> client_for(const fake_api& api,
                                               const std::shared_ptr<hookrx::rate_budget>& budget) {
  hookrx::perfectparser_client_options o;
  o.base_url = api.base_url();
  o.api_key = api.options().api_key;
  o.budget = budget;
  auto c = hookrx::perfectparser_client::create(o);
  REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error().message()));
  return hookrx::poller_api_of(std::make_shared<hookrx::perfectparser_client>(std::move(*c)), nullptr);
}

std::shared_ptr<hookrx::rate_budget> make_budget() {
  hookrx::rate_budget_options r;
  r.requests_per_minute = budget_per_minute;
  return hookrx::rate_budget::create(r);
}

std::unique_ptr<fake_api> start_fake() {
  hookrx::testing::fake_api_options o;
  // Short fixed windows: an injected 429 says "reset within 2 s", so the test does not wait a minute.
  o.window = std::chrono::seconds(2);
  o.faults.fraction_429 = 0.05;
  o.faults.fraction_5xx = 0.05;
  o.faults.seed = 20261203;
  auto api = fake_api::start(o);
  REQUIRE(api != nullptr);
  return api;
}

// Sends the webhooks with losses: 30 % of document webhooks dropped (a third of those delivered
// late, after the poll), 10 % sent twice, 30 % of job webhooks dropped. Returns the late ones.
std::vector<std::string> send_webhooks(const dataset& d, const std::vector<receiver_instance*>& to, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::string> late;
  auto pick = [&]() -> receiver_instance& { return *to[static_cast<std::size_t>(rng() % to.size())]; };
  for (const auto& x : d.extractions) {
    for (const auto& doc : x.documents) {
      const std::string body = hookrx::testing::document_webhook_body(x, doc);
      if (u(rng) < 0.3) {
        if (u(rng) < 0.34) late.push_back(body);
        continue;
      }
      CHECK(pick().send(body) == 202);
      if (u(rng) < 0.1) CHECK(pick().send(body) == 200);  // a retry: duplicate
    }
    if (u(rng) < 0.7) CHECK(pick().send(hookrx::testing::job_webhook_body(x)) == 202);
  }
  return late;
}

// Waits (real time, bounded) until the handlers saw `want` distinct keys and nothing is left queued.
void wait_for(ledger& seen, std::size_t want) {
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (seen.size() < want && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);  // let a duplicate dispatch, if there were one, show up too
}

// Waits (real time, bounded) until nothing is queued or leased in `store`. The manual clock must
// not jump while workers hold leases: a lease that runs out under a running handler lets another
// worker run the entry again (at least once, by design), which is not what this test is about.
void settle(hookrx::inbox_store& store) {
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    auto q = store.list(hookrx::entry_state::queued, 1);
    auto l = store.list(hookrx::entry_state::leased, 1);
    if (q && l && q->empty() && l->empty()) return;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("the inbox did not drain within 30 s");
}

void check_exactly_once(ledger& seen, const dataset& d) {
  const std::lock_guard<std::mutex> lock(seen.mutex);
  CHECK(seen.by_key.size() == d.doc_keys.size() + d.job_keys.size());
  int twice = 0;
  int missing = 0;
  for (const auto* keys : {&d.doc_keys, &d.job_keys}) {
    for (const auto& k : *keys) {
      const auto it = seen.by_key.find(k);
      if (it == seen.by_key.end()) {
        ++missing;
      } else if (it->second != 1) {
        ++twice;
        MESSAGE(k << " handled " << it->second << " times, " << seen.polled[k] << " of them polled");
      }
    }
  }
  CHECK(missing == 0);
  CHECK(twice == 0);
}

}  // namespace

TEST_SUITE("poller end to end") {
  TEST_CASE("200 documents, 30 % of webhooks lost, 10 % of API calls failing: each handled once within the budget") {
    auto api = start_fake();
    auto clock = std::make_shared<hookrx::manual_clock>();
    hookrx_test::temp_db db;
    hookrx::sqlite_options so;
    so.path = db.path();
    auto store = hookrx::sqlite_store::open(so, clock);
    REQUIRE(store.has_value());
    const dataset d = make_dataset(*api, 20, clock->now() - 30min);
    ledger seen;
    auto budget = make_budget();
    receiver_instance one(seen, clock, *store, *store, *store, client_for(*api, budget), "one");
    std::mt19937 rng(7);
    const std::vector<std::string> late = send_webhooks(d, {&one}, rng);
    settle(**store);
    clock->advance(10min);  // past the grace period
    for (int round = 0; round < 6 && seen.size() < d.doc_keys.size() + d.job_keys.size(); ++round) {
      auto r = one.poller->run_once();
      REQUIRE_MESSAGE(r.has_value(), hookrx_test::why(r));
      CHECK(r->leader);
      wait_for(seen, d.doc_keys.size() + d.job_keys.size());
      settle(**store);
      clock->advance(5min);
    }
    for (const auto& body : late) CHECK(one.send(body) == 200);  // after their poll: duplicates
    wait_for(seen, d.doc_keys.size() + d.job_keys.size());
    check_exactly_once(seen, d);

    const auto c = one.poller->counters();
    MESSAGE("requests: " << api->count() << " (get_document 200s: " << successes(*api, "get_document")
                         << ", recovered documents: " << c.documents_recovered << ", jobs: " << c.jobs_recovered
                         << "), max in 60 s: " << api->max_in_window(60s));
    CHECK(c.documents_recovered > 0);
    // No document was fetched twice: one successful fetch per recovered document.
    CHECK(successes(*api, "get_document") == c.documents_recovered);
    CHECK(api->max_in_window(60s) <= static_cast<std::size_t>(budget_per_minute));
  }

  TEST_CASE("document webhooks taken asynchronously on SQLite are noted once each, before their answer") {
    // The way hookrx serve takes them (accept_async): the offer and the note are commits of the
    // SQLite writer, and the answer comes from the note's. Four threads send 3 extractions x 10
    // documents, each document twice; then the job webhooks settle every extraction without a
    // request, as they do when the documents were accepted synchronously.
    auto api = start_fake();
    auto clock = std::make_shared<hookrx::manual_clock>();
    hookrx_test::temp_db db;
    hookrx::sqlite_options so;
    so.path = db.path();
    auto opened = hookrx::sqlite_store::open(so, clock);
    REQUIRE(opened.has_value());
    const std::shared_ptr<hookrx::sqlite_store> store = *opened;
    const dataset d = make_dataset(*api, 3, clock->now() - 30min);
    hookrx::dispatcher handlers;
    auto box = hookrx::inbox::create(store, handlers, {}, clock);
    hookrx::poller_options po;
    po.grace = 10min;
    po.sweep = false;
    auto p = hookrx::poller::create(store, store, store, client_for(*api, make_budget()), handlers, po, clock);
    REQUIRE_MESSAGE(p.has_value(), hookrx_test::why(p));
    const std::shared_ptr<hookrx::acceptor> accept = (*p)->wrap(box->acceptor());

    std::mutex mutex;
    std::map<std::string, int> answers;  // disposition -> count
    int answered_before_noted = 0;
    auto send = [&](const std::string& body, const std::string& ext) {
      auto ev = hookrx::parse_event(hookrx::provider::perfectparser, body);
      REQUIRE(ev.has_value());
      accept->accept_async(std::move(*ev), hookrx::request_view(), handlers,
                           [&, ext](const hookrx::result<hookrx::disposition>& r) {
                             // On the writer thread. A new document's answer comes after its note
                             // (a duplicate notes nothing: it may come first).
                             const auto w = store->watched(hookrx::provider::perfectparser, ext);
                             const std::lock_guard<std::mutex> lock(mutex);
                             ++answers[r ? std::string(hookrx::to_string(*r)) : r.error().message()];
                             const bool queued = r && *r == hookrx::disposition::queued;
                             if (queued && (!w || !w->has_value())) ++answered_before_noted;
                           });
    };
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&, t] {
        for (std::size_t i = 0; i < d.extractions.size(); ++i) {
          const auto& x = d.extractions[i];
          for (std::size_t j = static_cast<std::size_t>(t) % 2; j < x.documents.size(); j += 2) {
            send(hookrx::testing::document_webhook_body(x, x.documents[j]), x.extraction_id);
          }
        }
      });
    }
    for (auto& t : senders) t.join();
    store->wait_async();
    CHECK(answers["queued"] == 30);
    CHECK(answers["duplicate"] == 30);
    CHECK(answers.size() == 2);
    CHECK(answered_before_noted == 0);
    for (const auto& x : d.extractions) {
      const auto w = store->watched(hookrx::provider::perfectparser, x.extraction_id);
      REQUIRE(w.has_value());
      REQUIRE(w->has_value());
      CHECK((*w)->documents_seen == 10);  // duplicates are not counted
      auto ev = hookrx::parse_event(hookrx::provider::perfectparser, hookrx::testing::job_webhook_body(x));
      REQUIRE(ev.has_value());
      const hookrx::result<hookrx::disposition> r = accept->accept(std::move(*ev), hookrx::request_view(), handlers);
      REQUIRE(r.has_value());
    }
    clock->advance(1h);
    auto round = (*p)->run_once();
    REQUIRE_MESSAGE(round.has_value(), hookrx_test::why(round));
    CHECK(round->polled == 0);
    CHECK(api->count() == 0);
  }

  TEST_CASE("a restart in the middle of a sweep misses nothing and fetches no page twice beyond the overlap") {
    hookrx::testing::fake_api_options fo;
    // Short windows: the vendor's Remaining stays high, so the budget has no reason to slow down
    // (it spreads calls out when our share of a 60 s window runs low, which this test is not about).
    fo.window = std::chrono::seconds(2);
    auto api = fake_api::start(fo);
    REQUIRE(api != nullptr);
    auto clock = std::make_shared<hookrx::manual_clock>();
    hookrx_test::temp_db db;
    hookrx::sqlite_options so;
    so.path = db.path();
    // Extractions one minute apart, nobody registered, no webhook: only the sweep finds them.
    dataset d;
    for (int i = 0; i < 30; ++i) {
      auto x = hookrx::testing::make_extraction("ext_sweep_" + std::to_string(100 + i), 2, "completed",
                                                hookrx::to_iso8601(clock->now() - 3h + std::chrono::minutes(i)));
      api->put_extraction(x);
      for (const auto& doc : x.documents) {
        d.doc_keys.push_back("perfectparser:extraction.document_completed:" + x.extraction_id + ":" + doc.document_id);
      }
      d.job_keys.push_back("perfectparser:extraction.job_completed:" + x.extraction_id);
      d.extractions.push_back(std::move(x));
    }
    // The first process dies when its third list call fails (the client's retries used up).
    struct dies_on_third_page final : hookrx::poller_api {
      std::shared_ptr<hookrx::poller_api> real;
      int lists = 0;
      hookrx::api_result<hookrx::pp_extraction> get_extraction(std::string_view id) override {
        return real->get_extraction(id);
      }
      hookrx::api_result<hookrx::pp_document> get_document(std::string_view e, std::string_view doc) override {
        return real->get_document(e, doc);
      }
      hookrx::api_result<hookrx::pp_extraction_page> list_extractions_page(const hookrx::list_extractions_query& q,
                                                                           std::string_view c) override {
        if (++lists == 3) return hookrx::api_errc::transport;
        return real->list_extractions_page(q, c);
      }
      hookrx::api_result<hookrx::parashift_document> get_parashift_document(std::string_view id) override {
        return real->get_parashift_document(id);
      }
    };
    ledger seen;
    const auto overlap = 90s;
    auto options_for = [&](const char* id) {
      hookrx::poller_options po;
      po.instance_id = id;
      po.page_limit = 5;
      po.sweep_overlap = overlap;
      return po;
    };
    std::size_t lists_before_restart = 0;
    {
      auto store = hookrx::sqlite_store::open(so, clock);
      REQUIRE(store.has_value());
      hookrx::receiver rx = receiver_instance::make_receiver();
      rx.on_any([&seen](const hookrx::event& ev, const hookrx::delivery_context& ctx) { seen.record(ev, ctx); });
      auto box = hookrx::inbox::create(*store, rx.handlers(), {}, clock);
      auto api_first = std::make_shared<dies_on_third_page>();
      api_first->real = client_for(*api, make_budget());
      auto p = hookrx::poller::create(*store, *store, *store, api_first, rx.handlers(), options_for("first"), clock);
      REQUIRE(p.has_value());
      (void)(*p)->wrap(box->acceptor());
      auto r = (*p)->run_once();
      REQUIRE(r.has_value());
      CHECK(r->errors == 1);
      CHECK_FALSE(r->swept);
      while (true) {
        auto pass = box->process_due();
        REQUIRE(pass.has_value());
        if (pass->handled == 0) break;
      }
      CHECK(seen.size() == 10 * 3);  // two pages of five extractions: two documents and a job each
      auto mark = (*store)->watermark("perfectparser:sweep");
      REQUIRE(mark.has_value());
      REQUIRE(mark->has_value());
      CHECK(hookrx::to_iso8601(**mark) == d.extractions[9].updated_at);
      lists_before_restart = api->count("list_extractions");
      CHECK(lists_before_restart == 2);
    }  // the process is gone; its lease runs out
    clock->advance(5min);
    auto store = hookrx::sqlite_store::open(so, clock);
    REQUIRE(store.has_value());
    hookrx::receiver rx = receiver_instance::make_receiver();
    rx.on_any([&seen](const hookrx::event& ev, const hookrx::delivery_context& ctx) { seen.record(ev, ctx); });
    auto box = hookrx::inbox::create(*store, rx.handlers(), {}, clock);
    auto p = hookrx::poller::create(*store, *store, *store, client_for(*api, make_budget()), rx.handlers(),
                                    options_for("second"), clock);
    REQUIRE(p.has_value());
    (void)(*p)->wrap(box->acceptor());
    auto r = (*p)->run_once();
    REQUIRE(r.has_value());
    CHECK(r->swept);
    while (true) {
      auto pass = box->process_due();
      REQUIRE(pass.has_value());
      if (pass->handled == 0) break;
    }
    check_exactly_once(seen, d);
    // The second process starts at the watermark minus the 90 s overlap: extractions 8 and 9
    // again (60 s and 0 s before the mark), then 10..29: 22 extractions, 5 pages. The first
    // process's pages before the overlap are not fetched again.
    CHECK(api->count("list_extractions") - lists_before_restart == 5);
    // Extractions 8 and 9 were seen again but settled: no request for them.
    CHECK(api->count("get_extraction") == 30);
    CHECK(api->count("get_document") == 60);
  }

  TEST_CASE("Parashift: overdue documents are fetched, and each terminal topic acts once by webhook or poll") {
    // Webhooks over HTTP through a server that takes the synchronous way (accept()), or through
    // receiver::handle_async() as hookrx serve takes them (accept_async(): the marker's claim, the
    // offer, the marker's completion and the unwatch are each a write queued for the SQLite writer).
    bool async = false;
    SUBCASE("synchronous accept") { async = false; }
    SUBCASE("asynchronous accept") { async = true; }
    hookrx::testing::fake_api_options fo;
    fo.window = std::chrono::seconds(2);
    auto api = fake_api::start(fo);
    REQUIRE(api != nullptr);
    auto clock = std::make_shared<hookrx::manual_clock>();
    hookrx_test::temp_db db;
    hookrx::sqlite_options so;
    so.path = db.path();
    auto store = hookrx::sqlite_store::open(so, clock);
    REQUIRE(store.has_value());
    hookrx::parashift_credentials creds;
    creds.headers = {{"Authorization", {"Bearer hook-token-e2e"}}};
    auto rx = hookrx::receiver::create(creds);
    REQUIRE(rx.has_value());
    ledger seen;
    rx->on_any([&seen](const hookrx::event& ev, const hookrx::delivery_context& ctx) { seen.record(ev, ctx); });
    auto box = hookrx::inbox::create(*store, rx->handlers(), {}, clock);
    hookrx::parashift_client_options co;
    co.base_url = api->base_url();
    co.api_key = api->options().parashift_token;
    co.budget = make_budget();
    auto ps = hookrx::parashift_client::create(co);
    REQUIRE_MESSAGE(ps.has_value(), (ps ? std::string() : ps.error().message()));
    auto p = hookrx::poller::create(
        *store, *store, *store,
        hookrx::poller_api_of(nullptr, std::make_shared<hookrx::parashift_client>(std::move(*ps))), rx->handlers(), {},
        clock);
    REQUIRE(p.has_value());
    rx->accept_with((*p)->wrap(box->acceptor()));
    httplib::Server server;
    hookrx::mount(server, "/parashift", *rx);
    const int port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serving([&] { server.listen_after_bind(); });
    auto send = [&](const std::string& body) {
      if (async) {
        const hookrx::header_view headers[] = {{"Authorization", "Bearer hook-token-e2e"},
                                               {"Content-Type", "application/json"}};
        std::promise<int> answered;
        std::future<int> status = answered.get_future();
        rx->handle_async(hookrx::request_view(body, headers, "127.0.0.1"),
                         [&answered](const hookrx::response& res) { answered.set_value(res.status); });
        return status.get();
      }
      httplib::Client c("127.0.0.1", port);
      auto res = c.Post("/parashift", {{"Authorization", "Bearer hook-token-e2e"}}, body, "application/json");
      return res ? res->status : 0;
    };
    // Ten documents, every third failed. Webhooks: 0-3 on time; 4-9 lost; 8 and 9 arrive after
    // their poll, with a later updated_at (the document changed): still no second action.
    std::vector<hookrx::testing::fake_parashift_document> docs;
    for (int i = 0; i < 10; ++i) {
      hookrx::testing::fake_parashift_document d;
      d.id = std::to_string(5000 + i);
      d.status = i % 3 == 2 ? "failed" : "done";
      d.updated_at = "2026-06-20T10:00:0" + std::to_string(i) + ".000Z";
      api->put_parashift_document(d);
      docs.push_back(d);
      REQUIRE((*p)->watch_parashift(d.id, clock->now() + 1min));
    }
    const auto topic = [](const hookrx::testing::fake_parashift_document& d) {
      return d.status == "done" ? "processing-finished" : "processing-failed";
    };
    for (std::size_t i = 0; i < 4; ++i)
      CHECK(send(hookrx::testing::parashift_webhook_body(docs[i], topic(docs[i]))) == 202);
    clock->advance(1min + 5min);  // overdue: expected plus the grace
    auto r = (*p)->run_once();
    REQUIRE(r.has_value());
    CHECK(r->polled == 6);  // the four whose terminal webhook came are no longer watched
    for (std::size_t i = 8; i < 10; ++i) {
      auto changed = docs[i];
      changed.updated_at = "2026-06-20T11:00:00.000Z";
      CHECK(send(hookrx::testing::parashift_webhook_body(changed, topic(changed))) == 200);
    }
    while (true) {
      auto pass = box->process_due();
      REQUIRE(pass.has_value());
      if (pass->handled == 0) break;
    }
    server.stop();
    serving.join();
    const std::lock_guard<std::mutex> lock(seen.mutex);
    CHECK(seen.by_key.size() == 10);
    CHECK(seen.polled.size() == 6);
    for (const auto& d : docs) {
      INFO("document " << d.id);
      CHECK(seen.by_key["parashift:" + std::string(topic(d)) + ":" + d.id + ":" + d.updated_at] == 1);
    }
    CHECK(api->count("parashift_document") == 6);
  }

#ifdef HOOKRX_E2E_POSTGRES
  TEST_CASE("two instances on one PostgreSQL: each document handled once, one poller at a time, one budget") {
    const char* file = std::getenv("HOOKRX_PG_CONNINFO_FILE");
    REQUIRE_MESSAGE(file != nullptr, "HOOKRX_PG_CONNINFO_FILE is not set: run through ctest");
    const std::string conninfo = hookrx_test::read_file(file).substr(0, hookrx_test::read_file(file).find('\n'));
    auto api = start_fake();
    auto clock = std::make_shared<hookrx::manual_clock>();
    hookrx::postgres_options po;
    po.conninfo = conninfo;
    po.schema = "e2e_" + std::to_string(std::random_device{}());
    auto a_store = hookrx::postgres_store::open(po, clock);
    REQUIRE_MESSAGE(a_store.has_value(), hookrx_test::why(a_store));
    auto b_store = hookrx::postgres_store::open(po, clock);  // a second "process" on the same tables
    REQUIRE(b_store.has_value());
    const dataset d = make_dataset(*api, 20, clock->now() - 30min);
    ledger seen;
    auto budget = make_budget();  // one key: one budget, as rate_budget::shared_for gives in a process
    receiver_instance a(seen, clock, *a_store, *a_store, *a_store, client_for(*api, budget), "a");
    receiver_instance b(seen, clock, *b_store, *b_store, *b_store, client_for(*api, budget), "b");
    std::mt19937 rng(11);
    const std::vector<std::string> late = send_webhooks(d, {&a, &b}, rng);
    settle(**a_store);
    clock->advance(10min);
    // Both try every round; exactly one leads. Halfway, the leader "dies" (stops renewing) and
    // the other takes over once its lease has run out.
    int leaders = 0;
    bool a_alive = true;
    for (int round = 0; round < 6; ++round) {
      auto ra = a_alive ? a.poller->run_once() : hookrx::result<hookrx::poll_round>(hookrx::poll_round{});
      auto rb = b.poller->run_once();
      REQUIRE(ra.has_value());
      REQUIRE(rb.has_value());
      CHECK_FALSE((ra->leader && rb->leader));
      leaders += (ra->leader ? 1 : 0) + (rb->leader ? 1 : 0);
      if (round == 0) a_alive = !ra->leader;  // the first leader dies
      wait_for(seen, d.doc_keys.size() + d.job_keys.size());
      settle(**a_store);
      clock->advance(5min);
    }
    CHECK(leaders >= 5);
    for (std::size_t i = 0; i < late.size(); ++i) CHECK((i % 2 == 0 ? a : b).send(late[i]) == 200);
    wait_for(seen, d.doc_keys.size() + d.job_keys.size());
    check_exactly_once(seen, d);
    CHECK(api->max_in_window(60s) <= static_cast<std::size_t>(budget_per_minute));
    const auto ca = a.poller->counters();
    const auto cb = b.poller->counters();
    CHECK(ca.documents_recovered + cb.documents_recovered > 0);
    CHECK(successes(*api, "get_document") == ca.documents_recovered + cb.documents_recovered);
  }
#endif
}
