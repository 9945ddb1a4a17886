// `hookrx sign` and `hookrx send`, run as built, over real HTTP: the signature agrees with
// `openssl dgst -sha256 -hmac` on the shared vectors, and send puts on the wire exactly the headers
// the vendor sends (checked by a capture server that recomputes them), with the documented exit
// codes and usage errors.
#include <doctest/doctest.h>
#include <httplib.h>
#include <simdjson.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hookrx/events.hpp"
#include "support.hpp"
#include "toolbox_process.hpp"

using hookrx_test::contains;
using hookrx_test::env_list;
using hookrx_test::run;

namespace {

const std::string binary = HOOKRX_BINARY;

// The hex digest `openssl dgst -sha256 -hmac KEY` prints for `body` (its last word).
std::string openssl_hmac(const std::string& key, const std::string& body) {
  auto r = run({"openssl", "dgst", "-sha256", "-hmac", key}, {}, body);
  REQUIRE(r.exit_code == 0);
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.substr(out.rfind(' ') + 1);
}

// A loopback server that records every request and answers with a chosen status.
struct capture_server {
  struct request {
    std::string path;
    std::string body;
    httplib::Headers headers;
  };
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int answer_status = 202;
  std::mutex mutex;
  std::vector<request> requests;

  capture_server() {
    server.set_tcp_nodelay(true);
    server.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex);
      requests.push_back({req.path, req.body, req.headers});
      res.status = answer_status;
      res.set_content(R"({"status":"captured"})", "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    // bind_to_any_port() already listens: a client connecting before the thread runs just waits.
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~capture_server() {
    server.stop();
    thread.join();
  }
  [[nodiscard]] std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  request last() {
    std::lock_guard<std::mutex> lock(mutex);
    REQUIRE_FALSE(requests.empty());
    return requests.back();
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return requests.size();
  }
};

const env_list pp_env = {{"HOOKRX_PP_SIGNING_SECRETS", "wh_sec_new,wh_sec_old"}};

}  // namespace

TEST_SUITE("cli sign") {
  TEST_CASE("sign agrees with openssl on every body and secret of the shared vectors") {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    REQUIRE(parser.load(hookrx_test::shared_path("vectors/perfectparser_signatures.json")).get(root) ==
            simdjson::SUCCESS);
    int checked = 0;
    for (simdjson::dom::element v : root["vectors"].get_array()) {
      std::string_view body_b64;
      REQUIRE(v["body_b64"].get(body_b64) == simdjson::SUCCESS);
      const std::string body = hookrx_test::base64_decode(body_b64);
      for (simdjson::dom::element s : v["signing_secrets"].get_array()) {
        const std::string secret(s.get_string().value());
        CAPTURE(secret);
        auto r = run({binary, "sign"}, {{"HOOKRX_PP_SIGNING_SECRETS", secret}}, body);
        CHECK_MESSAGE(r.exit_code == 0, r.err);
        CHECK(r.out == openssl_hmac(secret, body) + "\n");
        CHECK_FALSE(contains(r.err, secret));
        ++checked;
      }
    }
    CHECK(checked >= 20);
  }

  TEST_CASE("sign uses the first of several signing secrets, the one senders sign with") {
    auto r = run({binary, "sign"}, pp_env, "{\"a\":1}");
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == openssl_hmac("wh_sec_new", "{\"a\":1}") + "\n");
  }

  TEST_CASE("sign reads the secret from a file or from the variable --secret-env names") {
    const std::string dir = hookrx_test::make_temp_dir("sign");
    hookrx_test::write_file(dir + "/secret", "wh_sec_from_file\n");
    auto from_file = run({binary, "sign"}, {{"HOOKRX_PP_SIGNING_SECRETS_FILE", dir + "/secret"}}, "body");
    CHECK_MESSAGE(from_file.exit_code == 0, from_file.err);
    CHECK(from_file.out == openssl_hmac("wh_sec_from_file", "body") + "\n");
    auto named = run({binary, "sign", "--secret-env", "MY_SECRET"}, {{"MY_SECRET", "wh_sec_named"}}, "body");
    CHECK(named.exit_code == 0);
    CHECK(named.out == openssl_hmac("wh_sec_named", "body") + "\n");
    auto named_file = run({binary, "sign", "--secret-env", "MY_SECRET"}, {{"MY_SECRET_FILE", dir + "/secret"}}, "body");
    CHECK(named_file.out == from_file.out);
    hookrx_test::remove_tree(dir);
  }

