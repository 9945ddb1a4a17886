// receiver: the whole pipeline (size cap, encoding, authentication, parsing, acceptance, response)
// through request_view, the status policy, the response bodies, and concurrent use.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <atomic>
#include <iterator>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hookrx/receiver.hpp"
#include "support.hpp"

using hookrx_test::contains;
using hookrx_test::hmac_sha256_hex;
using hookrx_test::signed_request;
using hookrx_test::test_request;

namespace {

const std::string secret = "wh_sec_r3c31v3rr3c31v3rr3c31v3rr3c3";
const std::string static_token = "static-token-for-tests";
const std::string ps_token = "Bearer ps_receiver_token_42";

std::string doc_body(const std::string& doc_id, bool test = false) {
  return R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":")" + doc_id +
         R"(","status":"completed")" + (test ? R"(,"test":true)" : "") + "}";
}

/// A document body padded with a "pad" field to exactly `size` bytes.
std::string doc_body_of_size(std::size_t size) {
  std::string body = R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":"doc_pad",)"
                     R"("status":"completed","pad":")";
  const std::size_t fixed = body.size() + 2;  // closing quote and brace
  REQUIRE(size >= fixed);
  body += std::string(size - fixed, 'p');
  body += "\"}";
  REQUIRE(body.size() == size);
  return body;
}

hookrx::receiver pp_receiver(hookrx::receiver_options options = {}, bool with_static = false) {
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {secret};
  if (with_static) creds.static_secrets = {static_token};
  auto rx = hookrx::receiver::create(std::move(creds), options);
  REQUIRE_MESSAGE(rx.has_value(), hookrx_test::why(rx));
  return std::move(rx).value();
}

hookrx::receiver ps_receiver() {
  hookrx::parashift_credentials creds;
  hookrx::header_credential auth;
  auth.accepted_values = {ps_token};
  creds.headers = {auth};
  creds.restrict_sources = true;
  auto rx = hookrx::receiver::create(std::move(creds));
  REQUIRE_MESSAGE(rx.has_value(), hookrx_test::why(rx));
  return std::move(rx).value();
}

struct error_body {
  std::string code;
  std::string message;
};

/// The {"error":{"code","message"}} of a response body; fails the test when it is not that.
error_body parse_error_body(const std::string& body) {
  INFO("response body: " << body);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(body).get(root) == simdjson::SUCCESS);
  std::string_view code;
  std::string_view message;
  REQUIRE(root["error"]["code"].get(code) == simdjson::SUCCESS);
  REQUIRE(root["error"]["message"].get(message) == simdjson::SUCCESS);
  return {std::string(code), std::string(message)};
}

bool is_json(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(body).get(root) == simdjson::SUCCESS;
}

/// Records every error the receiver reports.
struct error_log {
  std::mutex mu;
  std::vector<hookrx::error> errors;
  hookrx::receiver::error_handler handler() {
    return [this](const hookrx::request_view&, const hookrx::error& e) {
      std::lock_guard<std::mutex> lock(mu);
      errors.push_back(e);
    };
  }
};

/// An acceptor with a memory of keys: the second delivery of a key is a duplicate.
class dedup_acceptor final : public hookrx::acceptor {
 public:
  hookrx::result<hookrx::disposition> accept(hookrx::event&& ev, const hookrx::request_view&,
                                             const hookrx::dispatcher& handlers) override {
    std::lock_guard<std::mutex> lock(mu_);
    keys_.push_back(ev.key());
    if (!seen_.insert(ev.key()).second) return hookrx::disposition::duplicate;
    hookrx::status s = handlers.dispatch(ev);
    if (!s) {
      seen_.erase(ev.key());
      return s.error();
    }
    return hookrx::disposition::processed;
  }
  std::vector<std::string> keys() {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> seen_;
  std::vector<std::string> keys_;
};

}  // namespace

