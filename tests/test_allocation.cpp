// perfectparser_verifier::verify() makes no C++ heap allocation once warmed up.
//
// The global operator new is replaced for the whole test binary (tests/counting_new.cpp), which
// counts calls per thread; a case reads the count before and after the call it measures. OpenSSL
// allocates through its own malloc wrappers, which this does not see: the claim checked here is
// "hookrx itself allocates nothing per request", not "nothing does".
#include <doctest/doctest.h>

#include <malloc.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "counting_new.hpp"
#include "hookrx/events.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/verify.hpp"
#include "support.hpp"

namespace {

/// Counts the C++ heap allocations made on this thread while it lives.
class allocation_counter {
 public:
  allocation_counter() noexcept : start_(hookrx_test::new_calls_on_this_thread()) {}
  [[nodiscard]] std::size_t stop() const noexcept { return hookrx_test::new_calls_on_this_thread() - start_; }

 private:
  std::size_t start_;
};

const bool counts = hookrx_test::counting_new_available();

/// Heap bytes in use (glibc: small chunks in use plus mmapped ones). Meaningless under sanitizers,
/// whose allocators replace glibc's; the cases that read it are skipped there with `counts`.
std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

}  // namespace

namespace {

const std::string secret = "wh_sec_a1l0c4t10na1l0c4t10na1l0c4t1";

std::string body_of_1kib() {
  std::string body = R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":"doc_1",)"
                     R"("status":"completed","pad":")";
  body += std::string(1024 - body.size() - 2, 'x');
  body += "\"}";
  return body;
}

/// A PerfectParser receiver for `secret`, with no handler yet.
hookrx::receiver make_receiver() {
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {secret};
  auto rx = hookrx::receiver::create(creds);
  REQUIRE(rx.has_value());
  return std::move(rx).value();
}

/// The C++ allocations one receive() of `view` makes; `outcome` is what it returned.
std::size_t allocations_in_receive(const hookrx::receiver& rx, const hookrx::request_view& view,
                                   hookrx::result<hookrx::disposition>& outcome) {
  const allocation_counter counter;
  outcome = rx.receive(view);
  return counter.stop();
}

hookrx::perfectparser_verifier make_verifier(std::vector<std::string> secrets) {
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = std::move(secrets);
  auto v = hookrx::perfectparser_verifier::create(std::move(creds));
  REQUIRE(v.has_value());
  return std::move(v).value();
}

}  // namespace

