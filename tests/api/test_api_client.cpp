// The clients over real HTTP against the fake API on loopback. The clients run on a manual clock
// whose waits advance it, so backoff and rate waits cost no real time; the fake runs on real time.
#include <doctest/doctest.h>

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "fake_api.hpp"
#include "hookrx/api.hpp"

using namespace std::chrono_literals;
using hookrx::api_errc;
using hookrx::testing::fake_api;
using hookrx::testing::fake_script;
using std::chrono::milliseconds;

namespace {

struct env {
  std::unique_ptr<fake_api> api;
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::mutex mu;
  std::vector<milliseconds> waits;
  double draw = 0.5;

  explicit env(hookrx::testing::fake_api_options o = {}) {
    api = fake_api::start(std::move(o));
    REQUIRE(api);
  }

  template <class Options>
  Options options() {
    Options o;
    o.base_url = api->base_url();
    o.api_key = api->options().api_key;
    o.rate.time = clock;
    o.rate.random = [this] { return draw; };
    o.rate.wait = [this](milliseconds d) {
      std::lock_guard<std::mutex> lock(mu);
      waits.push_back(d);
      clock->advance(d);
      return true;
    };
    o.budget = hookrx::rate_budget::create(o.rate);  // each test its own, not the per-key registry
    return o;
  }
  hookrx::perfectparser_client pp(const std::function<void(hookrx::perfectparser_client_options&)>& tweak = {}) {
    auto o = options<hookrx::perfectparser_client_options>();
    if (tweak) {
      tweak(o);
      o.budget = hookrx::rate_budget::create(o.rate);
    }
    auto c = hookrx::perfectparser_client::create(o);
    REQUIRE(c);
    return std::move(*c);
  }
  hookrx::parashift_client ps(std::string token = {}) {
    auto o = options<hookrx::parashift_client_options>();
    o.api_key = token.empty() ? api->options().parashift_token : token;
    auto c = hookrx::parashift_client::create(o);
    REQUIRE(c);
    return std::move(*c);
  }
};

}  // namespace