TEST_SUITE("receiver") {
  TEST_CASE("a valid delivery is processed with its handler run exactly once") {
    hookrx::receiver rx = pp_receiver();
    int calls = 0;
    std::string seen_doc;
    rx.on<hookrx::document_completed>([&](const hookrx::document_completed& doc) {
      ++calls;
      seen_doc = doc.document_id;
    });
    CHECK(rx.source() == hookrx::provider::perfectparser);
    const test_request req = signed_request(doc_body("doc_42"), secret);
    const auto outcome = rx.receive(req.view());
    REQUIRE_MESSAGE(outcome.has_value(), hookrx_test::why(outcome));
    CHECK(*outcome == hookrx::disposition::processed);
    CHECK(calls == 1);
    CHECK(seen_doc == "doc_42");

    const hookrx::response res = rx.handle(signed_request(doc_body("doc_43"), secret).view());
    CHECK(res.status == 200);
    CHECK(is_json(res.body));
    CHECK(hookrx::response::content_type == "application/json");
    CHECK(calls == 2);
  }

  TEST_CASE("a handler that passes another delivery to a receiver on the same thread keeps its own event") {
    // The receiver parses into one event per thread; a nested delivery must not parse into it.
    hookrx::receiver inner = pp_receiver();
    std::string inner_saw;
    inner.on<hookrx::document_completed>([&](const hookrx::document_completed& doc) { inner_saw = doc.document_id; });
    hookrx::receiver outer = pp_receiver();
    std::string before;
    std::string after;
    outer.on<hookrx::document_completed>(
        [&](const hookrx::document_completed& doc, const hookrx::delivery_context& ctx) {
          before = doc.document_id + " " + ctx.key();
          CHECK(inner.handle(signed_request(doc_body("doc_inner"), secret).view()).status == 200);
          after = doc.document_id + " " + ctx.key();
        });
    CHECK(outer.handle(signed_request(doc_body("doc_outer"), secret).view()).status == 200);
    CHECK(inner_saw == "doc_inner");
    CHECK(before == "doc_outer perfectparser:extraction.document_completed:ext_1:doc_outer");
    CHECK(after == before);
    // And the thread's event is usable again afterwards.
    CHECK(outer.handle(signed_request(doc_body("doc_next"), secret).view()).status == 200);
    CHECK(before == "doc_next perfectparser:extraction.document_completed:ext_1:doc_next");
  }

  TEST_CASE("a body over max_body_bytes is refused with 413 before anything else") {
    hookrx::receiver_options options;
    options.max_body_bytes = 256;
    hookrx::receiver rx = pp_receiver(options);
    CHECK(rx.options().max_body_bytes == 256);
    int calls = 0;
    rx.on_any([&](const hookrx::event&) { ++calls; });

    const hookrx::response over = rx.handle(signed_request(doc_body_of_size(257), secret).view());
    CHECK(over.status == 413);
    CHECK(parse_error_body(over.body).code == "body_too_large");
    // Unsigned too: the size cap comes before authentication.
    const auto unsigned_over = rx.receive(test_request(doc_body_of_size(10000)).view());
    REQUIRE_FALSE(unsigned_over.has_value());
    CHECK(unsigned_over.error().code() == hookrx::errc::body_too_large);
    CHECK(calls == 0);

    const hookrx::response at_cap = rx.handle(signed_request(doc_body_of_size(256), secret).view());
    INFO("response at the cap: " << at_cap.body);
    CHECK(at_cap.status == 200);
    CHECK(calls == 1);
  }

  TEST_CASE("an encoded body is refused with 415 before authentication") {
    hookrx::receiver rx = pp_receiver();
    int calls = 0;
    rx.on_any([&](const hookrx::event&) { ++calls; });
    for (const char* encoding : {"gzip", "GZIP", "br", "deflate"}) {
      INFO("Content-Encoding: " << encoding);
      test_request req = signed_request(doc_body("doc_1"), secret);
      req.header("Content-Encoding", encoding);
      const hookrx::response res = rx.handle(req.view());
      CHECK(res.status == 415);
      CHECK(parse_error_body(res.body).code == "unsupported_content_encoding");
      const auto unsigned_outcome = rx.receive(test_request("\x1f\x8b", {{"content-encoding", encoding}}).view());
      REQUIRE_FALSE(unsigned_outcome.has_value());
      CHECK(unsigned_outcome.error().code() == hookrx::errc::unsupported_content_encoding);
    }
    CHECK(calls == 0);
  }

  TEST_CASE("Content-Encoding identity is no encoding and is accepted") {
    hookrx::receiver rx = pp_receiver();
    test_request req = signed_request(doc_body("doc_1"), secret);
    req.header("Content-Encoding", "identity");
    CHECK(rx.handle(req.view()).status == 200);
  }

  TEST_CASE("each PerfectParser authentication failure is a 401 naming its code") {
    hookrx::receiver rx = pp_receiver({}, true);
    int calls = 0;
    rx.on_any([&](const hookrx::event&) { ++calls; });
    const std::string body = doc_body("doc_1");
    const std::string good = hmac_sha256_hex(secret, body);
    struct c {
      test_request req;
      const char* code;
    };
    const c cases[] = {
        {test_request(body, {{"X-Webhook-Secret", static_token}}), "missing_signature"},
        {test_request(body, {{"X-PerfectParser-Signature", "sha256=" + good}, {"X-Webhook-Secret", static_token}}),
         "malformed_signature"},
        {test_request(body, {{"X-PerfectParser-Signature", hmac_sha256_hex("wh_sec_other", body)},
                             {"X-Webhook-Secret", static_token}}),
         "signature_mismatch"},
        {test_request(body, {{"X-PerfectParser-Signature", good}}), "missing_static_secret"},
        {test_request(body, {{"X-PerfectParser-Signature", good}, {"X-Webhook-Secret", "static-token-for-test"}}),
         "static_secret_mismatch"},
    };
    for (const auto& x : cases) {
      INFO("expected code: " << x.code);
      const hookrx::response res = rx.handle(x.req.view());
      CHECK(res.status == 401);
      const error_body e = parse_error_body(res.body);
      CHECK(e.code == x.code);
      CHECK_FALSE(e.message.empty());
    }
    CHECK(calls == 0);
    // The same request with both headers right goes through.
    CHECK(
        rx.handle(test_request(body, {{"X-PerfectParser-Signature", good}, {"X-Webhook-Secret", static_token}}).view())
            .status == 200);
    CHECK(calls == 1);
  }

  TEST_CASE("authentication comes before parsing") {
    hookrx::receiver rx = pp_receiver();
    const auto outcome = rx.receive(test_request("not json at all").view());
    REQUIRE_FALSE(outcome.has_value());
    CHECK(outcome.error().code() == hookrx::errc::missing_signature);
  }

  TEST_CASE("a signed body that does not parse is a 400 naming the problem") {
    hookrx::receiver rx = pp_receiver();
    int calls = 0;
    rx.on_any([&](const hookrx::event&) { ++calls; });

    const hookrx::response bad_json = rx.handle(signed_request("{\"event\":", secret).view());
    CHECK(bad_json.status == 400);
    CHECK(parse_error_body(bad_json.body).code == "invalid_json");

    const hookrx::response missing = rx.handle(
        signed_request(R"({"event":"extraction.document_completed","extraction_id":"e","status":"completed"})", secret)
            .view());
    CHECK(missing.status == 400);
    const error_body m = parse_error_body(missing.body);
    CHECK(m.code == "missing_field");
    CHECK(contains(m.message, "document_id"));

    const hookrx::response wrong =
        rx.handle(signed_request(R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d",)"
                                 R"("status":"completed","page_count":"3"})",
                                 secret)
                      .view());
    CHECK(wrong.status == 400);
    const error_body w = parse_error_body(wrong.body);
    CHECK(w.code == "wrong_type");
    CHECK(contains(w.message, "page_count"));
    CHECK(calls == 0);
  }

  TEST_CASE("an unknown event is acknowledged and handed to on_unknown") {
    hookrx::receiver rx = pp_receiver();
    int unknown = 0;
    int typed = 0;
    rx.on_unknown([&](const hookrx::unknown_event& u, const hookrx::delivery_context& ctx) {
      ++unknown;
      CHECK(u.extraction_id == std::optional<std::string>("ext_1"));
      CHECK(ctx.ev.name() == "extraction.document_reprocessed");
    });
    rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) { ++typed; });
    const hookrx::response res = rx.handle(
        signed_request(R"({"event":"extraction.document_reprocessed","extraction_id":"ext_1"})", secret).view());
    CHECK(res.status >= 200);
    CHECK(res.status < 300);
    CHECK(unknown == 1);
    CHECK(typed == 0);
  }

  TEST_CASE("a vendor test delivery is acknowledged without running handlers") {
    hookrx::receiver rx = pp_receiver();
    int calls = 0;
    rx.on_any([&](const hookrx::event&) { ++calls; });
    const test_request req = signed_request(
        R"({"event":"extraction.job_completed","extraction_id":"ext_test_1","status":"completed","test":true})",
        secret);
    const auto outcome = rx.receive(req.view());
    REQUIRE_MESSAGE(outcome.has_value(), hookrx_test::why(outcome));
    CHECK(*outcome == hookrx::disposition::test_delivery);
    const hookrx::response res = rx.handle(req.view());
    CHECK(res.status >= 200);
    CHECK(res.status < 300);
    CHECK(calls == 0);
  }

  TEST_CASE("a vendor test delivery runs the handlers when dispatch_test_deliveries is set") {
    hookrx::receiver_options options;
    options.dispatch_test_deliveries = true;
    hookrx::receiver rx = pp_receiver(options);
    int calls = 0;
    rx.on<hookrx::job_completed>([&](const hookrx::job_completed& job) {
      ++calls;
      CHECK(job.extraction_id == "ext_test_1");
    });
    const auto outcome = rx.receive(
        signed_request(R"({"event":"extraction.job_completed","extraction_id":"ext_test_1","test":true})", secret)
            .view());
    REQUIRE_MESSAGE(outcome.has_value(), hookrx_test::why(outcome));
    CHECK(*outcome == hookrx::disposition::processed);
    CHECK(calls == 1);
  }

  TEST_CASE("a failing handler is a 500 that does not reveal what the handler said") {
    hookrx::receiver rx = pp_receiver();
    error_log log;
    rx.on_error(log.handler());
    rx.on<hookrx::document_completed>([](const hookrx::document_completed&) {
      throw std::runtime_error("postgres://admin:hunter2@db.internal refused");
    });
    const hookrx::response res = rx.handle(signed_request(doc_body("doc_1"), secret).view());
    CHECK(res.status == 500);
    CHECK(parse_error_body(res.body).code == "handler_failed");
    CHECK_FALSE(contains(res.body, "hunter2"));
    CHECK_FALSE(contains(res.body, "db.internal"));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0].code() == hookrx::errc::handler_failed);

    hookrx::receiver by_status = pp_receiver();
    by_status.on<hookrx::document_completed>([](const hookrx::document_completed&) -> hookrx::status {
      return hookrx::error(hookrx::errc::store_unavailable, "redis at 10.1.2.3 timed out");
    });
    const hookrx::response res2 = by_status.handle(signed_request(doc_body("doc_1"), secret).view());
    CHECK(res2.status == 500);
    CHECK(parse_error_body(res2.body).code == "handler_failed");
    CHECK_FALSE(contains(res2.body, "10.1.2.3"));
  }

  TEST_CASE("on_error hears about every rejected delivery and nothing else") {
    hookrx::receiver rx = pp_receiver();
    error_log log;
    rx.on_error(log.handler());
    int second = 0;
    rx.on_error([&](const hookrx::request_view& req, const hookrx::error&) {
      ++second;
      CHECK(req.body() == "{}");
    });

    (void)rx.receive(test_request("{}").view());
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0].code() == hookrx::errc::missing_signature);
    CHECK(second == 1);

    (void)rx.receive(signed_request("{}", "wh_sec_not_ours").view());
    REQUIRE(log.errors.size() == 2);
    CHECK(log.errors[1].code() == hookrx::errc::signature_mismatch);

    (void)rx.receive(signed_request("{}", secret).view());
    REQUIRE(log.errors.size() == 3);
    CHECK(log.errors[2].code() == hookrx::errc::missing_field);
    CHECK(second == 3);

    // Acknowledged deliveries are not errors.
    CHECK(rx.receive(signed_request(doc_body("doc_1"), secret).view()).has_value());
    CHECK(rx.receive(signed_request(doc_body("doc_2", true), secret).view()).has_value());
    CHECK(rx.receive(signed_request(R"({"event":"x.y","extraction_id":"e"})", secret).view()).has_value());
    CHECK(log.errors.size() == 3);
    for (const auto& e : log.errors) CHECK_FALSE(contains(e.message(), secret));
  }

  TEST_CASE("a custom acceptor set with accept_with receives every event and decides the disposition") {
    hookrx::receiver rx = pp_receiver();
    auto acceptor = std::make_shared<dedup_acceptor>();
    rx.accept_with(acceptor);
    int calls = 0;
    rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) { ++calls; });

    const test_request first = signed_request(doc_body("doc_1"), secret);
    const auto a = rx.receive(first.view());
    REQUIRE(a.has_value());
    CHECK(*a == hookrx::disposition::processed);

    const auto b = rx.receive(first.view());
    REQUIRE(b.has_value());
    CHECK(*b == hookrx::disposition::duplicate);
    const hookrx::response dup = rx.handle(first.view());
    CHECK(dup.status >= 200);
    CHECK(dup.status < 300);

    const auto c = rx.receive(signed_request(doc_body("doc_2"), secret).view());
    REQUIRE(c.has_value());
    CHECK(*c == hookrx::disposition::processed);

    CHECK(calls == 2);
    const std::vector<std::string> keys = acceptor->keys();
    CHECK(keys == std::vector<std::string>{"perfectparser:extraction.document_completed:ext_1:doc_1",
                                           "perfectparser:extraction.document_completed:ext_1:doc_1",
                                           "perfectparser:extraction.document_completed:ext_1:doc_1",
                                           "perfectparser:extraction.document_completed:ext_1:doc_2"});
    // A rejected delivery never reaches the acceptor.
    (void)rx.receive(signed_request(doc_body("doc_3"), "wh_sec_not_ours").view());
    CHECK(acceptor->keys().size() == 4);
  }

  TEST_CASE("an acceptor's failure is answered with its own status and no detail") {
    struct failing_acceptor final : hookrx::acceptor {
      hookrx::error failure;
      explicit failing_acceptor(hookrx::error e) : failure(std::move(e)) {}
      hookrx::result<hookrx::disposition> accept(hookrx::event&&, const hookrx::request_view&,
                                                 const hookrx::dispatcher&) override {
        return failure;
      }
    };
    const std::pair<hookrx::errc, int> cases[] = {{hookrx::errc::store_unavailable, 503},
                                                  {hookrx::errc::in_progress, 409}};
    for (const auto& c : cases) {
      INFO("code: " << std::string(hookrx::to_string(c.first)));
      hookrx::receiver rx = pp_receiver();
      error_log log;
      rx.on_error(log.handler());
      rx.accept_with(std::make_shared<failing_acceptor>(hookrx::error(c.first, "sqlite:/var/lib/hooks.db locked")));
      const hookrx::response res = rx.handle(signed_request(doc_body("doc_1"), secret).view());
      CHECK(res.status == c.second);
      CHECK(parse_error_body(res.body).code == hookrx::to_string(c.first));
      CHECK_FALSE(contains(res.body, "hooks.db"));
      REQUIRE(log.errors.size() == 1);
      CHECK(log.errors[0].code() == c.first);
    }
  }

  TEST_CASE("an acceptor that throws is a 500 and nothing escapes the receiver") {
    struct throwing_acceptor final : hookrx::acceptor {
      hookrx::result<hookrx::disposition> accept(hookrx::event&&, const hookrx::request_view&,
                                                 const hookrx::dispatcher&) override {
        throw std::runtime_error("inbox exploded");
      }
    };
    hookrx::receiver rx = pp_receiver();
    rx.accept_with(std::make_shared<throwing_acceptor>());
    hookrx::response res;
    CHECK_NOTHROW(res = rx.handle(signed_request(doc_body("doc_1"), secret).view()));
    CHECK(res.status == 500);
    CHECK_FALSE(contains(res.body, "exploded"));
  }

  TEST_CASE("an acceptor that throws something other than std::exception is a 500 too") {
    struct throwing_acceptor final : hookrx::acceptor {
      hookrx::result<hookrx::disposition> accept(hookrx::event&&, const hookrx::request_view&,
                                                 const hookrx::dispatcher&) override {
        throw 42;
      }
    };
    hookrx::receiver rx = pp_receiver();
    rx.accept_with(std::make_shared<throwing_acceptor>());
    hookrx::response res;
    CHECK_NOTHROW(res = rx.handle(signed_request(doc_body("doc_1"), secret).view()));
    CHECK(res.status == 500);
  }

  TEST_CASE("handle_async answers once, with what handle answers, early refusals and throws included") {
    struct throwing_acceptor final : hookrx::acceptor {
      hookrx::result<hookrx::disposition> accept(hookrx::event&&, const hookrx::request_view&,
                                                 const hookrx::dispatcher&) override {
        throw std::runtime_error("inbox exploded");
      }
    };
    const auto answer = [](const hookrx::receiver& rx, const test_request& req) {
      int calls = 0;
      hookrx::response got;
      rx.handle_async(req.view(), [&](hookrx::response r) {
        ++calls;
        got = std::move(r);
      });
      CHECK(calls == 1);
      return got;
    };
    hookrx::receiver rx = pp_receiver();
    error_log log;
    rx.on_error(log.handler());
    int handled = 0;
    rx.on<hookrx::document_completed>([&](const hookrx::document_completed&) { ++handled; });
    const test_request requests[] = {
        signed_request(doc_body("doc_1"), secret),                  // processed inline
        signed_request(doc_body("doc_2"), "wh_sec_not_ours"),       // 401
        signed_request("{not json", secret),                        // 400
        signed_request(doc_body("doc_3", true), secret),            // a test delivery
        signed_request(doc_body_of_size(2 * 1024 * 1024), secret),  // 413
    };
    for (const test_request& req : requests) {
      const hookrx::response async = answer(rx, req);
      const hookrx::response sync = rx.handle(req.view());
      CHECK(async.status == sync.status);
      CHECK(async.body == sync.body);
    }
    CHECK(handled == 2);            // doc_1, once by each path
    CHECK(log.errors.size() == 6);  // the three refusals, by each path

    rx.accept_with(std::make_shared<throwing_acceptor>());
    const hookrx::response thrown = answer(rx, signed_request(doc_body("doc_4"), secret));
    CHECK(thrown.status == 500);
    CHECK_FALSE(contains(thrown.body, "exploded"));
    CHECK(log.errors.size() == 7);
  }

  TEST_CASE("handle_async answers from the thread that completes the acceptor, after it returned") {
    // An acceptor that finishes later, as the inbox on SQLite does from its commit.
    struct later_acceptor final : hookrx::acceptor {
      std::vector<completion> pending;
      std::vector<std::string> keys;
      hookrx::result<hookrx::disposition> accept(hookrx::event&&, const hookrx::request_view&,
                                                 const hookrx::dispatcher&) override {
        return hookrx::error(hookrx::errc::handler_failed, "the synchronous path is not used here");
      }
      void accept_async(hookrx::event&& ev, const hookrx::request_view&, const hookrx::dispatcher&,
                        completion done) override {
        keys.emplace_back(ev.key());
        pending.push_back(std::move(done));
      }
    };
    hookrx::receiver rx = pp_receiver();
    auto acceptor = std::make_shared<later_acceptor>();
    rx.accept_with(acceptor);
    error_log log;
    rx.on_error(log.handler());
    const test_request a = signed_request(doc_body("doc_a"), secret);
    const test_request b = signed_request(doc_body("doc_b"), secret);
    std::vector<int> statuses;
    for (const test_request* req : {&a, &b}) {
      rx.handle_async(req->view(), [&](hookrx::response r) { statuses.push_back(r.status); });
    }
    CHECK(statuses.empty());  // nothing answered before the acceptor completes
    REQUIRE(acceptor->pending.size() == 2);
    CHECK(acceptor->keys == std::vector<std::string>{"perfectparser:extraction.document_completed:ext_1:doc_a",
                                                     "perfectparser:extraction.document_completed:ext_1:doc_b"});
    std::thread([&] {
      acceptor->pending[1](hookrx::error(hookrx::errc::store_unavailable, "sqlite: disk I/O error"));
      acceptor->pending[0](hookrx::disposition::queued);
      acceptor->pending[0](hookrx::disposition::duplicate);  // a second completion is ignored
    }).join();
    CHECK(statuses == std::vector<int>{503, 202});
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0].code() == hookrx::errc::store_unavailable);
  }

  TEST_CASE("an on_error callback that throws does not change the answer") {
    hookrx::receiver rx = pp_receiver();
    int later = 0;
    rx.on_error([](const hookrx::request_view&, const hookrx::error&) { throw std::runtime_error("logger down"); });
    rx.on_error([&](const hookrx::request_view&, const hookrx::error&) { ++later; });
    hookrx::response res;
    CHECK_NOTHROW(res = rx.handle(test_request(doc_body("doc_1")).view()));
    CHECK(res.status == 401);
    CHECK(parse_error_body(res.body).code == "missing_signature");
    CHECK(later == 1);
  }

  TEST_CASE("Parashift deliveries are checked for source and credentials end to end") {
    hookrx::receiver rx = ps_receiver();
    CHECK(rx.source() == hookrx::provider::parashift);
    std::vector<std::int64_t> docs;
    rx.on<hookrx::document_event>([&](const hookrx::document_event& d) { docs.push_back(d.document_id.value_or(-1)); });
    const std::string body = R"({"id":"107786","type":"documents","attributes":{"status":"done","document_id":107786,)"
                             R"("updated_at":"2021-05-12T10:07:00.000Z"},"topic":"processing-finished"})";

    const hookrx::response outside = rx.handle(test_request(body, {{"Authorization", ps_token}}, "203.0.113.9").view());
    CHECK(outside.status == 403);
    CHECK(parse_error_body(outside.body).code == "source_not_allowed");

    const hookrx::response missing = rx.handle(test_request(body, {}, "34.65.1.2").view());
    CHECK(missing.status == 401);
    CHECK(parse_error_body(missing.body).code == "missing_credentials");

    const hookrx::response wrong =
        rx.handle(test_request(body, {{"Authorization", "Bearer nope"}}, "34.65.1.2").view());
    CHECK(wrong.status == 401);
    CHECK(parse_error_body(wrong.body).code == "credentials_mismatch");
    CHECK_FALSE(contains(wrong.body, ps_token));

    const hookrx::response ok = rx.handle(test_request(body, {{"Authorization", ps_token}}, "34.65.1.2").view());
    CHECK(ok.status == 200);
    CHECK(docs == std::vector<std::int64_t>{107786});
  }

  TEST_CASE("a receiver without credentials is refused at creation") {
    const auto pp = hookrx::receiver::create(hookrx::perfectparser_credentials{});
    REQUIRE_FALSE(pp.has_value());
    CHECK(pp.error().code() == hookrx::errc::invalid_config);
    const auto ps = hookrx::receiver::create(hookrx::parashift_credentials{});
    REQUIRE_FALSE(ps.has_value());
    CHECK(ps.error().code() == hookrx::errc::invalid_config);
  }

  TEST_CASE("every error code maps to its HTTP status") {
    using hookrx::errc;
    const std::pair<errc, int> table[] = {
        {errc::body_too_large, 413},
        {errc::unsupported_content_encoding, 415},
        {errc::missing_signature, 401},
        {errc::malformed_signature, 401},
        {errc::signature_mismatch, 401},
        {errc::missing_static_secret, 401},
        {errc::static_secret_mismatch, 401},
        {errc::missing_credentials, 401},
        {errc::credentials_mismatch, 401},
        {errc::source_not_allowed, 403},
        {errc::invalid_json, 400},
        {errc::missing_field, 400},
        {errc::wrong_type, 400},
        {errc::handler_failed, 500},
        {errc::store_unavailable, 503},
        {errc::in_progress, 409},
        {errc::not_found, 404},
        {errc::invalid_config, 500},
    };
    REQUIRE(std::size(table) == static_cast<std::size_t>(errc::invalid_config) + 1);
    for (const auto& entry : table) {
      INFO("code: " << std::string(hookrx::to_string(entry.first)));
      CHECK(hookrx::http_status(entry.first) == entry.second);
    }
  }

  TEST_CASE("every error response is JSON with the code and a message") {
    for (int i = 0; i <= static_cast<int>(hookrx::errc::invalid_config); ++i) {
      const auto code = static_cast<hookrx::errc>(i);
      INFO("code: " << std::string(hookrx::to_string(code)));
      const hookrx::response res = hookrx::make_response(hookrx::result<hookrx::disposition>(code));
      CHECK(res.status == hookrx::http_status(code));
      const error_body e = parse_error_body(res.body);
      CHECK(e.code == hookrx::to_string(code));
      CHECK_FALSE(e.message.empty());
    }
  }

  TEST_CASE("an error detail with JSON metacharacters still gives a valid JSON body") {
    const std::string nasty = "field\"name\\with\ncontrol\x01\x1f and </script> and \xC3\xA9";
    for (auto code : {hookrx::errc::missing_field, hookrx::errc::wrong_type, hookrx::errc::invalid_json,
                      hookrx::errc::invalid_config}) {
      INFO("code: " << std::string(hookrx::to_string(code)));
      const hookrx::response res =
          hookrx::make_response(hookrx::result<hookrx::disposition>(hookrx::error(code, nasty)));
      CHECK(parse_error_body(res.body).code == hookrx::to_string(code));
    }
    // Invalid UTF-8 in a detail must not make the body invalid JSON either.
    const hookrx::response bad_utf8 = hookrx::make_response(
        hookrx::result<hookrx::disposition>(hookrx::error(hookrx::errc::missing_field, "a\xFF\xC0z")));
    CHECK(parse_error_body(bad_utf8.body).code == "missing_field");
  }

  TEST_CASE("every disposition is answered with 2xx and a JSON body") {
    for (auto d : {hookrx::disposition::processed, hookrx::disposition::queued, hookrx::disposition::duplicate,
                   hookrx::disposition::test_delivery}) {
      INFO("disposition: " << std::string(hookrx::to_string(d)));
      const hookrx::response res = hookrx::make_response(hookrx::result<hookrx::disposition>(d));
      CHECK(res.status >= 200);
      CHECK(res.status < 300);
      CHECK(is_json(res.body));
    }
  }

  TEST_CASE("no response body ever contains a configured secret") {
    hookrx::receiver rx = pp_receiver({}, true);
    rx.on_any([](const hookrx::event&) { throw std::runtime_error(secret); });
    const std::string body = doc_body("doc_1");
    const std::string good = hmac_sha256_hex(secret, body);
    const std::vector<test_request> requests = {
        test_request(body),
        test_request(body, {{"X-PerfectParser-Signature", "x"}}),
        test_request(body, {{"X-PerfectParser-Signature", std::string(64, 'f')}, {"X-Webhook-Secret", static_token}}),
        test_request(body, {{"X-PerfectParser-Signature", good}}),
        test_request(body, {{"X-PerfectParser-Signature", good}, {"X-Webhook-Secret", "static-token-for-testZ"}}),
        test_request(body,
                     {{"X-PerfectParser-Signature", good}, {"X-Webhook-Secret", static_token}}),  // handler throws
        test_request(body, {{"X-PerfectParser-Signature", good}, {"Content-Encoding", "gzip"}}),
    };
    for (const auto& req : requests) {
      const hookrx::response res = rx.handle(req.view());
      INFO("status " << res.status << " body: " << res.body);
      CHECK(res.status >= 400);
      CHECK_FALSE(contains(res.body, secret));
      CHECK_FALSE(contains(res.body, static_token));
      CHECK_FALSE(contains(res.body, good));
    }
  }

  TEST_CASE("one receiver shared by 8 threads counts every handler call exactly") {
    hookrx::receiver rx = pp_receiver();
    std::atomic<int> handled{0};
    std::atomic<int> unknown{0};
    rx.on<hookrx::document_completed>([&](const hookrx::document_completed& doc) {
      if (doc.extraction_id == "ext_1") handled.fetch_add(1);
    });
    rx.on_unknown([&](const hookrx::unknown_event&) { unknown.fetch_add(1); });
    constexpr int threads = 8;
    constexpr int per_thread = 1000;
    std::atomic<int> wrong_status{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          const std::string id = "doc_" + std::to_string(t) + "_" + std::to_string(i);
          const bool forged = i % 4 == 3;
          const test_request req = signed_request(doc_body(id), forged ? "wh_sec_forger" : secret);
          const hookrx::response res = rx.handle(req.view());
          if (res.status != (forged ? 401 : 200)) wrong_status.fetch_add(1);
        }
      });
    }
    for (auto& th : pool) th.join();
    CHECK(wrong_status.load() == 0);
    CHECK(handled.load() == threads * per_thread * 3 / 4);
    CHECK(unknown.load() == 0);
  }

}  // TEST_SUITE

TEST_SUITE("receiver refusals made by the server") {
  TEST_CASE("a request the server refused is answered like the core's own refusal and reaches on_error") {
    hookrx::receiver_options options;
    options.max_body_bytes = 512;
    hookrx::receiver rx = pp_receiver(options);
    std::vector<std::string> seen;
    rx.on_error([&](const hookrx::request_view& req, const hookrx::error& e) {
      seen.push_back(std::string(hookrx::to_string(e.code())) + "|" + e.detail() + "|" + std::string(req.peer()));
    });
    const hookrx::header_view headers[] = {{"Content-Length", "100000"}};
    const hookrx::request_view head({}, headers, "198.51.100.4");
    const hookrx::response res = rx.refuse(head, hookrx::errc::body_too_large);
    CHECK(res.status == 413);
    CHECK(parse_error_body(res.body).message.find("at most 512 bytes") != std::string::npos);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == "body_too_large|at most 512 bytes|198.51.100.4");

    const hookrx::response encoded = rx.refuse(head, hookrx::errc::unsupported_content_encoding);
    CHECK(encoded.status == 415);
    CHECK(seen.size() == 2);
  }
}
