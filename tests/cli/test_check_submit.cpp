// `hookrx check`, `submit` and `watch`, run as built, against the fake PerfectParser/Parashift API
// over real HTTP and serve's real SQLite store: a good key, a refused key, 402, idempotent
// resubmission, the watch list the poller reads; and every subcommand's --help.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fake_api.hpp"
#include "hookrx/api.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/poller.hpp"
#include "hookrx/sqlite_store.hpp"
#include "support.hpp"
#include "toolbox_process.hpp"
#include "toolbox_serve.hpp"

using hookrx_test::contains;
using hookrx_test::env_list;
using hookrx_test::run;
using hookrx_test::serve_fixture;

namespace {

const std::string binary = HOOKRX_BINARY;

struct api_fixture {
  std::unique_ptr<hookrx::testing::fake_api> api;
  explicit api_fixture(std::int64_t credits = 1000) {
    hookrx::testing::fake_api_options o;
    o.credits = credits;
    api = hookrx::testing::fake_api::start(o);
    REQUIRE(api != nullptr);
  }
  [[nodiscard]] env_list env(const std::string& pp_key, const std::string& ps_key = {}) const {
    env_list e = {{"HOOKRX_PP_API_BASE", api->base_url()}, {"HOOKRX_PARASHIFT_API_BASE", api->base_url()}};
    if (!pp_key.empty()) e.emplace_back("HOOKRX_PP_API_KEY", pp_key);
    if (!ps_key.empty()) e.emplace_back("HOOKRX_PARASHIFT_API_KEY", ps_key);
    return e;
  }
  [[nodiscard]] std::string good_key() const { return api->options().api_key; }
  [[nodiscard]] std::string good_token() const { return api->options().parashift_token; }
};

std::optional<hookrx::watch_entry> watched(const std::string& db, hookrx::provider p, const std::string& id) {
  hookrx::sqlite_options o;
  o.path = db;
  auto store = hookrx::sqlite_store::open(o);
  REQUIRE(store);
  auto w = (*store)->watched(p, id);
  REQUIRE(w);
  return *w;
}

}  // namespace

TEST_SUITE("cli check") {
  TEST_CASE("check prints the key's name, expiry and credits and exits 0 for a working key") {
    api_fixture f(321);
    auto r = run({binary, "check"}, f.env(f.good_key()));
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(contains(r.out, "perfectparser: ok"));
    CHECK(contains(r.out, "321 credits"));
    CHECK(contains(r.out, "expires"));
    CHECK(f.api->count("me") == 1);
    CHECK_FALSE(contains(r.out + r.err, f.good_key()));
    auto json = run({binary, "check", "--json"}, f.env(f.good_key(), f.good_token()));
    CHECK(json.exit_code == 0);
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    REQUIRE(parser.parse(json.out).get(e) == simdjson::SUCCESS);
    CHECK(e["perfectparser"]["ok"].get_bool().value());
    CHECK(e["perfectparser"]["credits_available"].get_int64().value() == 321);
    CHECK(e["parashift"]["ok"].get_bool().value());
    CHECK(f.api->count("parashift_document") == 1);
  }

  TEST_CASE("check exits 1 for a refused PerfectParser or Parashift key and names its variable") {
    api_fixture f;
    auto bad_pp = run({binary, "check"}, f.env("pp_live_wrong"));
    CHECK(bad_pp.exit_code == 1);
    CHECK(contains(bad_pp.err, "HOOKRX_PP_API_KEY"));
    CHECK(contains(bad_pp.err, "401"));
    CHECK_FALSE(contains(bad_pp.err, "pp_live_wrong"));
    auto bad_ps = run({binary, "check"}, f.env(f.good_key(), "ps_wrong"));
    CHECK(bad_ps.exit_code == 1);
    CHECK(contains(bad_ps.out, "perfectparser: ok"));
    CHECK(contains(bad_ps.err, "HOOKRX_PARASHIFT_API_KEY"));
    auto json = run({binary, "check", "--json"}, f.env("pp_live_wrong"));
    CHECK(json.exit_code == 1);
    CHECK(contains(json.out, "\"error\":\"unauthorized\""));
  }

  TEST_CASE("check --min-credits fails a key that cannot pay for the next run") {
    api_fixture f(5);
    CHECK(run({binary, "check", "--min-credits", "5"}, f.env(f.good_key())).exit_code == 0);
    auto low = run({binary, "check", "--min-credits", "6"}, f.env(f.good_key()));
    CHECK(low.exit_code == 1);
    CHECK(contains(low.err, "--min-credits"));
  }

  TEST_CASE("check without a key, with a bad base URL or an unreachable API says which setting is at fault") {
    auto none = run({binary, "check"});
    CHECK(none.exit_code == 2);
    CHECK(contains(none.err, "HOOKRX_PP_API_KEY"));
    auto bad_base = run({binary, "check", "--pp-api-base", "ftp://x"}, {{"HOOKRX_PP_API_KEY", "k"}});
    CHECK(bad_base.exit_code == 2);
    CHECK(contains(bad_base.err, "--pp-api-base"));
    auto bad_env = run({binary, "check"}, {{"HOOKRX_PP_API_KEY", "k"}, {"HOOKRX_PP_API_BASE", "nonsense"}});
    CHECK(bad_env.exit_code == 2);
    CHECK(contains(bad_env.err, "HOOKRX_PP_API_BASE"));
    const std::string closed = "http://127.0.0.1:" + std::to_string(hookrx_test::free_port());
    auto down = run({binary, "check", "--pp-api-base", closed, "--timeout", "2"}, {{"HOOKRX_PP_API_KEY", "k"}});
    CHECK(down.exit_code == 1);
    CHECK(contains(down.err, "cannot reach"));
    auto flag = run({binary, "check", "--pp-api-key", "k"});
    CHECK(flag.exit_code == 2);
    CHECK(contains(flag.err, "HOOKRX_PP_API_KEY"));
  }
}

