// The bad-input battery: one running `hookrx serve`, byte-level requests over raw sockets. Each case
// gets its documented status and error code, /metrics counts it, and the process stays up.
#include <doctest/doctest.h>

#include "harness.hpp"

namespace {

using namespace hookrx_cli_test;

const std::string secret = "wh_sec_battery_0123456789";
const std::string token = "ps_battery_token";
constexpr std::size_t cap = 65536;

int next_id() {
  static int n = 0;
  return ++n;
}

std::string fresh_body() { return doc_body("ext_bad", "doc_" + std::to_string(next_id())); }
std::string sig(const std::string& body) { return hookrx_test::hmac_sha256_hex(secret, body); }
std::string pp(const std::string& body, std::vector<std::pair<std::string, std::string>> headers,
               std::string_view version = "HTTP/1.1") {
  return post_bytes("/webhooks/perfectparser", body, headers, version);
}
std::string signed_pp(const std::string& body) { return pp(body, {{"X-PerfectParser-Signature", sig(body)}}); }
std::string ps(const std::string& body, std::vector<std::pair<std::string, std::string>> headers) {
  return post_bytes("/webhooks/parashift", body, headers);
}
const std::string ps_body =
    R"({"topic":"document-received","id":"1","type":"documents","attributes":{"document_id":1,"status":"pending","created_at":"2021-05-12T10:05:46.302Z","updated_at":"2021-05-12T10:05:46.302Z"}})";

struct simple_case {
  std::string name;
  std::string bytes;
  int status;
  std::string code;   // in the body, when not empty
  std::string route;  // the metrics label of the answer
};

std::string series(const std::string& route, int status) {
  return "hookrx_http_responses_total{route=\"" + route + "\",code=\"" + std::to_string(status) + "\"}";
}

std::string nested(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
}

}  // namespace