  TEST_CASE("sign without a secret is a usage error that names the variables") {
    auto none = run({binary, "sign"}, {}, "body");
    CHECK(none.exit_code == 2);
    CHECK(contains(none.err, "HOOKRX_PP_SIGNING_SECRETS"));
    CHECK(none.out.empty());
    auto unset = run({binary, "sign", "--secret-env", "NOT_SET_ANYWHERE"}, {}, "body");
    CHECK(unset.exit_code == 2);
    CHECK(contains(unset.err, "--secret-env"));
    CHECK(contains(unset.err, "NOT_SET_ANYWHERE"));
    auto both = run({binary, "sign"}, {{"HOOKRX_PP_SIGNING_SECRETS", "a"}, {"HOOKRX_PP_SIGNING_SECRETS_FILE", "/x"}});
    CHECK(both.exit_code == 2);
    CHECK(contains(both.err, "HOOKRX_PP_SIGNING_SECRETS"));
  }
}

TEST_SUITE("cli send") {
  TEST_CASE("send signs a PerfectParser event exactly as the vendor does and prints the answer") {
    capture_server capture;
    auto r = run({binary, "send", capture.url("/webhooks/perfectparser"), "--event", "extraction.document_completed"},
                 pp_env);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(contains(r.out, "202"));
    CHECK(contains(r.out, R"({"status":"captured"})"));
    auto req = capture.last();
    CHECK(req.path == "/webhooks/perfectparser");
    CHECK(req.headers.find("X-PerfectParser-Signature")->second ==
          hookrx_test::hmac_sha256_hex("wh_sec_new", req.body));
    CHECK(req.headers.find("Content-Type")->second == "application/json");
    CHECK(req.headers.count("X-Webhook-Secret") == 0);
    CHECK(req.headers.count("Authorization") == 0);
    auto ev = hookrx::parse_event(hookrx::provider::perfectparser, req.body);
    REQUIRE(ev);
    CHECK(ev->name() == "extraction.document_completed");
    CHECK(ev->is_test());
    CHECK(contains(r.err, ev->key()));  // the operator learns the key to look it up
  }

  TEST_CASE("send adds X-Webhook-Secret when a static secret is configured, alone or with a signature") {
    capture_server capture;
    auto both = run({binary, "send", capture.url("/pp"), "-e", "batch.failed"},
                    {{"HOOKRX_PP_SIGNING_SECRETS", "wh_sec_x"}, {"HOOKRX_PP_STATIC_SECRET", "static-secret-1"}});
    CHECK_MESSAGE(both.exit_code == 0, both.err);
    auto req = capture.last();
    CHECK(req.headers.find("X-Webhook-Secret")->second == "static-secret-1");
    CHECK(req.headers.find("X-PerfectParser-Signature")->second == hookrx_test::hmac_sha256_hex("wh_sec_x", req.body));
    auto alone = run({binary, "send", capture.url("/pp"), "-e", "batch.failed"},
                     {{"HOOKRX_PP_STATIC_SECRET", "static-secret-1"}});
    CHECK_MESSAGE(alone.exit_code == 0, alone.err);
    req = capture.last();
    CHECK(req.headers.find("X-Webhook-Secret")->second == "static-secret-1");
    CHECK(req.headers.count("X-PerfectParser-Signature") == 0);
    CHECK_FALSE(contains(alone.out + alone.err, "static-secret-1"));
  }

  TEST_CASE("send authenticates a Parashift topic with a bearer token or the configured header") {
    capture_server capture;
    auto bearer = run({binary, "send", capture.url("/webhooks/parashift"), "--event", "processing-finished"},
                      {{"HOOKRX_PARASHIFT_TOKENS", "tok_a,tok_b"}});
    CHECK_MESSAGE(bearer.exit_code == 0, bearer.err);
    auto req = capture.last();
    CHECK(req.headers.find("Authorization")->second == "Bearer tok_a");
    CHECK(req.headers.count("X-PerfectParser-Signature") == 0);
    auto ev = hookrx::parse_event(hookrx::provider::parashift, req.body);
    REQUIRE(ev);
    CHECK(ev->name() == "processing-finished");

    auto custom = run({binary, "send", capture.url("/webhooks/parashift"), "--event", "document-received",
                       "--parashift-header", "X-Parashift-Token"},
                      {{"HOOKRX_PARASHIFT_TOKENS", "tok_a"}});
    CHECK_MESSAGE(custom.exit_code == 0, custom.err);
    req = capture.last();
    CHECK(req.headers.find("X-Parashift-Token")->second == "tok_a");
    CHECK(req.headers.count("Authorization") == 0);
  }

  TEST_CASE("send --live leaves the test flag out and --body sends a file's bytes unchanged") {
    capture_server capture;
    auto live = run({binary, "send", capture.url("/pp"), "-e", "extraction.job_completed", "--live", "--extraction-id",
                     "ext_fixed"},
                    pp_env);
    CHECK(live.exit_code == 0);
    auto ev = hookrx::parse_event(hookrx::provider::perfectparser, capture.last().body);
    REQUIRE(ev);
    CHECK_FALSE(ev->is_test());
    CHECK(ev->key() == "perfectparser:extraction.job_completed:ext_fixed");

    const std::string dir = hookrx_test::make_temp_dir("send");
    const std::string body = "{\"event\": \"batch.partial\",  \"extraction_id\": \"ext_9\"}\n";
    hookrx_test::write_file(dir + "/body.json", body);
    auto file = run({binary, "send", capture.url("/pp"), "--body", dir + "/body.json"}, pp_env);
    CHECK(file.exit_code == 0);
    CHECK(capture.last().body == body);
    CHECK(capture.last().headers.find("X-PerfectParser-Signature")->second ==
          hookrx_test::hmac_sha256_hex("wh_sec_new", body));
    auto stdin_body = run({binary, "send", capture.url("/pp"), "--body", "-"}, pp_env, body);
    CHECK(stdin_body.exit_code == 0);
    CHECK(capture.last().body == body);
    hookrx_test::remove_tree(dir);
  }

  TEST_CASE("send exits 1 on a non-2xx answer and on an unreachable receiver") {
    capture_server capture;
    capture.answer_status = 401;
    auto refused = run({binary, "send", capture.url("/pp"), "-e", "batch.completed"}, pp_env);
    CHECK(refused.exit_code == 1);
    CHECK(contains(refused.out, "401"));
    capture.answer_status = 503;
    CHECK(run({binary, "send", capture.url("/pp"), "-e", "batch.completed"}, pp_env).exit_code == 1);
    const int closed_port = hookrx_test::free_port();
    auto unreachable = run(
        {binary, "send", "http://127.0.0.1:" + std::to_string(closed_port) + "/x", "-e", "batch.completed"}, pp_env);
    CHECK(unreachable.exit_code == 1);
    CHECK(contains(unreachable.err, "no answer"));
  }

  TEST_CASE("send --unsigned sends no credential, so a receiver's refusal can be seen") {
    capture_server capture;
    auto r = run({binary, "send", capture.url("/pp"), "-e", "batch.completed", "--unsigned"});
    CHECK(r.exit_code == 0);
    auto req = capture.last();
    CHECK(req.headers.count("X-PerfectParser-Signature") == 0);
    CHECK(req.headers.count("X-Webhook-Secret") == 0);
  }

  TEST_CASE("each usage error of send exits 2, names the flag or variable, and sends nothing") {
    capture_server capture;
    const std::string url = capture.url("/pp");
    const struct {
      std::vector<std::string> args;
      env_list env;
      std::string_view named;
    } cases[] = {
        {{"send", "-e", "batch.completed"}, pp_env, "URL"},
        {{"send", "ftp://127.0.0.1/x", "-e", "batch.completed"}, pp_env, "URL"},
        {{"send", "http://", "-e", "batch.completed"}, pp_env, "URL"},
        {{"send", url}, pp_env, "--event"},
        {{"send", url, "-e", "extraction.started"}, pp_env, "--event"},
        {{"send", url, "-e", "batch.completed", "--provider", "stripe"}, pp_env, "--provider"},
        {{"send", url, "-e", "batch.completed", "--provider", "parashift"}, pp_env, "--event"},
        {{"send", url, "-e", "document-received", "--document-id", "doc_1"},
         {{"HOOKRX_PARASHIFT_TOKENS", "t"}},
         "--document-id"},
        {{"send", url, "--body", "/nonexistent/body.json"}, pp_env, "--body"},
        {{"send", url, "-e", "batch.completed", "--timeout", "0"}, pp_env, "--timeout"},
        {{"send", url, "-e", "batch.completed", "-H", "no colon"}, pp_env, "--header"},
        {{"send", url, "-e", "batch.completed"}, {}, "HOOKRX_PP_SIGNING_SECRETS"},
        {{"send", url, "-e", "processing-finished"}, pp_env, "HOOKRX_PARASHIFT_TOKENS"},
        {{"send", url, "-e", "batch.completed"},
         {{"HOOKRX_PP_SIGNING_SECRETS", ""}, {"HOOKRX_PP_SIGNING_SECRETS_FILE", "/nonexistent/secret"}},
         "HOOKRX_PP_SIGNING_SECRETS_FILE"},
        {{"send", url, "-e", "batch.completed", "--config", "/nonexistent/hookrx.toml"}, pp_env, "--config"},
        {{"send", url, "-e", "batch.completed", "--no-such-flag"}, pp_env, "--no-such-flag"},
    };
    for (const auto& c : cases) {
      std::vector<std::string> argv = {binary};
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      CAPTURE(c.named);
      auto r = run(argv, c.env);
      CHECK(r.exit_code == 2);
      CHECK_MESSAGE(contains(r.err, c.named), r.err);
    }
    CHECK(capture.count() == 0);
  }

  TEST_CASE("send --list prints every event name and topic") {
    auto r = run({binary, "send", "--list"});
    CHECK(r.exit_code == 0);
    for (std::string_view name : {"extraction.document_completed", "batch.partial", "document-received",
                                  "ready-for-classification-qc", "processing-failed"})
      CHECK(contains(r.out, name));
  }
}