TEST_SUITE("cli submit") {
  TEST_CASE("submit sends the files once, puts the extraction on serve's watch list, and a resubmit is not charged") {
    api_fixture f(10);
    serve_fixture serve({}, "submit");
    const std::string a = serve.dir + "/a.pdf";
    const std::string b = serve.dir + "/b.pdf";
    hookrx_test::write_file(a, "%PDF-1.4 first");
    hookrx_test::write_file(b, "%PDF-1.4 second");
    env_list env = f.env(f.good_key());
    auto first = run({binary, "submit", "--parser", "prs_inv", a, b, "--json", "--store", serve.store()}, env);
    REQUIRE_MESSAGE(first.exit_code == 0, first.err);
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    REQUIRE(parser.parse(first.out).get(e) == simdjson::SUCCESS);
    const std::string ext(e["extraction_id"].get_string().value());
    CHECK(e["files"].get_int64().value() == 2);
    CHECK_FALSE(e["replayed"].get_bool().value());
    CHECK(e["watched"].get_bool().value());
    CHECK(f.api->credits() == 8);
    auto w = watched(serve.dir + "/hookrx.db", hookrx::provider::perfectparser, ext);
    REQUIRE(w.has_value());
    CHECK(w->due_at > std::chrono::system_clock::now() + std::chrono::minutes(9));  // the 600 s grace

    // The same files again (a retried script): the same extraction, not charged, still watched once.
    auto again = run({binary, "submit", "--parser", "prs_inv", a, b, "--store", serve.store()}, env);
    CHECK_MESSAGE(again.exit_code == 0, again.err);
    CHECK(contains(again.out, "not charged again"));
    CHECK(contains(again.out, ext));
    CHECK(f.api->credits() == 8);
    CHECK(f.api->submissions_created() == 1);
    CHECK(serve.process->running());
  }

  TEST_CASE("submit exits 1 on 402 and on a refused key, and watches nothing") {
    api_fixture f(1);
    serve_fixture serve({}, "submit-402");
    const std::string a = serve.dir + "/a.pdf";
    const std::string b = serve.dir + "/b.pdf";
    hookrx_test::write_file(a, "%PDF a");
    hookrx_test::write_file(b, "%PDF b");
    auto poor = run({binary, "submit", "--parser", "prs_1", a, b, "--store", serve.store()}, f.env(f.good_key()));
    CHECK(poor.exit_code == 1);
    CHECK(contains(poor.err, "402"));
    CHECK(contains(poor.err, "INSUFFICIENT_CREDITS"));
    auto refused = run({binary, "submit", "--parser", "prs_1", a, "--store", serve.store()}, f.env("pp_live_wrong"));
    CHECK(refused.exit_code == 1);
    CHECK(contains(refused.err, "HOOKRX_PP_API_KEY"));
    CHECK(f.api->submissions_created() == 0);
    auto dead = run({binary, "inbox", "list", "--json", "--store", serve.store()});
    CHECK(dead.out == "[]\n");
  }

  TEST_CASE("submit's usage errors cost no credit and name the flag or file") {
    api_fixture f;
    serve_fixture serve({}, "submit-usage");
    const std::string a = serve.dir + "/a.pdf";
    hookrx_test::write_file(a, "%PDF a");
    const env_list env = f.env(f.good_key());
    const struct {
      std::vector<std::string> args;
      std::string_view named;
    } cases[] = {
        {{"submit", a, "--store", serve.store()}, "--parser"},
        {{"submit", "--parser", "prs_1", "--store", serve.store()}, "files"},
        {{"submit", "--parser", "prs_1", a, serve.dir + "/missing.pdf", "--store", serve.store()}, "missing.pdf"},
        {{"submit", "--parser", "prs_1", a, "--store", "sqlite:" + serve.dir + "/typo.db"}, "--store"},
        {{"submit", "--parser", "prs_1", a, "--store", serve.store(), "--pp-api-base", "x"}, "--pp-api-base"},
        {{"submit", "--parser", "prs_1", a, "--store", serve.store(), "--poll-grace", "-1"}, "--poll-grace"},
    };
    for (const auto& c : cases) {
      std::vector<std::string> argv = {binary};
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      CAPTURE(c.named);
      auto r = run(argv, env);
      CHECK(r.exit_code == 2);
      CHECK_MESSAGE(contains(r.err, c.named), r.err);
    }
    auto no_key = run({binary, "submit", "--parser", "prs_1", a, "--store", serve.store()});
    CHECK(no_key.exit_code == 2);
    CHECK(contains(no_key.err, "HOOKRX_PP_API_KEY"));
    CHECK(f.api->count("submit") == 0);
  }

  TEST_CASE("an extraction submitted by the binary is recovered by the poller from serve's store") {
    api_fixture f;
    serve_fixture serve({}, "submit-poll");
    const std::string a = serve.dir + "/a.pdf";
    hookrx_test::write_file(a, "%PDF poll me");
    // Due at once: the webhooks "never came".
    auto r =
        run({binary, "submit", "--parser", "prs_1", a, "--poll-grace", "0.001", "--json", "--store", serve.store()},
            f.env(f.good_key()));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    REQUIRE(parser.parse(r.out).get(e) == simdjson::SUCCESS);
    const std::string ext(e["extraction_id"].get_string().value());
    auto fetched = f.api->extraction(ext);
    REQUIRE(fetched.has_value());
    REQUIRE(
        f.api->set_document_status(ext, fetched->documents.at(0).document_id, "completed", "2026-06-20T10:00:45.000Z"));

    // A poller on the same store, feeding the same inbox serve's workers drain into its sink.
    hookrx::sqlite_options so;
    so.path = serve.dir + "/hookrx.db";
    auto store = hookrx::sqlite_store::open(so);
    REQUIRE(store);
    hookrx::perfectparser_client_options po;
    po.base_url = f.api->base_url();
    po.api_key = f.good_key();
    auto client = hookrx::perfectparser_client::create(po);
    REQUIRE(client);
    hookrx::dispatcher handlers;
    auto box = hookrx::inbox::create(*store, handlers);  // not started: serve's workers handle it
    auto poller = hookrx::poller::create(
        *store, *store, *store,
        hookrx::poller_api_of(std::make_shared<hookrx::perfectparser_client>(std::move(*client)), nullptr), handlers);
    REQUIRE(poller);
    (void)(*poller)->wrap(box->acceptor());
    auto round = (*poller)->run_once();
    REQUIRE(round);
    CHECK(round->leader);
    CHECK(round->polled >= 1);
    CHECK(round->recovered >= 1);
    const std::string key =
        "perfectparser:extraction.document_completed:" + ext + ":" + fetched->documents[0].document_id;
    // serve's workers hand it to the sink; the store says the poller, not a webhook, brought it.
    CHECK_MESSAGE(hookrx_test::eventually([&] {
                    for (const std::string& line : serve.jsonl_lines())
                      if (contains(line, "\"key\":\"" + key + "\"")) return true;
                    return false;
                  }),
                  serve.process->log());
    // The sink writes before the worker acknowledges: the entry is done a moment after the line.
    std::string shown;
    CHECK(hookrx_test::eventually([&] {
      shown = run({binary, "inbox", "show", key, "--json", "--store", serve.store()}).out;
      return contains(shown, "\"state\":\"done\"");
    }));
    CHECK(contains(shown, "\"origin\":\"poll\""));
    // serve's sink now reports the origin too.
    bool sunk_as_poll = false;
    for (const std::string& line : serve.jsonl_lines())
      sunk_as_poll = sunk_as_poll || (contains(line, key) && contains(line, "\"origin\":\"poll\""));
    CHECK(sunk_as_poll);
  }
}