TEST_SUITE("api client over HTTP") {
  TEST_CASE("a document is fetched with every documented field") {
    env e;
    e.api->put_extraction(hookrx::testing::make_extraction("ext_1", 2));
    auto pp = e.pp();
    auto d = pp.get_document("ext_1", "ext_1_doc_1");
    REQUIRE(d);
    CHECK(d->document_id == "ext_1_doc_1");
    CHECK(d->extraction_id == "ext_1");
    CHECK(d->status == "completed");
    CHECK(d->extracted_data == R"({"total":"101.00"})");
    CHECK(d->confidence);
    CHECK(d->updated_at == "2026-06-20T10:00:45.000Z");
    CHECK(e.api->count("get_document") == 1);
    const auto snap = pp.counters().snapshot();
    CHECK(snap.requests[static_cast<std::size_t>(hookrx::api_endpoint::get_document)][0] == 1);
    auto ev = hookrx::to_event(*d);
    REQUIRE(ev);
    auto hook = hookrx::parse_event(
        hookrx::provider::perfectparser,
        hookrx::testing::document_webhook_body(*e.api->extraction("ext_1"), e.api->extraction("ext_1")->documents[1]));
    REQUIRE(hook);
    CHECK(ev->key() == hook->key());
    CHECK(ev->get_if<hookrx::document_completed>()->extracted_data ==
          hook->get_if<hookrx::document_completed>()->extracted_data);
  }

  TEST_CASE("an extraction, its results and the user are fetched") {
    env e;
    e.api->put_extraction(hookrx::testing::make_extraction("ext_2", 4, "completed", "2026-06-20T10:00:45.000Z", 2));
    auto pp = e.pp();
    auto x = pp.get_extraction("ext_2");
    REQUIRE(x);
    CHECK(x->status == "partial");
    CHECK(x->documents.size() == 4);
    CHECK(x->documents[1].status == "failed");
    auto r = pp.get_results("ext_2");
    REQUIRE(r);
    CHECK(r->documents.size() == 4);
    CHECK(r->documents[0].extracted_data == R"({"total":"100.00"})");
    auto me = pp.me();
    REQUIRE(me);
    CHECK(me->credits_available == 1000);
  }

  TEST_CASE("listing follows the cursor to the last page and can resume from a kept cursor") {
    env e;
    const auto base = *hookrx::parse_iso8601("2026-06-20T10:00:00.000Z");
    for (int i = 0; i < 250; ++i) {
      e.api->put_extraction(hookrx::testing::make_extraction("ext_" + std::to_string(i), 1, "completed",
                                                             hookrx::to_iso8601(base + std::chrono::seconds(i))));
    }
    auto pp = e.pp();
    auto all = pp.list_extractions({});
    REQUIRE(all);
    CHECK(all->size() == 250);
    std::set<std::string> ids;
    for (const auto& x : *all) ids.insert(x.extraction_id);
    CHECK(ids.size() == 250);
    CHECK(e.api->count("list_extractions") == 3);  // 100 + 100 + 50

    hookrx::list_extractions_query q;
    q.since = hookrx::to_iso8601(base + 200s);
    q.limit = 20;
    auto first = pp.list_extractions_page(q);
    REQUIRE(first);
    CHECK(first->extractions.size() == 20);
    CHECK(first->has_next_page);
    std::size_t rest = 0;
    REQUIRE(pp.for_each_extraction_page(
        q,
        [&](const hookrx::pp_extraction_page& p) {
          rest += p.extractions.size();
          return true;
        },
        first->next_cursor));
    CHECK(20 + rest == 50);
  }

  TEST_CASE("a bad query is refused before any request") {
    env e;
    auto pp = e.pp();
    hookrx::list_extractions_query q;
    q.status = "done";
    CHECK(pp.list_extractions_page(q).error().code == api_errc::invalid_argument);
    q.status.clear();
    q.limit = 101;
    CHECK(pp.list_extractions_page(q).error().code == api_errc::invalid_argument);
    q.limit = 10;
    q.since = "yesterday";
    CHECK(pp.list_extractions_page(q).error().detail.find("since") == 0);
    CHECK(pp.get_document("", "d").error().code == api_errc::invalid_argument);
    CHECK(e.api->count() == 0);
  }

  TEST_CASE("ids are encoded so they stay one path segment") {
    env e;
    e.api->put_extraction(hookrx::testing::make_extraction("ext a+b?c#d", 1));
    auto pp = e.pp();
    auto x = pp.get_extraction("ext a+b?c#d");
    REQUIRE(x);
    CHECK(x->extraction_id == "ext a+b?c#d");
  }

  TEST_CASE("every error answer has its own typed error") {
    env e;
    e.api->put_extraction(hookrx::testing::make_extraction("ext_1", 1));
    auto pp = e.pp();
    auto nf = pp.get_document("ext_1", "nope");
    REQUIRE_FALSE(nf);
    CHECK(nf.error().code == api_errc::not_found);
    CHECK(nf.error().vendor_code == "RESOURCE_NOT_FOUND");
    CHECK(nf.error().http_status == 404);
    CHECK(nf.error().attempts == 1);

    e.api->script({1, "", 400, "INVALID_PAYLOAD", {}, 0ms, {}, {}});
    CHECK(pp.me().error().code == api_errc::invalid_request);
    e.api->script({1, "", 409, "CONFLICT", {}, 0ms, {}, {}});
    CHECK(pp.me().error().code == api_errc::conflict);
    e.api->script({1, "", 418, "", {}, 0ms, {}, {}});
    auto teapot = pp.me();
    CHECK(teapot.error().code == api_errc::http_status);
    CHECK(teapot.error().http_status == 418);
    CHECK(e.api->count() == 4);  // none of them retried

    auto wrong_key = e.pp([](auto& o) { o.api_key = "pp_live_wrong_key_123"; });
    auto unauth = wrong_key.me();
    REQUIRE_FALSE(unauth);
    CHECK(unauth.error().code == api_errc::unauthorized);
    CHECK(unauth.error().message().find("pp_live_wrong_key_123") == std::string::npos);
  }

  TEST_CASE("a 2xx body that is not the documented shape is unparsable") {
    env e;
    auto pp = e.pp();
    e.api->script({1, "", 200, "", {}, 0ms, R"({"usr": {}})", {}});
    auto a = pp.me();
    REQUIRE_FALSE(a);
    CHECK(a.error().code == api_errc::unparsable);
    CHECK(a.error().http_status == 200);
    e.api->script({1, "", 200, "", {}, 0ms, "<html>maintenance</html>", {}});
    CHECK(pp.get_extraction("x").error().code == api_errc::unparsable);
  }

  TEST_CASE("5xx answers are retried with exponential backoff and jitter, then succeed") {
    env e;
    e.draw = 1.0;  // the largest jitter: +20 %
    e.api->script({2, "", 503, "", {}, 0ms, {}, {}});
    auto pp = e.pp();
    auto me = pp.me();
    REQUIRE(me);
    CHECK(e.api->count("me") == 3);
    REQUIRE(e.waits.size() == 2);
    CHECK(e.waits[0] == 600ms);   // 500 ms * 1.2
    CHECK(e.waits[1] == 1200ms);  // 1000 ms * 1.2
    const auto snap = pp.counters().snapshot();
    CHECK(snap.retries == 2);
    CHECK(snap.requests[static_cast<std::size_t>(hookrx::api_endpoint::me)]
                       [static_cast<std::size_t>(hookrx::api_outcome::s5xx)] == 2);
  }

  TEST_CASE("backoff delays stay within the jitter bounds for any draw") {
    for (double draw : {0.0, 0.25, 0.5, 0.999}) {
      env e;
      e.draw = draw;
      e.api->script({3, "", 500, "", {}, 0ms, {}, {}});
      auto pp = e.pp();
      REQUIRE(pp.me());
      REQUIRE(e.waits.size() == 3);
      for (std::size_t i = 0; i < 3; ++i) {
        const double nominal = 500.0 * static_cast<double>(1 << i);
        CHECK(static_cast<double>(e.waits[i].count()) >= nominal * 0.8 - 1);
        CHECK(static_cast<double>(e.waits[i].count()) <= nominal * 1.2 + 1);
      }
    }
  }

  TEST_CASE("5xx until the attempts run out is a server error that says how many attempts") {
    env e;
    e.api->script({10, "", 502, "", {}, 0ms, {}, {}});
    auto pp = e.pp();
    auto r = pp.me();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::server_error);
    CHECK(r.error().attempts == 5);
    CHECK(r.error().is_transient());
    CHECK(e.api->count("me") == 5);
  }

  TEST_CASE("a retry that would end after the deadline is not made") {
    env e;
    e.api->script({10, "", 503, "", {}, 0ms, {}, {}});
    auto pp = e.pp([](auto& o) { o.deadline = 1s; });
    auto r = pp.me();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::server_error);
    CHECK(e.api->count("me") == 2);  // 0 ms, then 500 ms; a third after another 1000 ms would pass 1 s
    CHECK(r.error().detail.find("deadline") != std::string::npos);
  }

  TEST_CASE("a 429 waits until its Reset, read through the server's Date, before trying again") {
    env e;
    e.draw = 0.0;
    const auto server_now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    e.api->script({1, "", 429, "", server_now + 7, 0ms, {}, {}});
    auto pp = e.pp();
    const auto start = e.clock->now();
    REQUIRE(pp.me());
    const auto waited = e.clock->now() - start;
    // Reset is 7 s after the second the Date header names: 6 to 7 s from when the answer came.
    CHECK(waited >= 4900ms);  // a second boundary may pass between reading the time and the answer
    CHECK(waited <= 7100ms);
    CHECK(e.api->count("me") == 2);
    CHECK(pp.counters().snapshot().rate_limited == 1);
  }

  TEST_CASE("429 until the deadline is rate_limited, not a generic failure") {
    env e;
    const auto server_now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    e.api->script({10, "", 429, "", server_now + 600, 0ms, {}, {}});
    auto pp = e.pp();
    auto r = pp.me();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::rate_limited);
    CHECK(r.error().vendor_code == "RATE_LIMITED");
    CHECK(e.api->count("me") == 1);  // Reset is 10 minutes away, past the 90 s deadline: no second request
  }

  TEST_CASE("a dropped connection is a transport error that is retried") {
    env e;
    e.api->script({1, "", 0, "", {}, 0ms, {}, {}});
    auto pp = e.pp();
    REQUIRE(pp.me());
    CHECK(e.api->count("me") == 2);
    const auto snap = pp.counters().snapshot();
    CHECK(snap.requests[static_cast<std::size_t>(hookrx::api_endpoint::me)]
                       [static_cast<std::size_t>(hookrx::api_outcome::transport)] == 1);
  }

  TEST_CASE("a server that answers too slowly is a timeout") {
    env e;
    e.api->script({5, "", 200, "", {}, 600ms, R"({"user":{}})", {}});
    auto pp = e.pp([](auto& o) {
      o.read_timeout = 150ms;
      o.retry.max_attempts = 2;
    });
    auto r = pp.me();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::timeout);
    CHECK(r.error().attempts == 2);
  }

  TEST_CASE("nothing listening is a transport error") {
    int port = 0;
    {
      auto probe = fake_api::start({});
      REQUIRE(probe);
      port = probe->port();
    }
    hookrx::perfectparser_client_options o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port);
    o.api_key = "pp_test_0123456789";
    o.retry.max_attempts = 1;
    o.budget = hookrx::rate_budget::create({});
    auto pp = hookrx::perfectparser_client::create(o);
    REQUIRE(pp);
    auto r = pp->me();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::transport);
  }

  TEST_CASE("https is verified and never falls back to plain HTTP") {
    env e;
    hookrx::perfectparser_client_options o;
    o.base_url = "https://127.0.0.1:" + std::to_string(e.api->port());
    o.api_key = e.api->options().api_key;
    o.retry.max_attempts = 1;
    o.budget = hookrx::rate_budget::create({});
    auto pp = hookrx::perfectparser_client::create(o);
    REQUIRE(pp);
    auto r = pp->me();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::transport);
    CHECK(e.api->count("me") == 0);
  }

  TEST_CASE("the key never appears in an error, even when the server echoes it") {
    env e;
    auto pp = e.pp();
    const std::string key = e.api->options().api_key;
    e.api->script({1,
                   "",
                   400,
                   "INVALID_PAYLOAD",
                   {},
                   0ms,
                   R"({"error":{"code":"INVALID_PAYLOAD","message":"bad key )" + key + R"("}})",
                   {}});
    auto r = pp.me();
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find(key) == std::string::npos);
    CHECK(r.error().detail.find("[redacted]") != std::string::npos);
  }

  TEST_CASE("options that cannot work are refused at creation, naming the option") {
    hookrx::perfectparser_client_options o;
    CHECK(hookrx::perfectparser_client::create(o).error().detail.find("api_key") == 0);
    o.api_key = "pp_live_x y";
    CHECK(hookrx::perfectparser_client::create(o).error().detail.find("api_key") == 0);
    o.api_key = "pp_live_xy";
    o.base_url = "ftp://x";
    CHECK(hookrx::perfectparser_client::create(o).error().detail.find("base_url") == 0);
    o.base_url = "https://api.perfectparser.com";
    o.deadline = 0ms;
    CHECK(hookrx::perfectparser_client::create(o).error().detail.find("deadline") == 0);
  }

  TEST_CASE("every answer's rate headers reach the shared budget") {
    env e;
    auto pp = e.pp();
    REQUIRE(pp.me());
    const auto s = pp.budget().snapshot();
    REQUIRE(s.server_remaining);
    CHECK(*s.server_remaining == 149);
    CHECK(s.used_in_window == 1);
  }

  TEST_CASE("the client never sends more than its budget in any minute of its clock") {
    env e;
    e.api->put_extraction(hookrx::testing::make_extraction("ext_1", 1));
    auto pp = e.pp([](auto& o) { o.rate.requests_per_minute = 10; });
    std::vector<hookrx::time_point> sent;
    for (int i = 0; i < 35; ++i) {
      REQUIRE(pp.get_extraction("ext_1"));
      sent.push_back(e.clock->now());
    }
    std::size_t best = 0;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      std::size_t n = 0;
      for (std::size_t j = i; j < sent.size() && sent[j] - sent[i] < 60s; ++j) ++n;
      best = std::max(best, n);
    }
    CHECK(best <= 10);
    CHECK(e.clock->now() - sent.front() >= 180s);  // 35 calls at 10 a minute
    CHECK(pp.counters().snapshot().waits >= 3);
  }

  TEST_CASE("with a third of the calls failing by seed, every call still succeeds and both sides count alike") {
    hookrx::testing::fake_api_options o;
    o.faults.fraction_429 = 0.1;
    o.faults.fraction_5xx = 0.1;
    o.faults.fraction_drop = 0.1;
    o.faults.seed = 42;
    env e(o);
    e.api->put_extraction(hookrx::testing::make_extraction("ext_1", 1));
    auto pp = e.pp();
    for (int i = 0; i < 60; ++i) REQUIRE(pp.get_extraction("ext_1"));
    const auto snap = pp.counters().snapshot();
    const auto& row = snap.requests[static_cast<std::size_t>(hookrx::api_endpoint::get_extraction)];
    CHECK(row[static_cast<std::size_t>(hookrx::api_outcome::s2xx)] == 60);
    CHECK(snap.requests_to(hookrx::api_endpoint::get_extraction) == e.api->count("get_extraction"));
    CHECK(snap.rate_limited == e.api->count_status("get_extraction", 429));
    CHECK(row[static_cast<std::size_t>(hookrx::api_outcome::s5xx)] == e.api->count_status("get_extraction", 500) +
                                                                          e.api->count_status("get_extraction", 502) +
                                                                          e.api->count_status("get_extraction", 503));
    CHECK(row[static_cast<std::size_t>(hookrx::api_outcome::transport)] == e.api->count_status("get_extraction", 0));
    CHECK(snap.retries == e.api->count("get_extraction") - 60);
    CHECK(snap.retries > 10);  // the seed really injected faults
  }

  TEST_CASE("one client serves many threads over kept-alive connections") {
    env e;
    e.api->put_extraction(hookrx::testing::make_extraction("ext_1", 1));
    auto pp = e.pp();
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 15; ++i) ok += pp.get_document("ext_1", "ext_1_doc_0") ? 1 : 0;
      });
    }
    for (auto& t : threads) t.join();
    CHECK(ok == 90);
    CHECK(e.api->count("get_document") == 90);
  }
}

