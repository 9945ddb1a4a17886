// perfectparser_verifier::verify() makes no C++ heap allocation once warmed up.
//
// The global operator new is replaced for the whole test binary (tests/counting_new.cpp), which
// counts calls per thread; a case reads the count before and after the call it measures. OpenSSL
// allocates through its own malloc wrappers, which this does not see: the claim checked here is
// "hookrx itself allocates nothing per request", not "nothing does".
#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "counting_new.hpp"
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

}  // TEST_SUITE