TEST_SUITE("cli watch") {
  TEST_CASE("watch adds an extraction or a Parashift document once, due after the grace") {
    serve_fixture serve({}, "watch");
    auto added = run({binary, "watch", "ext_elsewhere", "--store", serve.store()});
    CHECK_MESSAGE(added.exit_code == 0, added.err);
    CHECK(contains(added.out, "watching perfectparser ext_elsewhere"));
    auto again = run({binary, "watch", "ext_elsewhere", "--json", "--store", serve.store()});
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "\"added\":false"));
    REQUIRE(watched(serve.dir + "/hookrx.db", hookrx::provider::perfectparser, "ext_elsewhere").has_value());

    auto ps = run({binary, "watch", "--provider", "parashift", "107786", "--expected-at", "2026-06-20T10:00:00Z",
                   "--poll-grace", "300", "--store", serve.store()});
    CHECK_MESSAGE(ps.exit_code == 0, ps.err);
    auto w = watched(serve.dir + "/hookrx.db", hookrx::provider::parashift, "107786");
    REQUIRE(w.has_value());
    REQUIRE(w->expected_at.has_value());
    CHECK(hookrx::to_iso8601(*w->expected_at) == "2026-06-20T10:00:00.000Z");
    CHECK(hookrx::to_iso8601(w->due_at) == "2026-06-20T10:05:00.000Z");
  }

  TEST_CASE("watch's usage errors name the flag at fault") {
    serve_fixture serve({}, "watch-usage");
    const struct {
      std::vector<std::string> args;
      std::string_view named;
    } cases[] = {
        {{"watch", "--store", serve.store()}, "id"},
        {{"watch", "x", "--provider", "stripe", "--store", serve.store()}, "--provider"},
        {{"watch", "x", "--expected-at", "tomorrow", "--store", serve.store()}, "--expected-at"},
        {{"watch", "x", "--store", "memory:"}, "memory:"},
        {{"watch", "x", "--store", "sqlite:" + serve.dir + "/typo.db"}, "--store"},
    };
    for (const auto& c : cases) {
      std::vector<std::string> argv = {binary};
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      CAPTURE(c.named);
      auto r = run(argv);
      CHECK(r.exit_code == 2);
      CHECK_MESSAGE(contains(r.err, c.named), r.err);
    }
  }
}

TEST_SUITE("cli help") {
  TEST_CASE("every toolbox subcommand has --help with an example") {
    for (std::vector<std::string> sub : {std::vector<std::string>{"send"},
                                         {"sign"},
                                         {"inbox"},
                                         {"inbox", "list"},
                                         {"inbox", "show"},
                                         {"inbox", "replay"},
                                         {"inbox", "dead"},
                                         {"check"},
                                         {"submit"},
                                         {"watch"}}) {
      std::vector<std::string> argv = {binary};
      argv.insert(argv.end(), sub.begin(), sub.end());
      argv.emplace_back("--help");
      CAPTURE(sub.back());
      auto r = run(argv);
      CHECK(r.exit_code == 0);
      CHECK(contains(r.out, "Example"));
      CHECK(contains(r.out, "hookrx " + sub.front()));
    }
    auto top = run({binary, "--help"});
    CHECK(top.exit_code == 0);
    for (std::string_view name : {"send", "sign", "inbox", "check", "submit", "watch"}) CHECK(contains(top.out, name));
  }
}
