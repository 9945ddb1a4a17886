// End-to-end tests of `hookrx serve`: the built binary, real HTTP over loopback, real SQLite files,
// real sink commands and a real HTTP service for --forward.
#include <doctest/doctest.h>
#include <httplib.h>
#include <simdjson.h>

#include <atomic>
#include <mutex>
#include <set>

#include "harness.hpp"
#include "hookrx/sqlite_store.hpp"

namespace {

using namespace hookrx_cli_test;

const std::string secret = "wh_sec_cli_tests_0123456789";
const std::string token = "ps_token_cli_tests";

struct vector_case {
  std::string name;
  std::string body;
  std::string key;  // empty when the vector has none (or is an error)
  bool parashift = false;
  bool test = false;
  bool error = false;
};

std::vector<vector_case> load_vectors() {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const std::string text = hookrx_test::read_file(hookrx_test::shared_path("vectors/events.json"));
  REQUIRE(parser.parse(text).get(root) == simdjson::SUCCESS);
  std::vector<vector_case> out;
  for (simdjson::dom::element v : root["vectors"].get_array()) {
    vector_case c;
    c.name = std::string(v["name"].get_string().value());
    c.body = std::string(v["body"].get_string().value());
    simdjson::dom::element expect = v["expect"];
    c.error = std::string_view(expect["kind"].get_string().value()) == "error";
    std::string_view key;
    if (expect["key"].get(key) == simdjson::SUCCESS) c.key = std::string(key);
    bool test = false;
    if (expect["test"].get(test) == simdjson::SUCCESS) c.test = test;
    c.parashift = c.name.rfind("parashift", 0) == 0;
    out.push_back(std::move(c));
  }
  return out;
}

// A local service for --forward: records each POST, answers `status_for(attempt)`.
class forward_target {
 public:
  explicit forward_target(std::function<int(const httplib::Request&)> status_for) : status_for_(std::move(status_for)) {
    server_.Post("/events", [this](const httplib::Request& req, httplib::Response& res) {
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        keys_.push_back(req.get_header_value("Idempotency-Key"));
        bodies_.push_back(req.body);
      }
      res.status = status_for_(req);
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  forward_target(const forward_target&) = delete;
  forward_target& operator=(const forward_target&) = delete;
  ~forward_target() {
    server_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/events"; }
  std::vector<std::string> keys() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return keys_;
  }
  std::vector<std::string> bodies() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return bodies_;
  }

 private:
  std::function<int(const httplib::Request&)> status_for_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> keys_;
  std::vector<std::string> bodies_;
};

env_list credentials() {
  return {{"HOOKRX_PP_SIGNING_SECRETS", "wh_sec_old_one," + secret}, {"HOOKRX_PARASHIFT_TOKENS", token}};
}

// The exec sink used below: one line per call with what the command saw, its stdin in another file.
std::string recording_command(const temp_dir& dir, const std::string& then = "exit 0") {
  return "printf '%s|%s|%s|%s|%s\\n' \"$HOOKRX_KEY\" \"$HOOKRX_EVENT\" \"$HOOKRX_ATTEMPT\" \"$HOOKRX_ORIGIN\" "
         "\"${HOOKRX_PP_SIGNING_SECRETS:-no-secret}\" >> " +
         dir.path("exec.txt") + "; { cat; echo; } >> " + dir.path("stdin.txt") + "; " + then;
}

std::multiset<std::string> exec_keys(const temp_dir& dir) {
  std::multiset<std::string> out;
  for (const std::string& line : lines_of(read_all(dir.path("exec.txt")))) out.insert(line.substr(0, line.find('|')));
  return out;
}

std::multiset<std::string> jsonl_keys(const std::string& path) {
  std::multiset<std::string> out;
  simdjson::dom::parser parser;
  for (const std::string& line : lines_of(read_all(path))) {
    simdjson::dom::element e;
    REQUIRE_MESSAGE(parser.parse(line).get(e) == simdjson::SUCCESS, "not one JSON object per line: " << line);
    out.insert(std::string(e["key"].get_string().value()));
  }
  return out;
}

}  // namespace

TEST_SUITE("hookrx serve") {
  TEST_CASE("--version prints the version, and serve without credentials refuses to start naming the variables") {
    temp_dir dir;
    auto [code, out] = run_to_end({"--version"}, {}, dir);
    CHECK(code == 0);
    CHECK(hookrx_test::contains(out, "hookrx 0."));

    auto [code2, out2] = run_to_end({"serve", "--jsonl", dir.path("e.jsonl")}, {}, dir);
    CHECK(code2 == 2);
    CHECK(hookrx_test::contains(out2, "HOOKRX_PP_SIGNING_SECRETS"));
    CHECK(hookrx_test::contains(out2, "HOOKRX_PARASHIFT_TOKENS"));
  }

  TEST_CASE("bad settings are refused with exit 2 and the flag, variable or file key at fault, never a secret") {
    temp_dir dir;
    const env_list creds = {{"HOOKRX_PP_SIGNING_SECRETS", secret}};
    struct bad_case {
      std::vector<std::string> args;
      env_list env;
      std::string names;
    };
    std::ofstream(dir.path("bad.toml")) << "workers = 4\nmax_attempts = \"many\"\n";
    std::ofstream(dir.path("secret.toml")) << "pp_signing_secrets = \"" << secret << "\"\n";
    std::ofstream(dir.path("unknown.toml")) << "wrokers = 4\n";
    std::ofstream(dir.path("broken.toml")) << "workers = [\n";
    const std::vector<bad_case> cases = {
        {{"--workers", "zero"}, creds, "--workers"},
        {{"--workers", "0"}, creds, "--workers"},
        {{"--listen", "nowhere"}, creds, "--listen"},
        {{"--store", "mysql://x"}, creds, "--store"},
        {{"--store", "postgresql://u:hunter2@127.0.0.1/db"}, creds, "PGPASSWORD"},
        {{"--forward", "ftp://x"}, creds, "--forward"},
        {{"--retry-initial", "-1"}, creds, "--retry-initial"},
        {{"--log-level", "loud"}, creds, "--log-level"},
        {{}, {{"HOOKRX_PP_SIGNING_SECRETS", secret}, {"HOOKRX_MAX_ATTEMPTS", "x"}}, "HOOKRX_MAX_ATTEMPTS"},
        {{}, {{"HOOKRX_PP_SIGNING_SECRETS_FILE", dir.path("missing")}}, "HOOKRX_PP_SIGNING_SECRETS_FILE"},
        {{},
         {{"HOOKRX_PP_SIGNING_SECRETS", secret}, {"HOOKRX_PP_SIGNING_SECRETS_FILE", dir.path("x")}},
         "HOOKRX_PP_SIGNING_SECRETS"},
        {{"--config", dir.path("bad.toml")}, creds, "max_attempts"},
        {{"--config", dir.path("unknown.toml")}, creds, "wrokers"},
        {{"--config", dir.path("broken.toml")}, creds, "broken.toml"},
        {{"--config", dir.path("secret.toml")}, {}, "pp_signing_secrets_file"},
        {{"--parashift-allow-cidr", "300.1.0.0/16"}, {{"HOOKRX_PARASHIFT_TOKENS", token}}, "--parashift-allow-cidr"},
        {{"--pp-signing-secrets", secret},
         creds,
         "pp-signing-secrets"},  // no such flag: secrets never on the command line
        {{}, creds, "--jsonl"},  // no sink
    };
    for (const bad_case& c : cases) {
      std::vector<std::string> args = {"serve"};
      args.insert(args.end(), c.args.begin(), c.args.end());
      if (c.names != "--jsonl") {
        args.emplace_back("--jsonl");
        args.push_back(dir.path("e.jsonl"));
      }
      const std::pair<int, std::string> ran = run_to_end(args, c.env, dir);
      const int code = ran.first;
      const std::string& out = ran.second;
      CAPTURE(c.names);
      CAPTURE(out);
      CHECK(code == 2);
      CHECK(hookrx_test::contains(out, c.names));
      CHECK_FALSE(hookrx_test::contains(out, secret));
      CHECK_FALSE(hookrx_test::contains(out, "hunter2"));
    }
  }

  TEST_CASE("every event of both providers reaches the exec, forward and jsonl sinks once") {
    temp_dir dir;
    forward_target target([](const httplib::Request&) { return 200; });
    server s({"--exec", recording_command(dir), "--forward", target.url(), "--jsonl", dir.path("events.jsonl"),
              "--store", "sqlite:" + dir.path("hookrx.db")},
             credentials(), dir);

    std::set<std::string> expected;
    std::size_t parashift_unkeyed = 0;
    for (const vector_case& v : load_vectors()) {
      CAPTURE(v.name);
      const reply r = v.parashift ? deliver_parashift(s.port(), v.body, token) : deliver(s.port(), v.body, secret);
      if (v.error) {
        CHECK(r.status == 400);
        continue;
      }
      if (v.test) {
        CHECK(r.status == 200);
        CHECK(hookrx_test::contains(r.body, "test_delivery"));
        continue;
      }
      if (v.key.empty()) {
        ++parashift_unkeyed;
        CHECK(r.status == 202);
        continue;
      }
      const bool first = expected.insert(v.key).second;
      CHECK(r.status == (first ? 202 : 200));
    }
    const std::size_t total = expected.size() + parashift_unkeyed;
    REQUIRE(total >= 10);
    REQUIRE(eventually([&] { return jsonl_keys(dir.path("events.jsonl")).size() >= total; }));

    const std::multiset<std::string> in_jsonl = jsonl_keys(dir.path("events.jsonl"));
    const std::multiset<std::string> in_exec = exec_keys(dir);
    const std::vector<std::string> forwarded = target.keys();
    CHECK(in_jsonl.size() == total);
    CHECK(in_exec.size() == total);
    CHECK(forwarded.size() == total);
    for (const std::string& key : expected) {
      CAPTURE(key);
      CHECK(in_jsonl.count(key) == 1);
      CHECK(in_exec.count(key) == 1);
      CHECK(std::count(forwarded.begin(), forwarded.end(), key) == 1);
    }
    // The command saw the event in its environment (and none of hookrx's secrets), the envelope on stdin.
    for (const std::string& line : lines_of(read_all(dir.path("exec.txt")))) {
      CHECK(hookrx_test::contains(line, "|1|webhook|no-secret"));
    }
    const std::string stdin_text = read_all(dir.path("stdin.txt"));
    CHECK(count_of(stdin_text, "\"payload\":{") == total);
    CHECK(count_of(stdin_text, "\"origin\":\"webhook\"") == total);
    for (const std::string& body : target.bodies()) CHECK(hookrx_test::contains(body, "\"payload\":{"));
    CHECK(hookrx_test::contains(read_all(dir.path("events.jsonl")), "\"provider\":\"parashift\""));

    CHECK(metric(s.port(), "hookrx_inbox_handled_total") == static_cast<double>(total));
    CHECK(metric(s.port(), R"(hookrx_sink_calls_total{sink="exec",outcome="ok"})") == static_cast<double>(total));
    CHECK(metric(s.port(), R"(hookrx_duplicates_total{provider="perfectparser"})") >= 1);
    CHECK(metric(s.port(), R"(hookrx_sink_duration_seconds_count{sink="jsonl"})") == static_cast<double>(total));
    CHECK(s.stop() == 0);
  }

  TEST_CASE("a failing --exec command is retried with its attempt number, dead-lettered, and handled after a replay") {
    temp_dir dir;
    const std::string db = dir.path("hookrx.db");
    {
      server s({"--exec", recording_command(dir, "exit 3"), "--store", "sqlite:" + db, "--max-attempts", "3",
                "--retry-initial", "0.02", "--retry-max", "0.05"},
               credentials(), dir);
      REQUIRE(deliver(s.port(), doc_body("ext_fail", "doc_1"), secret).status == 202);
      REQUIRE(eventually([&] { return metric(s.port(), "hookrx_dead_letters_total") == 1; }));
      CHECK(metric(s.port(), "hookrx_inbox_retries_total") == 2);
      CHECK(metric(s.port(), R"(hookrx_sink_calls_total{sink="exec",outcome="failed"})") == 3);
      const std::vector<std::string> calls = lines_of(read_all(dir.path("exec.txt")));
      REQUIRE(calls.size() == 3);
      for (int i = 0; i < 3; ++i)
        CHECK(hookrx_test::contains(calls[static_cast<std::size_t>(i)], "|" + std::to_string(i + 1) + "|webhook"));
      CHECK(hookrx_test::contains(s.log(), "dead-lettered"));
      CHECK(s.stop() == 0);
    }
    // The dead letter keeps the command's last failure; replaying it queues the event again.
    {
      auto store = hookrx::sqlite_store::open({db});
      REQUIRE(store.has_value());
      auto dead = (*store)->list(hookrx::entry_state::dead, 10);
      REQUIRE(dead.has_value());
      REQUIRE(dead->size() == 1);
      CHECK(dead->front().record.key == doc_key("ext_fail", "doc_1"));
      CHECK(hookrx_test::contains(dead->front().last_error, "exit status 3"));
      REQUIRE((*store)->replay(dead->front().id).has_value());
    }
    server s({"--exec", recording_command(dir), "--store", "sqlite:" + db}, credentials(), dir);
    REQUIRE(eventually([&] { return lines_of(read_all(dir.path("exec.txt"))).size() == 4; }));
    CHECK(hookrx_test::contains(lines_of(read_all(dir.path("exec.txt")))[3],
                                doc_key("ext_fail", "doc_1") + "|extraction.document_completed|1|"));
    REQUIRE(eventually([&] { return metric(s.port(), "hookrx_inbox_handled_total") == 1; }));
    CHECK(metric(s.port(), "hookrx_dead_letters_total") == 0);
    CHECK(s.stop() == 0);
  }

  TEST_CASE("the inbox depth on /metrics is what waits in the store: entries waiting for their retry count") {
    temp_dir dir;
    server s({"--exec", recording_command(dir, "exit 3"), "--store", "sqlite:" + dir.path("hookrx.db"),
              "--retry-initial", "300", "--retry-max", "300"},
             credentials(), dir);
    CHECK(hookrx_test::contains(get(s.port(), "/metrics").body, "\nhookrx_inbox_depth 0\n"));
    REQUIRE(deliver(s.port(), doc_body("ext_depth", "doc_1"), secret).status == 202);
    REQUIRE(deliver(s.port(), doc_body("ext_depth", "doc_2"), secret).status == 202);
    REQUIRE(
        eventually([&] { return metric(s.port(), R"(hookrx_sink_calls_total{sink="exec",outcome="failed"})") == 2; }));
    CHECK(metric(s.port(), "hookrx_inbox_depth") == 2);  // both wait five minutes for their next attempt
    CHECK(s.stop() == 0);
  }

  TEST_CASE("a --forward target that fails is retried with the same Idempotency-Key until it answers 2xx") {
    temp_dir dir;
    std::atomic<int> calls{0};
    forward_target target([&](const httplib::Request&) { return ++calls <= 2 ? 500 : 204; });
    server s({"--forward", target.url(), "--store", "memory:", "--retry-initial", "0.02", "--retry-max", "0.05"},
             credentials(), dir);
    REQUIRE(deliver(s.port(), doc_body("ext_fw", "doc_1"), secret).status == 202);
    REQUIRE(eventually([&] { return metric(s.port(), "hookrx_inbox_handled_total") == 1; }));
    const std::vector<std::string> keys = target.keys();
    REQUIRE(keys.size() == 3);
    for (const std::string& k : keys) CHECK(k == doc_key("ext_fw", "doc_1"));
    CHECK(metric(s.port(), R"(hookrx_sink_calls_total{sink="forward",outcome="failed"})") == 2);
    CHECK(s.stop() == 0);
  }

  TEST_CASE("SIGTERM lets running commands finish, refuses new connections, and loses nothing acknowledged") {
    temp_dir dir;
    const std::string db = dir.path("hookrx.db");
    std::vector<std::string> acked;
    {
      // Slow commands, so that the signal arrives while some run and others wait in the inbox.
      server s({"--exec", recording_command(dir, "sleep 0.3"), "--store", "sqlite:" + db, "--workers", "2",
                "--exec-concurrency", "2", "--grace", "20"},
               credentials(), dir);
      for (int i = 0; i < 12; ++i) {
        const std::string doc = "doc_" + std::to_string(i);
        if (deliver(s.port(), doc_body("ext_drain", doc), secret).status == 202)
          acked.push_back(doc_key("ext_drain", doc));
      }
      REQUIRE(acked.size() == 12);
      REQUIRE(eventually([&] { return !lines_of(read_all(dir.path("exec.txt"))).empty(); }));
      const int port = s.port();
      s.signal(SIGTERM);
      // Once draining, the listener takes no new connection.
      CHECK(eventually([&] {
        try {
          raw c(port);
          return !c.send(post_bytes("/webhooks/perfectparser", "{}", {})) || c.closed_within(2s);
        } catch (const std::exception&) {
          return true;
        }
      }));
      CHECK(s.wait_exit(30s) == 0);
      CHECK(hookrx_test::contains(s.log(), "\"msg\":\"stopped\""));
      // Every command that started finished (none was killed): one line each, stdin fully read.
      const std::size_t ran = lines_of(read_all(dir.path("exec.txt"))).size();
      CHECK(count_of(read_all(dir.path("stdin.txt")), "\"payload\":{") == ran);
    }
    // What was not handled is still in the store; the next run handles it, each key once.
    server s({"--exec", recording_command(dir), "--store", "sqlite:" + db}, credentials(), dir);
    REQUIRE(eventually([&] { return exec_keys(dir).size() >= acked.size(); }));
    const std::multiset<std::string> handled = exec_keys(dir);
    for (const std::string& key : acked) {
      CAPTURE(key);
      CHECK(handled.count(key) == 1);
    }
    CHECK(s.stop() == 0);
  }

  TEST_CASE("a second signal exits at once, without waiting for running commands") {
    temp_dir dir;
    const std::string pidfile = dir.path("cmd.pid");
    server s({"--exec", "echo $$ > " + pidfile + "; exec sleep 60", "--store", "sqlite:" + dir.path("h.db"), "--grace",
              "60"},
             credentials(), dir);
    REQUIRE(deliver(s.port(), doc_body("ext_2sig", "doc_1"), secret).status == 202);
    REQUIRE(eventually([&] { return !read_all(pidfile).empty(); }));
    s.signal(SIGTERM);
    REQUIRE(eventually([&] { return hookrx_test::contains(s.log(), "\"msg\":\"draining\""); }));
    CHECK_FALSE(s.exited());  // the first signal waits for the command
    s.signal(SIGINT);
    const std::optional<int> code = s.wait_exit(10s);
    CHECK(code == 128 + SIGINT);
    const pid_t cmd = std::atoi(read_all(pidfile).c_str());
    CHECK(::kill(cmd, 0) == 0);  // the command itself was left alone
    if (cmd > 0) ::kill(cmd, SIGKILL);
  }

  TEST_CASE("a restart on the same SQLite file keeps every key: a redelivery is a duplicate") {
    temp_dir dir;
    const std::string db = dir.path("hookrx.db");
    const std::string jsonl = dir.path("events.jsonl");
    {
      server s({"--jsonl", jsonl, "--store", "sqlite:" + db}, credentials(), dir);
      for (int i = 0; i < 5; ++i) CHECK(deliver(s.port(), doc_body("ext_rs", std::to_string(i)), secret).status == 202);
      REQUIRE(eventually([&] { return jsonl_keys(jsonl).size() == 5; }));
      CHECK(s.stop() == 0);
    }
    server s({"--jsonl", jsonl, "--store", "sqlite:" + db}, credentials(), dir);
    for (int i = 0; i < 5; ++i) {
      const reply r = deliver(s.port(), doc_body("ext_rs", std::to_string(i)), secret);
      CHECK(r.status == 200);
      CHECK(hookrx_test::contains(r.body, "duplicate"));
    }
    CHECK(deliver(s.port(), doc_body("ext_rs", "new"), secret).status == 202);
    REQUIRE(eventually([&] { return jsonl_keys(jsonl).size() == 6; }));
    CHECK(metric(s.port(), R"(hookrx_duplicates_total{provider="perfectparser"})") == 5);
    CHECK(s.stop() == 0);
  }

  TEST_CASE(
      "secrets from *_FILE and settings from a TOML file work, and flags win over the environment over the file") {
    temp_dir dir;
    std::ofstream(dir.path("pp.secret")) << "wh_sec_old_one\n" << secret << "\n";
    std::ofstream(dir.path("ps.tokens")) << token << "\n";
    std::ofstream(dir.path("hookrx.toml")) << "store = \"memory:\"\n"
                                           << "jsonl = [\"" << dir.path("from_file.jsonl") << "\"]\n"
                                           << "max_attempts = 5\n"
                                           << "parashift_tokens_file = \"" << dir.path("ps.tokens") << "\"\n"
                                           << "log_level = \"error\"\n";
    server s({"--config", dir.path("hookrx.toml"), "--log-level", "info"},
             {{"HOOKRX_PP_SIGNING_SECRETS_FILE", dir.path("pp.secret")}, {"HOOKRX_JSONL", dir.path("from_env.jsonl")}},
             dir);
    CHECK(hookrx_test::contains(s.log(), "\"store\":\"memory:\""));  // from the file; info level from the flag
    CHECK(deliver(s.port(), doc_body("ext_cfg", "1"), secret).status == 202);
    CHECK(deliver(s.port(), doc_body("ext_cfg", "2"), "wh_sec_old_one").status == 202);  // rotation
    CHECK(deliver_parashift(s.port(), load_vectors()[12].body, token).status == 202);
    REQUIRE(eventually([&] { return jsonl_keys(dir.path("from_env.jsonl")).size() == 3; }));
    CHECK(read_all(dir.path("from_file.jsonl")).empty());
    CHECK_FALSE(hookrx_test::contains(s.log(), secret));
    CHECK(s.stop() == 0);
  }

  TEST_CASE(
      "--parashift-allow-cidr default refuses a loopback peer with 403, --parashift-header takes a custom header") {
    temp_dir dir;
    const std::string body = load_vectors()[12].body;
    {
      server s({"--jsonl", dir.path("e.jsonl"), "--store", "memory:", "--parashift-allow-cidr", "default"},
               {{"HOOKRX_PARASHIFT_TOKENS", token}}, dir);
      const reply r = deliver_parashift(s.port(), body, token);
      CHECK(r.status == 403);
      CHECK(hookrx_test::contains(r.body, "source_not_allowed"));
      CHECK(metric(s.port(),
                   R"(hookrx_verification_failures_total{provider="parashift",reason="source_not_allowed"})") == 1);
      CHECK(deliver(s.port(), doc_body("e", "d"), secret).status == 404);  // no PerfectParser credentials, no route
      CHECK(s.stop() == 0);
    }
    server s({"--jsonl", dir.path("e.jsonl"), "--store", "memory:", "--parashift-header", "X-Parashift-Token",
              "--parashift-allow-cidr", "127.0.0.0/8"},
             {{"HOOKRX_PARASHIFT_TOKENS", token}}, dir);
    CHECK(round_trip(s.port(), post_bytes("/webhooks/parashift", body, {{"X-Parashift-Token", token}})).status == 202);
    CHECK(deliver_parashift(s.port(), body, token).status == 401);
    CHECK(s.stop() == 0);
  }
}