TEST_SUITE("api submissions over HTTP") {
  hookrx::submission two_files() {
    hookrx::submission s;
    s.parser_id = "prs_invoices";
    s.files = {{"a.pdf", "%PDF one", "application/pdf"}, {"b.pdf", std::string("%PDF\0two", 8), "application/pdf"}};
    return s;
  }

  TEST_CASE("a submit is accepted, and its retry replays instead of charging twice") {
    env e;
    auto pp = e.pp();
    auto first = pp.submit(two_files());
    REQUIRE(first);
    CHECK_FALSE(first->replayed);
    CHECK(first->idempotency_key == hookrx::derive_idempotency_key("prs_invoices", two_files().files));
    CHECK(first->documents.size() == 2);
    CHECK(e.api->credits() == 998);
    auto again = pp.submit(two_files());
    REQUIRE(again);
    CHECK(again->replayed);
    CHECK(again->extraction_id == first->extraction_id);
    CHECK(e.api->credits() == 998);
    CHECK(e.api->submissions_created() == 1);
    const auto stored = e.api->extraction(first->extraction_id);
    REQUIRE(stored);
    CHECK(stored->documents[1].file_size == 8);  // binary content arrived whole
  }

  TEST_CASE("a submit that failed with a 5xx is retried with the same key") {
    env e;
    e.api->script({1, "/v1/extractions", 503, "", {}, 0ms, {}, {}});
    auto pp = e.pp();
    auto r = pp.submit(two_files());
    REQUIRE(r);
    CHECK(e.api->count("submit") == 2);
    CHECK(e.api->submissions_created() == 1);
  }

  TEST_CASE("one idempotency key with other files is a conflict") {
    env e;
    auto pp = e.pp();
    auto s = two_files();
    s.idempotency_key = "order-42";
    REQUIRE(pp.submit(s));
    s.files.pop_back();
    auto r = pp.submit(s);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::conflict);
  }

  TEST_CASE("running out of credits is its own error") {
    hookrx::testing::fake_api_options o;
    o.credits = 1;
    env e(o);
    auto pp = e.pp();
    auto r = pp.submit(two_files());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::insufficient_credits);
    CHECK(r.error().vendor_code == "INSUFFICIENT_CREDITS");
    CHECK(r.error().http_status == 402);
    CHECK_FALSE(r.error().is_transient());
    CHECK(e.api->count("submit") == 1);
  }

  TEST_CASE("submissions draw from their own 20 per minute inside the budget") {
    hookrx::testing::fake_api_options o;
    o.submit_limit_per_window = 1000;  // the client's bucket is under test, not the fake's real-time one
    env e(o);
    auto pp = e.pp();
    std::vector<hookrx::time_point> sent;
    for (int i = 0; i < 25; ++i) {
      auto s = two_files();
      s.files[0].content += std::to_string(i);
      REQUIRE(pp.submit(s));
      sent.push_back(e.clock->now());
    }
    CHECK(sent[19] - sent[0] < 60s);
    CHECK(sent[20] - sent[0] >= 60s);
  }

  TEST_CASE("a submit without parser or files is refused before any request") {
    env e;
    auto pp = e.pp();
    hookrx::submission s;
    CHECK(pp.submit(s).error().detail.find("parser_id") == 0);
    s.parser_id = "p";
    CHECK(pp.submit(s).error().detail.find("files") == 0);
    CHECK(e.api->count() == 0);
  }
}

