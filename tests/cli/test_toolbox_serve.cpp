// The toolbox against a running `hookrx serve` (both the built binary) over real HTTP and a real
// SQLite store: every event name and topic that `send` builds reaches the sink under the right key,
// and `inbox` lists, shows and replays a dead letter while serve keeps running.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <set>
#include <string>
#include <vector>

#include "event_builder.hpp"
#include "support.hpp"
#include "toolbox_process.hpp"
#include "toolbox_serve.hpp"

using hookrx_test::contains;
using hookrx_test::eventually;
using hookrx_test::run;
using hookrx_test::serve_fixture;

namespace {

const std::string binary = HOOKRX_BINARY;

struct sunk {
  std::string key;
  std::string event;
};

std::vector<sunk> sink_events(const serve_fixture& serve) {
  std::vector<sunk> out;
  simdjson::dom::parser parser;
  for (const std::string& line : serve.jsonl_lines()) {
    simdjson::dom::element e;
    REQUIRE_MESSAGE(parser.parse(line).get(e) == simdjson::SUCCESS, line);
    out.push_back({std::string(e["key"].get_string().value()), std::string(e["event"].get_string().value())});
  }
  return out;
}

// The one JSON object or array a --json command printed.
simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text) {
  simdjson::dom::element e;
  REQUIRE_MESSAGE(parser.parse(text).get(e) == simdjson::SUCCESS, text);
  return e;
}

std::string state_of(const serve_fixture& serve, const std::string& key) {
  auto r = run({binary, "inbox", "show", key, "--json", "--store", serve.store()});
  if (r.exit_code != 0) return "missing";
  simdjson::dom::parser parser;
  return std::string(parse_json(parser, r.out)["state"].get_string().value());
}

}  // namespace

TEST_SUITE("cli send into serve") {
  TEST_CASE("every PerfectParser event and Parashift topic sent reaches the sink with its key") {
    serve_fixture serve({}, "send-all");
    std::set<std::string> expected;
    int n = 0;
    for (hookrx::provider p : {hookrx::provider::perfectparser, hookrx::provider::parashift}) {
      const std::string path = p == hookrx::provider::perfectparser ? "/webhooks/perfectparser" : "/webhooks/parashift";
      for (std::string_view name : hookrx::cli::event_names(p)) {
        CAPTURE(name);
        ++n;
        const std::string ext = "ext_all_" + std::to_string(n);
        const std::string doc =
            p == hookrx::provider::perfectparser ? "doc_all_" + std::to_string(n) : std::to_string(900000 + n);
        auto r = run({binary, "send", serve.url(path), "--event", std::string(name), "--live", "--extraction-id", ext,
                      "--document-id", doc},
                     serve.env);
        CHECK_MESSAGE(r.exit_code == 0, (r.out + r.err));
        CHECK(contains(r.out, "202"));
        // send names the key on stderr; it must be the spec's key for these ids.
        std::string key;
        if (p == hookrx::provider::perfectparser) {
          key = "perfectparser:" + std::string(name) + ":" + ext;
          if (name == "extraction.document_completed") key += ":" + doc;
        } else {
          key = "parashift:" + std::string(name) + ":" + doc + ":";
        }
        CHECK_MESSAGE(contains(r.err, "key " + key), r.err);
        const std::size_t at = r.err.find("key " + key);
        REQUIRE(at != std::string::npos);
        expected.insert(r.err.substr(at + 4, r.err.find(')', at) - at - 4));
      }
    }
    CHECK(expected.size() == 27);
    REQUIRE_MESSAGE(eventually([&] { return sink_events(serve).size() >= expected.size(); }), serve.process->log());
    std::set<std::string> seen;
    for (const sunk& s : sink_events(serve)) {
      seen.insert(s.key);
      CHECK(contains(s.key, s.event));  // the key names the event it was filed under
    }
    CHECK(seen == expected);
    CHECK(sink_events(serve).size() == expected.size());  // each once
  }

  TEST_CASE("a resent event is a duplicate, a test delivery is acknowledged, a wrong secret refused") {
    serve_fixture serve({}, "send-dup");
    const std::vector<std::string> argv = {binary,
                                           "send",
                                           serve.url("/webhooks/perfectparser"),
                                           "-e",
                                           "extraction.job_completed",
                                           "--live",
                                           "--extraction-id",
                                           "ext_dup"};
    auto first = run(argv, serve.env);
    CHECK_MESSAGE(first.exit_code == 0, first.err);
    CHECK(contains(first.out, "202"));
    auto again = run(argv, serve.env);
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "200"));
    CHECK(contains(again.out, "duplicate"));
    auto test = run({binary, "send", serve.url("/webhooks/perfectparser"), "-e", "batch.completed"}, serve.env);
    CHECK(test.exit_code == 0);
    CHECK(contains(test.out, "test_delivery"));
    auto wrong = run({binary, "send", serve.url("/webhooks/perfectparser"), "-e", "batch.completed"},
                     {{"HOOKRX_PP_SIGNING_SECRETS", "wh_sec_wrong"}});
    CHECK(wrong.exit_code == 1);
    CHECK(contains(wrong.out, "401"));
    CHECK(contains(wrong.out, "signature_mismatch"));
    auto unsigned_ = run({binary, "send", serve.url("/webhooks/parashift"), "-e", "document-received", "--unsigned"});
    CHECK(unsigned_.exit_code == 1);
    CHECK(contains(unsigned_.out, "401"));
    // The second signing secret (rotation) is accepted too.
    auto old = run({binary, "send", serve.url("/webhooks/perfectparser"), "-e", "batch.partial", "--live"},
                   {{"HOOKRX_PP_SIGNING_SECRETS", "wh_sec_toolbox_test_0"}});
    CHECK_MESSAGE(old.exit_code == 0, old.out);
  }
}