TEST_SUITE("allocation") {
  TEST_CASE("the allocation counter sees an allocation made in its scope" * doctest::skip(!counts)) {
    std::size_t seen = 0;
    {
      allocation_counter counter;
      // Through a volatile pointer, so that the compiler cannot elide the new/delete pair.
      std::string* volatile p = new std::string(100, 'x');
      seen = counter.stop();
      delete p;
    }
    CHECK(seen >= 1);
  }

  TEST_CASE("verifying a valid 1 KiB delivery makes no C++ heap allocation" * doctest::skip(!counts)) {
    const auto v = make_verifier({"wh_sec_other_secret_first", secret});
    const std::string body = body_of_1kib();
    REQUIRE(body.size() == 1024);
    const hookrx_test::test_request req = hookrx_test::signed_request(body, secret);
    const hookrx::request_view view = req.view();
    {
      const auto warm = v.verify(view);
      REQUIRE(warm.has_value());
    }
    bool ok = false;
    std::size_t count = 0;
    {
      allocation_counter counter;
      const auto verdict = v.verify(view);
      ok = verdict.has_value() && verdict->secret_index == 1;
      count = counter.stop();
    }
    CHECK(ok);
    CHECK(count == 0);
  }

  TEST_CASE("refusing a delivery makes no C++ heap allocation either" * doctest::skip(!counts)) {
    const auto v = make_verifier({secret});
    const std::string body = body_of_1kib();
    const hookrx_test::test_request mismatch = hookrx_test::signed_request(body, "wh_sec_forger");
    const hookrx_test::test_request malformed(body, {{"X-PerfectParser-Signature", "sha256=abc"}});
    const hookrx_test::test_request missing(body);
    for (const auto* req : {&mismatch, &malformed, &missing}) {
      const hookrx::request_view view = req->view();
      { (void)v.verify(view); }
      hookrx::errc code = hookrx::errc::invalid_config;
      bool refused = false;
      std::size_t count = 0;
      {
        allocation_counter counter;
        const auto verdict = v.verify(view);
        refused = !verdict.has_value();
        if (refused) code = verdict.error().code();
        count = counter.stop();
      }
      INFO("verdict: " << std::string(hookrx::to_string(code)));
      CHECK(refused);
      CHECK(count == 0);
    }
  }

  TEST_CASE("parsing into a reused event allocates nothing for a body of the same shape" * doctest::skip(!counts)) {
    // String fields longer than the small-string buffer, so that a fresh parse allocates for each.
    const std::string first =
        R"({"event":"extraction.document_completed","extraction_id":"ext_7f3a9c2e41b84d05",)"
        R"("document_id":"doc_2b91e0d4c7a5f318","status":"completed","parser_id":"prs_invoice_eu_v3",)"
        R"("filename":"invoice-2026-000123.pdf","created_at":"2026-06-20T10:00:41.000Z",)"
        R"("extracted_data":{"invoice_number":"INV-2026-000123"}})";
    std::string second = first;
    second.replace(second.find("doc_2b91"), 8, "doc_9999");
    hookrx::event ev;
    REQUIRE(hookrx::parse_event(hookrx::provider::perfectparser, first, ev));
    std::size_t fresh = 0;
    {
      allocation_counter counter;
      const auto ev2 = hookrx::parse_event(hookrx::provider::perfectparser, second);
      fresh = counter.stop();
      REQUIRE(ev2.has_value());
    }
    std::size_t reused = 0;
    bool ok = false;
    {
      allocation_counter counter;
      ok = static_cast<bool>(hookrx::parse_event(hookrx::provider::perfectparser, second, ev));
      reused = counter.stop();
    }
    REQUIRE(ok);
    CHECK(ev.get_if<hookrx::document_completed>()->document_id == "doc_9999e0d4c7a5f318");
    CHECK(fresh >= 8);  // the comparison means something: a fresh event allocates its strings
    CHECK(reused == 0);
  }

  TEST_CASE("a receiver takes in its second delivery without allocating" * doctest::skip(!counts)) {
    hookrx::receiver rx = make_receiver();
    int calls = 0;
    rx.on<hookrx::document_completed>([&calls](const hookrx::document_completed&) { ++calls; });
    const hookrx_test::test_request a = hookrx_test::signed_request(body_of_1kib(), secret);
    std::string other = body_of_1kib();
    other.replace(other.find("doc_1"), 5, "doc_2");
    const hookrx_test::test_request b = hookrx_test::signed_request(other, secret);
    REQUIRE(rx.handle(a.view()).status == 200);
    hookrx::result<hookrx::disposition> outcome = hookrx::errc::invalid_json;
    const std::size_t count = allocations_in_receive(rx, b.view(), outcome);
    CHECK((outcome.has_value() && *outcome == hookrx::disposition::processed));
    CHECK(calls == 2);
    CHECK(count == 0);  // the response body built from the outcome is the adapter's, not measured here
  }

  TEST_CASE("after an outsized delivery the receiver again takes in deliveries without allocating" *
            doctest::skip(!counts)) {
    // The thread's event lets go of its buffers after a body over 64 KiB; it must not then keep
    // starting afresh on every later delivery.
    hookrx::receiver rx = make_receiver();
    rx.on<hookrx::document_completed>([](const hookrx::document_completed&) {});
    // Ids longer than the small-string buffer, so that a payload started afresh allocates.
    std::string normal = body_of_1kib();
    normal.replace(normal.find("ext_1"), 5, "ext_7f3a9c2e41b84d05");
    normal.replace(normal.find("doc_1"), 5, "doc_2b91e0d4c7a5f318");
    std::string large = normal;
    large.insert(large.size() - 2, std::string(100 * 1024, 'y'));
    const hookrx_test::test_request big = hookrx_test::signed_request(large, secret);
    const hookrx_test::test_request small = hookrx_test::signed_request(normal, secret);
    REQUIRE(rx.receive(big.view()).has_value());
    REQUIRE(rx.receive(small.view()).has_value());
    REQUIRE(rx.receive(big.view()).has_value());
    REQUIRE(rx.receive(small.view()).has_value());
    hookrx::result<hookrx::disposition> outcome = hookrx::errc::invalid_json;
    CHECK(allocations_in_receive(rx, small.view(), outcome) == 0);
    CHECK(outcome.has_value());
  }

  TEST_CASE("a receiver takes in repeated 64 KiB deliveries without allocating" * doctest::skip(!counts)) {
    // 64 KiB is the largest body whose event and parser buffers a thread keeps.
    hookrx::receiver rx = make_receiver();
    rx.on<hookrx::document_completed>([](const hookrx::document_completed&) {});
    std::string body = body_of_1kib();
    body.insert(body.size() - 2, std::string(64 * 1024 - body.size(), 'y'));
    REQUIRE(body.size() == 64 * 1024);
    const hookrx_test::test_request request = hookrx_test::signed_request(body, secret);
    REQUIRE(rx.receive(request.view()).has_value());
    hookrx::result<hookrx::disposition> outcome = hookrx::errc::invalid_json;
    CHECK(allocations_in_receive(rx, request.view(), outcome) == 0);
    CHECK(outcome.has_value());
  }

  TEST_CASE("a thread does not keep the parser buffers an outsized body made it grow" * doctest::skip(!counts)) {
    // The parser's buffers take several bytes per byte of body: kept after a 1 MiB body, they
    // would hold megabytes in every server thread that ever read one.
    std::string body = body_of_1kib();
    const std::string small = body;
    body.insert(body.size() - 2, std::string(1024 * 1024, 'y'));
    REQUIRE(hookrx::parse_event(hookrx::provider::perfectparser, small).has_value());  // the parser exists
    const std::size_t before = heap_in_use();
    REQUIRE(hookrx::parse_event(hookrx::provider::perfectparser, body).has_value());  // event freed at once
    const std::size_t after = heap_in_use();
    CHECK(after < before + 256 * 1024);
  }

}  // TEST_SUITE
