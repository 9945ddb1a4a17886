// Unit tests of the binary's parts that need no process: the options loader (flags, environment,
// *_FILE secrets, TOML), the event envelope and the metrics text.
#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "../support.hpp"
#include "config.hpp"
#ifdef HOOKRX_CLI_HAVE_API
#include "api_options.hpp"
#include "hookrx/api.hpp"
#endif
#include "harness.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "sinks.hpp"

namespace {

using hookrx::cli::options;

struct fake_env {
  std::map<std::string, std::string> vars;
  hookrx::cli::env_lookup lookup() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

// Parses `args` (after "serve") with a fresh loader over `env` and loads the options.
hookrx::result<options> load(std::vector<std::string> args, const fake_env& env) {
  CLI::App app;
  CLI::App* sub = app.add_subcommand("serve");
  hookrx::cli::config_loader loader(env.lookup());
  loader.add_flags(*sub);
  std::vector<std::string> argv_text = {"hookrx", "serve"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& s : argv_text) argv.push_back(s.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return loader.load();
}

std::string temp_file(const std::string& content) {
  std::random_device rd;
  const auto path =
      std::filesystem::temp_directory_path() / ("hookrx-cfg-" + std::to_string(rd()) + std::to_string(rd()));
  std::ofstream(path) << content;
  return path.string();
}

}  // namespace

TEST_SUITE("cli config") {
  TEST_CASE("defaults hold when nothing is given") {
    const auto o = load({}, {});
    REQUIRE(o.has_value());
    CHECK(o->listen_host == "127.0.0.1");
    CHECK(o->listen_port == 8080);
    CHECK(o->store.type == hookrx::cli::store_url::kind::sqlite);
    CHECK(o->store.location == "./hookrx.db");
    CHECK(o->max_attempts == 8);
    CHECK(o->retry_initial == std::chrono::seconds(1));
    CHECK(o->retry_max == std::chrono::seconds(300));
    CHECK_FALSE(hookrx::cli::validate_for_serve(*o).has_value());
  }

  TEST_CASE("a flag wins over its variable, which wins over the config file") {
    const std::string file = temp_file("workers = 3\nmax_attempts = 4\nretry_initial = 0.5\nstore = \"memory:\"\n");
    fake_env env;
    env.vars = {{"HOOKRX_WORKERS", "5"}, {"HOOKRX_MAX_ATTEMPTS", "6"}};
    const auto o = load({"--config", file, "--workers", "7"}, env);
    REQUIRE_MESSAGE(o.has_value(), hookrx_test::why(o));
    CHECK(o->workers == 7);
    CHECK(o->max_attempts == 6);
    CHECK(o->retry_initial == std::chrono::milliseconds(500));
    CHECK(o->store.type == hookrx::cli::store_url::kind::memory);
    CHECK(o->origin.at("workers") == "--workers");
    CHECK(o->origin.at("max_attempts") == "HOOKRX_MAX_ATTEMPTS");
    std::filesystem::remove(file);
  }

  TEST_CASE("secrets come from variables or files, comma or line separated, and never from the config file itself") {
    fake_env env;
    env.vars = {{"HOOKRX_PP_SIGNING_SECRETS", " a_secret_1 , a_secret_2 "},
                {"HOOKRX_PARASHIFT_TOKENS_FILE", temp_file("t1\nt2\n")}};
    const auto o = load({}, env);
    REQUIRE(o.has_value());
    CHECK(o->pp_signing_secrets == std::vector<std::string>{"a_secret_1", "a_secret_2"});
    CHECK(o->parashift_tokens == std::vector<std::string>{"t1", "t2"});
    CHECK(o->perfectparser_enabled());
    CHECK(o->parashift_enabled());

    const auto in_file = hookrx::cli::parse_config_text("pp_static_secret = \"s3cr3t-value\"\n", "c.toml");
    REQUIRE_FALSE(in_file.has_value());
    CHECK(hookrx_test::contains(in_file.error().detail(), "pp_static_secret_file"));
    CHECK_FALSE(hookrx_test::contains(in_file.error().detail(), "s3cr3t-value"));
    std::filesystem::remove(env.vars["HOOKRX_PARASHIFT_TOKENS_FILE"]);
  }

  TEST_CASE("a secret given as a flag is refused by name without repeating it") {
    const char* argv[] = {"hookrx", "serve", "--pp-static-secret=hunter2hunter2"};
    const auto why = hookrx::cli::secret_flag_used(3, argv);
    REQUIRE(why.has_value());
    CHECK(hookrx_test::contains(*why, "HOOKRX_PP_STATIC_SECRET_FILE"));
    CHECK_FALSE(hookrx_test::contains(*why, "hunter2"));
    const char* fine[] = {"hookrx", "serve", "--jsonl", "x"};
    CHECK_FALSE(hookrx::cli::secret_flag_used(4, fine).has_value());
  }

  TEST_CASE("wrong values name the flag, variable or file key and line") {
    fake_env env;
    env.vars = {{"HOOKRX_RETRY_MAX", "0.1"}};
    auto o = load({"--retry-initial", "2"}, env);
    REQUIRE_FALSE(o.has_value());
    CHECK(hookrx_test::contains(o.error().detail(), "HOOKRX_RETRY_MAX"));

    auto bad_toml = hookrx::cli::parse_config_text("workers = 2\nlisten = [1, 2]\n", "x.toml");
    REQUIRE_FALSE(bad_toml.has_value());
    CHECK(hookrx_test::contains(bad_toml.error().detail(), "x.toml:2 key listen"));
    auto broken = hookrx::cli::parse_config_text("workers = \n", "y.toml");
    REQUIRE_FALSE(broken.has_value());
    CHECK(hookrx_test::contains(broken.error().detail(), "y.toml:1"));
    auto table = hookrx::cli::parse_config_text("[server]\nlisten = \"x\"\n", "z.toml");
    REQUIRE_FALSE(table.has_value());
    CHECK(hookrx_test::contains(table.error().detail(), "server"));
  }

  TEST_CASE("every setting in the table is handled by the loader") {
    for (const auto& s : hookrx::cli::settings()) {
      if (s.secret) continue;
      CAPTURE(s.key);
      // A value no setting accepts reaches apply(): the error is the setting's own, never "not handled".
      fake_env env;
      env.vars = {{hookrx::cli::env_name(s.key), "\x01"}};
      const auto o = load({}, env);
      if (!o.has_value()) CHECK_FALSE(hookrx_test::contains(o.error().detail(), "not handled"));
    }
  }
}

TEST_SUITE("cli envelope and metrics") {
  TEST_CASE("the envelope is one line of JSON with the key, event, origin, attempt and the minified payload") {
    const std::string body = "{\n  \"event\": \"extraction.job_completed\",\n  \"extraction_id\": \"e \\\" 1\"\n}";
    auto ev = hookrx::parse_event(hookrx::provider::perfectparser, body);
    REQUIRE(ev.has_value());
    const std::string env = hookrx::cli::envelope_json(*ev, 3, "webhook");
    CHECK(env.find('\n') == std::string::npos);
    CHECK(hookrx_test::contains(env, R"("attempt":3)"));
    CHECK(hookrx_test::contains(env, R"("origin":"webhook")"));
    CHECK(hookrx_test::contains(env, R"("payload":{"event":"extraction.job_completed","extraction_id":"e \" 1"})"));
  }

  TEST_CASE("a payload goes on one line: as it is, or without the whitespace between tokens") {
    const auto one_line = [](std::string_view json) {
      std::string out = "<";
      hookrx::cli::append_minified_json(out, json);
      return out;
    };
    CHECK(one_line(R"({"a": [1, 2], "b": "x"})") == R"(<{"a": [1, 2], "b": "x"})");  // one line already
    CHECK(one_line("{ \"a\" :\t[1, 2 ]\r\n}") == R"(<{"a":[1,2]})");
    CHECK(one_line("{\"s\": \"two  spaces, a \\\" quote and { braces }\"\n}") ==
          R"(<{"s":"two  spaces, a \" quote and { braces }"})");
    CHECK(one_line("{\"p\": \"C:\\\\dir\\\\\" ,\n \"q\" : 1}") == R"(<{"p":"C:\\dir\\","q":1})");
    CHECK(one_line("") == "<");
    CHECK(one_line("\n\"unterminated \\") == "<\"unterminated \\");  // never reads past the end
  }