TEST_SUITE("cli inbox") {
  TEST_CASE("inbox lists, shows and replays a dead letter end to end while serve runs") {
    // The exec sink fails until the file `ok` exists: one attempt, then the dead letter.
    const std::string marker_dir = hookrx_test::make_temp_dir("inbox-marker");
    serve_fixture serve({"--exec", "test -e " + marker_dir + "/ok || exit 3", "--max-attempts", "1"}, "inbox");
    const std::string key = "perfectparser:extraction.document_completed:ext_dead:doc_dead";
    auto sent = run({binary, "send", serve.url("/webhooks/perfectparser"), "-e", "extraction.document_completed",
                     "--live", "--extraction-id", "ext_dead", "--document-id", "doc_dead"},
                    serve.env);
    REQUIRE_MESSAGE(sent.exit_code == 0, sent.err);
    REQUIRE_MESSAGE(eventually([&] { return state_of(serve, key) == "dead"; }), serve.process->log());

    simdjson::dom::parser parser;
    auto dead = run({binary, "inbox", "dead", "--json", "--store", serve.store()});
    REQUIRE(dead.exit_code == 0);
    simdjson::dom::array dead_list = parse_json(parser, dead.out).get_array();
    REQUIRE(dead_list.size() == 1);
    const std::int64_t id = dead_list.at(0)["id"].get_int64().value();
    CHECK(std::string(dead_list.at(0)["key"].get_string().value()) == key);

    auto listed = run({binary, "inbox", "list", "--store", serve.store()});
    CHECK(listed.exit_code == 0);
    CHECK(contains(listed.out, key));
    CHECK(contains(listed.out, "dead"));
    auto listed_queued = run({binary, "inbox", "list", "--state", "queued", "--json", "--store", serve.store()});
    CHECK(listed_queued.exit_code == 0);
    CHECK(listed_queued.out == "[]\n");

    auto shown = run({binary, "inbox", "show", std::to_string(id), "--json", "--store", serve.store()});
    REQUIRE(shown.exit_code == 0);
    simdjson::dom::element e = parse_json(parser, shown.out);
    CHECK(std::string(e["key"].get_string().value()) == key);
    CHECK(std::string(e["state"].get_string().value()) == "dead");
    CHECK(std::string(e["event"].get_string().value()) == "extraction.document_completed");
    CHECK(std::string(e["origin"].get_string().value()) == "webhook");
    CHECK(e["attempts"].get_int64().value() == 1);
    CHECK(contains(e["last_error"].get_string().value(), "exit status 3"));
    CHECK(contains(e["body"].get_string().value(), "\"document_id\":\"doc_dead\""));
    auto shown_text = run({binary, "inbox", "show", key, "--store", serve.store()});
    CHECK(shown_text.exit_code == 0);
    CHECK(contains(shown_text.out, "last error:"));

    // A replay of something not dead is refused; the dead letter's replay is handled once the sink works.
    hookrx_test::write_file(marker_dir + "/ok", "");
    auto replayed = run({binary, "inbox", "replay", key, "--json", "--store", serve.store()});
    CHECK_MESSAGE(replayed.exit_code == 0, replayed.err);
    CHECK(contains(replayed.out, "\"replayed\":" + std::to_string(id)));
    CHECK_MESSAGE(eventually([&] { return state_of(serve, key) == "done"; }), serve.process->log());
    auto again = run({binary, "inbox", "replay", std::to_string(id), "--store", serve.store()});
    CHECK(again.exit_code == 1);
    CHECK(contains(again.err, "not dead"));
    auto done = run({binary, "inbox", "list", "--state", "done", "--json", "--store", serve.store()});
    CHECK(contains(done.out, key));
    CHECK(serve.process->running());
    hookrx_test::remove_tree(marker_dir);
  }

  TEST_CASE("inbox errors name the flag at fault and exit 2, or 1 for what the store does not hold") {
    serve_fixture serve({}, "inbox-errors");
    auto bad_state = run({binary, "inbox", "list", "--state", "sleeping", "--store", serve.store()});
    CHECK(bad_state.exit_code == 2);
    CHECK(contains(bad_state.err, "--state"));
    auto no_file = run({binary, "inbox", "list", "--store", "sqlite:" + serve.dir + "/typo.db"});
    CHECK(no_file.exit_code == 2);
    CHECK(contains(no_file.err, "--store"));
    auto from_env = run({binary, "inbox", "dead"}, {{"HOOKRX_STORE", "sqlite:" + serve.dir + "/typo.db"}});
    CHECK(from_env.exit_code == 2);
    CHECK(contains(from_env.err, "HOOKRX_STORE"));
    auto memory = run({binary, "inbox", "list", "--store", "memory:"});
    CHECK(memory.exit_code == 2);
    CHECK(contains(memory.err, "memory:"));
    auto bad_url = run({binary, "inbox", "list", "--store", "mysql://x"});
    CHECK(bad_url.exit_code == 2);
    CHECK(contains(bad_url.err, "--store"));
    auto unknown = run({binary, "inbox", "show", "perfectparser:batch.completed:nope", "--store", serve.store()});
    CHECK(unknown.exit_code == 1);
    CHECK(contains(unknown.err, "no entry"));
    auto no_arg = run({binary, "inbox", "show", "--store", serve.store()});
    CHECK(no_arg.exit_code == 2);
    CHECK(contains(no_arg.err, "key_or_id"));
    auto no_sub = run({binary, "inbox"});
    CHECK(no_sub.exit_code == 2);
    auto limit = run({binary, "inbox", "list", "--limit", "0", "--store", serve.store()});
    CHECK(limit.exit_code == 2);
    CHECK(contains(limit.err, "--limit"));
  }
}