TEST_SUITE("hookrx serve bad input") {
  TEST_CASE("every malformed, unauthenticated or odd request gets its documented answer and the process stays up") {
    temp_dir dir;
    server s({"--jsonl", dir.path("e.jsonl"), "--store", "sqlite:" + dir.path("h.db"), "--max-body-bytes",
              std::to_string(cap), "--read-timeout", "0.5", "--idle-timeout", "0.5"},
             {{"HOOKRX_PP_SIGNING_SECRETS", secret}, {"HOOKRX_PARASHIFT_TOKENS", token}}, dir);
    const int port = s.port();
    const std::string pp_route = "/webhooks/perfectparser";
    const std::string ps_route = "/webhooks/parashift";
    const std::string dup = fresh_body();
    const std::string big(cap + 1, ' ');
    const std::string unknown_event = R"({"event":"account.renamed","account_id":"a1"})";
    const std::string b64 = fresh_body();

    std::vector<simple_case> cases = {
        {"a valid delivery", signed_pp(dup), 202, "queued", pp_route},
        {"the same delivery again", signed_pp(dup), 200, "duplicate", pp_route},
        {"no signature header", pp(fresh_body(), {}), 401, "missing_signature", pp_route},
        {"an empty signature", pp(fresh_body(), {{"X-PerfectParser-Signature", ""}}), 401, "", pp_route},
        {"a signature of 63 hex digits", pp(fresh_body(), {{"X-PerfectParser-Signature", std::string(63, 'a')}}), 401,
         "malformed_signature", pp_route},
        {"a signature of 65 hex digits", pp(fresh_body(), {{"X-PerfectParser-Signature", std::string(65, 'a')}}), 401,
         "malformed_signature", pp_route},
        {"64 characters that are not hex", pp(fresh_body(), {{"X-PerfectParser-Signature", std::string(64, 'z')}}), 401,
         "malformed_signature", pp_route},
        {"a sha256= prefix", pp(b64, {{"X-PerfectParser-Signature", "sha256=" + sig(b64)}}), 401, "malformed_signature",
         pp_route},
        {"a signature made with another secret",
         pp(fresh_body(), {{"X-PerfectParser-Signature", hookrx_test::hmac_sha256_hex("wh_sec_other", "x")}}), 401,
         "signature_mismatch", pp_route},
        {"a signature of another body", pp(fresh_body(), {{"X-PerfectParser-Signature", sig("{}")}}), 401,
         "signature_mismatch", pp_route},
        {"a valid signature in upper case",
         [] {
           const std::string b = fresh_body();
           return pp(b, {{"X-PerfectParser-Signature", hookrx_test::to_upper(sig(b))}});
         }(),
         202, "queued", pp_route},
        {"a valid signature with surrounding blanks",
         [] {
           const std::string b = fresh_body();
           return pp(b, {{"X-PerfectParser-Signature", "  " + sig(b) + "\t"}});
         }(),
         202, "queued", pp_route},
        {"two signature headers, the first wrong",
         [] {
           const std::string b = fresh_body();
           return pp(b, {{"X-PerfectParser-Signature", sig("{}")}, {"X-PerfectParser-Signature", sig(b)}});
         }(),
         401, "signature_mismatch", pp_route},
        {"a header name in odd case",
         [] {
           const std::string b = fresh_body();
           return pp(b, {{"x-PERFECTPARSER-signature", sig(b)}});
         }(),
         202, "queued", pp_route},
        {"an empty body, signed", signed_pp(""), 400, "invalid_json", pp_route},
        {"a body that is not JSON", signed_pp("event=x&id=1"), 400, "invalid_json", pp_route},
        {"truncated JSON", signed_pp(R"({"event":"extraction.document_completed","extraction_id":)"), 400,
         "invalid_json", pp_route},
        {"a JSON array", signed_pp("[1,2,3]"), 400, "invalid_json", pp_route},
        {"a JSON string", signed_pp("\"hello\""), 400, "invalid_json", pp_route},
        {"invalid UTF-8 in a string", signed_pp("{\"event\":\"extraction.document_completed\",\"x\":\"\xff\xfe\"}"),
         400, "invalid_json", pp_route},
        {"no event name", signed_pp(R"({"extraction_id":"e","document_id":"d"})"), 400, "missing_field", pp_route},
        {"a document event without document_id",
         signed_pp(R"({"event":"extraction.document_completed","extraction_id":"e","status":"completed"})"), 400,
         "missing_field", pp_route},
        {"extraction_id of the wrong type",
         signed_pp(
             R"({"event":"extraction.document_completed","extraction_id":7,"document_id":"d","status":"completed"})"),
         400, "wrong_type", pp_route},
        {"deep nesting",
         signed_pp(
             R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"dn","status":"completed","extracted_data":)" +
             nested(5000) + "}"),
         400, "invalid_json", pp_route},
        {"an unknown event", signed_pp(unknown_event), 202, "queued", pp_route},
        {"a vendor test delivery",
         signed_pp(R"({"event":"extraction.job_completed","extraction_id":"ext_t","test":true})"), 200, "test_delivery",
         pp_route},
        {"a body over the cap", signed_pp(big), 413, "body_too_large", pp_route},
        {"a gzip body", pp(fresh_body(), {{"Content-Encoding", "gzip"}, {"X-PerfectParser-Signature", sig("x")}}), 415,
         "unsupported_content_encoding", pp_route},
        {"a query string on the route",
         [] {
           const std::string b = fresh_body();
           return post_bytes("/webhooks/perfectparser?source=test", b, {{"X-PerfectParser-Signature", sig(b)}});
         }(),
         202, "queued", pp_route},
        {"a chunked body, signed",
         [] {
           const std::string b = fresh_body();
           std::ostringstream chunks;
           chunks << std::hex << 10 << "\r\n"
                  << b.substr(0, 10) << "\r\n"
                  << (b.size() - 10) << "\r\n"
                  << b.substr(10) << "\r\n0\r\n\r\n";
           return "POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "X-PerfectParser-Signature: " +
                  sig(b) + "\r\n\r\n" + chunks.str();
         }(),
         202, "queued", pp_route},
        {"a chunked body over the cap",
         [&] {
           std::ostringstream chunks;
           chunks << std::hex << big.size() << "\r\n" << big << "\r\n0\r\n\r\n";
           return "POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "X-PerfectParser-Signature: " +
                  sig(big) + "\r\n\r\n" + chunks.str();
         }(),
         413, "body_too_large", pp_route},
        {"GET on a webhook route", "GET /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\n\r\n", 405, "", pp_route},
        {"PUT on a webhook route", "PUT /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
         405, "", pp_route},
        {"DELETE on /metrics", "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, "", "/metrics"},
        {"POST on /healthz", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 405, "", "/healthz"},
        {"an unknown path", "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404, "",
         "other"},
        {"a path that only starts like a route", signed_pp("{}").replace(5, 23, "/webhooks/perfectparserx"), 404, "",
         "other"},
        {"a request line that is not HTTP", "HELLO THERE\r\n\r\n", 400, "", "other"},
        {"a header line without a colon", "POST /webhooks/perfectparser HTTP/1.1\r\nHost x\r\n\r\n", 400, "", "other"},
        {"a Content-Length that is not a number",
         "POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400, "", "other"},
        {"two different Content-Lengths",
         "POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400,
         "", "other"},
        {"a header over 8 KiB",
         "POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(10000, 'p') +
             "\r\nContent-Length: 2\r\n\r\n{}",
         400, "", "other"},
        {"an unsupported HTTP version",
         "POST /webhooks/perfectparser HTTP/2.0\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400, "", "other"},
        {"Parashift with a valid bearer token", ps(ps_body, {{"Authorization", "Bearer " + token}}), 202, "queued",
         ps_route},
        {"Parashift without Authorization", ps(ps_body, {}), 401, "missing_credentials", ps_route},
        {"Parashift with a wrong token", ps(ps_body, {{"Authorization", "Bearer nope"}}), 401, "credentials_mismatch",
         ps_route},
        {"Parashift with the token but no Bearer", ps(ps_body, {{"Authorization", token}}), 401, "credentials_mismatch",
         ps_route},
        {"Parashift with the wrong scheme", ps(ps_body, {{"Authorization", "Token " + token}}), 401,
         "credentials_mismatch", ps_route},
        {"Parashift with invalid JSON", ps("{\"topic\":", {{"Authorization", "Bearer " + token}}), 400, "invalid_json",
         ps_route},
        {"Parashift with a topic of the wrong type",
         ps(R"({"topic":5,"id":"1","attributes":{"document_id":1}})", {{"Authorization", "Bearer " + token}}), 400,
         "wrong_type", ps_route},
        {"a PerfectParser body on the Parashift route", ps(fresh_body(), {{"Authorization", "Bearer " + token}}), 400,
         "", ps_route},
    };

    std::size_t checked = 0;
    for (const simple_case& c : cases) {
      CAPTURE(c.name);
      const double before = metric(port, series(c.route, c.status));
      const reply r = round_trip(port, c.bytes);
      CHECK(r.status == c.status);
      if (!c.code.empty()) CHECK(hookrx_test::contains(r.body, c.code));
      CHECK_FALSE(hookrx_test::contains(r.body, secret));
      CHECK_FALSE(hookrx_test::contains(r.body, token));
      CHECK(metric(port, series(c.route, c.status)) == before + 1);
      ++checked;
    }

    // HTTP/1.0: answered, then closed.
    {
      const std::string b = fresh_body();
      raw c(port);
      c.send(pp(b, {{"X-PerfectParser-Signature", sig(b)}}, "HTTP/1.0"));
      const std::optional<reply> r = c.read();
      REQUIRE(r.has_value());
      CHECK(r->status == 202);
      CHECK(c.closed_within(5s));
      ++checked;
    }
    // Pipelined requests in one segment: answered in order, none dropped.
    {
      const std::string a = fresh_body();
      const std::string b = fresh_body();
      raw c(port);
      c.send(signed_pp(a) + pp(b, {}) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + signed_pp(b) +
             "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
      const int expected[] = {202, 401, 200, 202, 404};
      for (const int want : expected) {
        const std::optional<reply> r = c.read();
        REQUIRE(r.has_value());
        CHECK(r->status == want);
      }
      checked += 5;
    }
    // Keep-alive: several requests on one connection.
    {
      raw c(port);
      for (int i = 0; i < 3; ++i) {
        c.send(signed_pp(fresh_body()));
        const std::optional<reply> r = c.read();
        REQUIRE(r.has_value());
        CHECK(r->status == 202);
      }
      ++checked;
    }
    // Expect: 100-continue within the cap: Continue, then the answer.
    {
      const std::string b = fresh_body();
      raw c(port);
      c.send("POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
             std::to_string(b.size()) + "\r\nX-PerfectParser-Signature: " + sig(b) + "\r\n\r\n");
      const std::optional<reply> interim = c.read();
      REQUIRE(interim.has_value());
      CHECK(interim->status == 100);
      c.send(b);
      const std::optional<reply> r = c.read();
      REQUIRE(r.has_value());
      CHECK(r->status == 202);
      ++checked;
    }
    // Expect: 100-continue over the cap: 413 instead of Continue, and the connection closed.
    {
      const double before = metric(port, series(pp_route, 413));
      raw c(port);
      c.send("POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
             std::to_string(cap * 4) + "\r\nX-PerfectParser-Signature: " + sig("x") + "\r\n\r\n");
      const std::optional<reply> r = c.read();
      REQUIRE(r.has_value());
      CHECK(r->status == 413);
      CHECK(hookrx_test::contains(r->body, "body_too_large"));
      CHECK(c.closed_within(5s));
      CHECK(metric(port, series(pp_route, 413)) == before + 1);
      ++checked;
    }
    // Slow-loris header: the connection is closed at the read timeout, and counted as 408.
    {
      const double before = metric(port, series("other", 408));
      raw c(port);
      c.send("POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\n");
      CHECK(c.closed_within(10s));
      CHECK(eventually([&] { return metric(port, series("other", 408)) == before + 1; }));
      ++checked;
    }
    // Slow-loris body: the same, for a body that stops arriving.
    {
      const double before = metric(port, series(pp_route, 408));
      raw c(port);
      c.send("POST /webhooks/perfectparser HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nX-PerfectParser-Signature: " +
             sig("x") + "\r\n\r\n{\"event\":");
      CHECK(c.closed_within(10s));
      CHECK(eventually([&] { return metric(port, series(pp_route, 408)) == before + 1; }));
      ++checked;
    }
    // A connection that says nothing is closed after the idle timeout.
    {
      raw c(port);
      CHECK(c.closed_within(10s));
      ++checked;
    }

    CHECK(checked >= 40);
    // Still up and healthy, and every refusal counted by reason.
    CHECK_FALSE(s.exited());
    CHECK(get(port, "/healthz").status == 200);
    CHECK(metric(port,
                 R"(hookrx_verification_failures_total{provider="perfectparser",reason="malformed_signature"})") >= 4);
    CHECK(metric(port, R"(hookrx_verification_failures_total{provider="parashift",reason="credentials_mismatch"})") >=
          3);
    CHECK(metric(port, R"(hookrx_deliveries_total{provider="perfectparser",event="",outcome="invalid_json"})") >= 6);
    CHECK(metric(port,
                 R"(hookrx_deliveries_total{provider="perfectparser",event="account.renamed",outcome="queued"})") == 1);
    CHECK(s.stop() == 0);
  }
}