  TEST_CASE("a JSON string escapes quotes, backslashes and control characters and copies the rest") {
    std::string out;
    hookrx::cli::append_json_string(out, std::string_view("a\"b\\c\nd\re\tf\x01g\x1fh \xc3\xa9", 18));
    CHECK(out == std::string(R"("a\"b\\c\nd\re\tf\u0001g\u001fh )") + "\xc3\xa9\"");
    out.clear();
    hookrx::cli::append_json_string(out, "");
    CHECK(out == R"("")");
  }

  TEST_CASE("metrics render Prometheus text with escaped labels and a bounded number of event names") {
    hookrx::cli::metrics m;
    m.delivery("perfectparser", "we\"ird", "queued");
    for (int i = 0; i < 300; ++i) m.delivery("perfectparser", "e" + std::to_string(i), "queued");
    m.sink_call("jsonl", 1, 0, 0.002);
    m.http_answer("", 404);
    const std::string text = m.render();
    CHECK(hookrx_test::contains(text, R"(event="we\"ird")"));
    CHECK(hookrx_test::contains(text, R"(event="other")"));
    CHECK(hookrx_test::contains(text, R"(hookrx_sink_duration_seconds_bucket{sink="jsonl",le="0.0025"} 1)"));
    CHECK(hookrx_test::contains(text, R"(hookrx_sink_duration_seconds_bucket{sink="jsonl",le="0.001"} 0)"));
    CHECK(hookrx_test::contains(text, R"(hookrx_http_responses_total{route="other",code="404"} 1)"));
    CHECK(hookrx_test::contains(text, "hookrx_build_info{version="));
  }
}

#ifdef HOOKRX_CLI_HAVE_API
TEST_SUITE("cli api options") {
  TEST_CASE("serve and the toolbox give API clients one budget, scaled from --api-rate-limit, and a User-Agent") {
    options o;
    o.api_rate_limit = 120;
    hookrx::perfectparser_client_options pp;
    hookrx::cli::fill_api_options(pp, "key-1", "https://api.example", o);
    CHECK(pp.api_key == "key-1");
    CHECK(pp.base_url == "https://api.example");
    CHECK(pp.user_agent == "hookrx/" + std::string(hookrx::cli::version()));
    CHECK(pp.rate.requests_per_minute == 120);
    CHECK(pp.rate.submissions_per_minute == 20);
    CHECK(pp.rate.slow_down_below == 10);
    o.api_rate_limit = 6;  // below the submit bucket: that bucket is never larger than the whole
    hookrx::parashift_client_options ps;
    hookrx::cli::fill_api_options(ps, "key-2", "http://127.0.0.1:1", o);
    CHECK(ps.rate.requests_per_minute == 6);
    CHECK(ps.rate.submissions_per_minute == 6);
    CHECK(ps.rate.slow_down_below == 1);
  }
}
#endif

TEST_SUITE("cli sinks") {
  // Sink events over `evs`, with their envelopes (which the sink_events point into).
  struct sink_batch {
    std::vector<std::string> envelopes;
    std::vector<hookrx::cli::sink_event> events;
    sink_batch(const std::vector<hookrx::event>& evs, int attempt, std::string_view origin) {
      for (const hookrx::event& ev : evs) envelopes.push_back(hookrx::cli::envelope_json(ev, attempt, origin));
      for (std::size_t i = 0; i < evs.size(); ++i) events.push_back({evs[i], attempt, origin, envelopes[i]});
    }
  };

  std::vector<hookrx::event> three_events() {
    std::vector<hookrx::event> evs;
    for (const char* id : {"doc_a", "doc_b", "doc_c"}) {
      const std::string body =
          std::string(R"({"event":"extraction.document_completed","extraction_id":"e1","document_id":")") + id +
          R"(","status":"completed"})";
      auto ev = hookrx::parse_event(hookrx::provider::perfectparser, body);
      REQUIRE(ev.has_value());
      evs.push_back(std::move(*ev));
    }
    return evs;
  }