TEST_SUITE("parashift client over HTTP") {
  TEST_CASE("a document is fetched with the bearer token, fields included on request") {
    env e;
    hookrx::testing::fake_parashift_document d;
    d.id = "107786";
    d.status = "done";
    d.updated_at = "2021-05-12T10:07:00.000Z";
    d.custom_fields = {{"SomeCustomField", "free text"}};
    e.api->put_parashift_document(d);
    auto ps = e.ps();
    auto got = ps.get_document("107786", true);
    REQUIRE(got);
    CHECK(got->status == "done");
    CHECK(got->document_id == 107786);
    CHECK(got->included_json.find("document_fields") != std::string::npos);
    auto ev = hookrx::to_event(*got);
    REQUIRE(ev);
    auto hook = hookrx::parse_event(hookrx::provider::parashift,
                                    hookrx::testing::parashift_webhook_body(d, "processing-finished"));
    REQUIRE(hook);
    CHECK(ev->key() == hook->key());
    // "fetch this document" for a webhook, whose payload has no extracted values.
    auto fetched = ps.fetch(*hook->get_if<hookrx::document_event>());
    REQUIRE(fetched);
    CHECK_FALSE(fetched->included_json.empty());
    CHECK(ps.get_document("999").error().code == api_errc::not_found);
  }

  TEST_CASE("a wrong Parashift token is unauthorized") {
    env e;
    auto ps = e.ps("ps_wrong_token_0000");
    auto r = ps.get_document("1");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == api_errc::unauthorized);
    CHECK(r.error().message().find("ps_wrong_token_0000") == std::string::npos);
  }
}