  TEST_CASE("the JSONL sink writes a batch as whole lines, and concurrent batches never interleave inside a line") {
    hookrx_cli_test::temp_dir dir;
    auto sink = hookrx::cli::make_jsonl_sink(dir.path("events.jsonl"));
    REQUIRE(sink.has_value());
    const std::vector<hookrx::event> evs = three_events();
    const sink_batch b(evs, 1, "webhook");
    const std::vector<hookrx::cli::sink_event>& batch = b.events;
    const std::vector<std::string>& envelopes = b.envelopes;
    constexpr int writers = 4;
    constexpr int rounds = 25;
    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
      threads.emplace_back([&] {
        for (int r = 0; r < rounds; ++r) {
          std::vector<hookrx::status> outcomes(batch.size());
          (*sink)->deliver_all(batch, outcomes);
          for (const hookrx::status& o : outcomes) CHECK(o.has_value());
        }
      });
    }
    for (std::thread& t : threads) t.join();
    std::ifstream in(dir.path("events.jsonl"));
    std::map<std::string, int> lines;
    int total = 0;
    for (std::string line; std::getline(in, line); ++total) ++lines[line];
    CHECK(total == writers * rounds * 3);
    REQUIRE(lines.size() == 3);  // only the three envelopes, each whole
    for (const std::string& e : envelopes) CHECK(lines[e] == writers * rounds);
  }

  TEST_CASE("a JSONL write that fails fails every event of the batch, naming the file and the reason") {
    auto sink = hookrx::cli::make_jsonl_sink("/dev/full");  // every write: ENOSPC
    REQUIRE(sink.has_value());
    const std::vector<hookrx::event> evs = three_events();
    const std::string envelope = hookrx::cli::envelope_json(evs[0], 1, "webhook");
    std::vector<hookrx::cli::sink_event> batch;
    for (const hookrx::event& ev : evs) batch.push_back({ev, 1, "webhook", envelope});
    std::vector<hookrx::status> outcomes(batch.size());
    (*sink)->deliver_all(batch, outcomes);
    for (const hookrx::status& o : outcomes) {
      REQUIRE_FALSE(o.has_value());
      CHECK(hookrx_test::contains(o.error().detail(), "/dev/full"));
      CHECK(hookrx_test::contains(o.error().detail(), std::strerror(ENOSPC)));
    }
  }

  TEST_CASE("a sink without a batch path (exec) reports each event of a batch on its own") {
    auto sink = hookrx::cli::make_exec_sink(R"(cat >/dev/null; case "$HOOKRX_KEY" in *doc_b*) exit 3 ;; esac)",
                                            std::chrono::seconds(10), 2);
    REQUIRE(sink.has_value());
    const std::vector<hookrx::event> evs = three_events();
    const sink_batch b(evs, 2, "poll");
    const std::vector<hookrx::cli::sink_event>& batch = b.events;
    std::vector<hookrx::status> outcomes(batch.size());
    (*sink)->deliver_all(batch, outcomes);
    CHECK(outcomes[0].has_value());
    REQUIRE_FALSE(outcomes[1].has_value());
    CHECK(hookrx_test::contains(outcomes[1].error().detail(), "exit status 3"));
    CHECK(outcomes[2].has_value());
  }
}
