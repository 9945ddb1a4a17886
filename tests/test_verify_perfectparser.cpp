// perfectparser_verifier: every verdict of spec/perfectparser.md, rotation, configuration checks,
// secrecy of error messages, and sharing one verifier across threads.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "hookrx/verify.hpp"
#include "support.hpp"

using hookrx_test::contains;
using hookrx_test::hmac_sha256_hex;
using hookrx_test::signed_request;
using hookrx_test::test_request;
using hookrx_test::to_upper;

namespace {

const std::string secret_new = "wh_sec_n3wn3wn3wn3wn3wn3wn3wn3wn3wn3";
const std::string secret_old = "wh_sec_0ld0ld0ld0ld0ld0ld0ld0ld0ld0l";
const std::string static_token = "zapier-token-123";
const std::string body =
    R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":"doc_1","status":"completed"})";

hookrx::perfectparser_verifier make(std::vector<std::string> signing, std::vector<std::string> statics = {}) {
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = std::move(signing);
  creds.static_secrets = std::move(statics);
  auto v = hookrx::perfectparser_verifier::create(std::move(creds));
  REQUIRE_MESSAGE(v.has_value(), hookrx_test::why(v));
  return std::move(v).value();
}

test_request with_signature(std::string sig) {
  test_request r(body);
  r.header("X-PerfectParser-Signature", std::move(sig));
  return r;
}

/// The error code of a failed verification; fails the test if it succeeded.
hookrx::errc verdict_of(const hookrx::perfectparser_verifier& v, const test_request& r) {
  const auto verdict = v.verify(r.view());
  REQUIRE_FALSE(verdict.has_value());
  return verdict.error().code();
}

}  // namespace

TEST_SUITE("verify perfectparser") {
  TEST_CASE("a body signed with the configured secret is valid and names secret 0") {
    const auto v = make({secret_new});
    const auto verdict = v.verify(signed_request(body, secret_new).view());
    REQUIRE_MESSAGE(verdict.has_value(), hookrx_test::why(verdict));
    CHECK(verdict->secret_index == 0);
  }

  TEST_CASE("a delivery without the signature header is missing_signature") {
    const auto v = make({secret_new});
    CHECK(verdict_of(v, test_request(body)) == hookrx::errc::missing_signature);
    // A header of another name is not the signature.
    CHECK(verdict_of(v, test_request(body, {{"X-Signature", hmac_sha256_hex(secret_new, body)}})) ==
          hookrx::errc::missing_signature);
  }

  TEST_CASE("a signature header that is not exactly 64 hex digits is malformed_signature") {
    const auto v = make({secret_new});
    const std::string good = hmac_sha256_hex(secret_new, body);
    std::string non_hex = good;
    non_hex[10] = 'g';
    std::string inner_space = good;
    inner_space[32] = ' ';
    const std::vector<std::string> malformed = {
        "",
        "   ",
        good.substr(0, 63),
        good + "0",
        good + good,
        non_hex,
        inner_space,
        "sha256=" + good,
        "0x" + good.substr(2),
        good.substr(0, 62) + "\xC3\xA9",  // 64 bytes, last two not hex
        std::string(64, 'z'),
        good.substr(0, 63) + std::string(1, '\0'),
    };
    for (const auto& sig : malformed) {
      INFO("signature header: [" << sig << "] (" << sig.size() << " bytes)");
      CHECK(verdict_of(v, with_signature(sig)) == hookrx::errc::malformed_signature);
    }
  }

  TEST_CASE("a well-formed signature no configured secret produced is signature_mismatch") {
    const auto v = make({secret_new});
    const std::string good = hmac_sha256_hex(secret_new, body);
    std::string flipped = good;
    flipped[0] = flipped[0] == '0' ? '1' : '0';
    CHECK(verdict_of(v, with_signature(flipped)) == hookrx::errc::signature_mismatch);
    CHECK(verdict_of(v, with_signature(std::string(64, '0'))) == hookrx::errc::signature_mismatch);
    // The right signature over another body.
    test_request other = signed_request(body + " ", secret_new);
    other.body = body;
    CHECK(verdict_of(v, other) == hookrx::errc::signature_mismatch);
    // The secret without its wh_sec_ prefix is another key.
    CHECK(verdict_of(v, signed_request(body, secret_new.substr(7))) == hookrx::errc::signature_mismatch);
  }

  TEST_CASE("hex digits of the signature compare by value whatever their case") {
    const auto v = make({secret_new});
    const std::string good = hmac_sha256_hex(secret_new, body);
    CHECK(v.verify(with_signature(to_upper(good)).view()).has_value());
    std::string mixed = good;
    for (std::size_t i = 0; i < mixed.size(); i += 2) mixed[i] = to_upper(mixed.substr(i, 1))[0];
    CHECK(v.verify(with_signature(mixed).view()).has_value());
  }

  TEST_CASE("optional whitespace around the signature header value is ignored") {
    const auto v = make({secret_new});
    const std::string good = hmac_sha256_hex(secret_new, body);
    CHECK(v.verify(with_signature(" " + good).view()).has_value());
    CHECK(v.verify(with_signature(good + " ").view()).has_value());
    CHECK(v.verify(with_signature("\t " + good + " \t").view()).has_value());
  }

  TEST_CASE("the signature header is found whatever the case of its name") {
    const auto v = make({secret_new});
    const test_request r(body, {{"x-perfectparser-signature", hmac_sha256_hex(secret_new, body)}});
    CHECK(v.verify(r.view()).has_value());
  }

  TEST_CASE("a delivery signed with the old secret is valid while both are configured") {
    const auto v = make({secret_new, secret_old});
    const auto by_old = v.verify(signed_request(body, secret_old).view());
    REQUIRE(by_old.has_value());
    CHECK(by_old->secret_index == 1);
    const auto by_new = v.verify(signed_request(body, secret_new).view());
    REQUIRE(by_new.has_value());
    CHECK(by_new->secret_index == 0);
  }

  TEST_CASE("a delivery signed with the old secret is refused once only the new one is configured") {
    const auto v = make({secret_new});
    CHECK(verdict_of(v, signed_request(body, secret_old)) == hookrx::errc::signature_mismatch);
  }

  TEST_CASE("an empty body is signed and verified like any other") {
    const auto v = make({secret_new});
    CHECK(v.verify(signed_request("", secret_new).view()).has_value());
    CHECK(verdict_of(v, with_signature(hmac_sha256_hex(secret_new, ""))) == hookrx::errc::signature_mismatch);
  }

  TEST_CASE("a static secret alone authenticates when no signing secret is configured") {
    const auto v = make({}, {static_token});
    const auto ok = v.verify(test_request(body, {{"X-Webhook-Secret", static_token}}).view());
    REQUIRE(ok.has_value());
    CHECK(ok->secret_index == -1);
    CHECK(verdict_of(v, test_request(body)) == hookrx::errc::missing_static_secret);
    CHECK(verdict_of(v, test_request(body, {{"X-Webhook-Secret", static_token + "x"}})) ==
          hookrx::errc::static_secret_mismatch);
    CHECK(verdict_of(v, test_request(body, {{"X-Webhook-Secret", static_token.substr(0, 8)}})) ==
          hookrx::errc::static_secret_mismatch);
    CHECK(verdict_of(v, test_request(body, {{"X-Webhook-Secret", ""}})) == hookrx::errc::static_secret_mismatch);
    CHECK(verdict_of(v, test_request(body, {{"X-Webhook-Secret", to_upper(static_token)}})) ==
          hookrx::errc::static_secret_mismatch);
  }

  TEST_CASE("any of several configured static secrets is accepted") {
    const auto v = make({}, {"static-one-aaaa", "static-two-bbbbbbbbbbbbbbbbbbbbbbbbbb"});
    CHECK(v.verify(test_request(body, {{"X-Webhook-Secret", "static-one-aaaa"}}).view()).has_value());
    CHECK(v.verify(test_request(body, {{"X-Webhook-Secret", "static-two-bbbbbbbbbbbbbbbbbbbbbbbbbb"}}).view())
              .has_value());
    CHECK(verdict_of(v, test_request(body, {{"X-Webhook-Secret", "static-three-cc"}})) ==
          hookrx::errc::static_secret_mismatch);
  }

  TEST_CASE("with both kinds of secret configured both headers are required") {
    const auto v = make({secret_new}, {static_token});
    const std::string good = hmac_sha256_hex(secret_new, body);

    const auto both =
        v.verify(test_request(body, {{"X-PerfectParser-Signature", good}, {"X-Webhook-Secret", static_token}}).view());
    REQUIRE(both.has_value());
    CHECK(both->secret_index == 0);

    SUBCASE("a valid signature with a wrong static secret is static_secret_mismatch") {
      CHECK(verdict_of(v, test_request(
                              body, {{"X-PerfectParser-Signature", good}, {"X-Webhook-Secret", "wrong-token-999"}})) ==
            hookrx::errc::static_secret_mismatch);
    }
    SUBCASE("a valid signature without the static secret is missing_static_secret") {
      CHECK(verdict_of(v, test_request(body, {{"X-PerfectParser-Signature", good}})) ==
            hookrx::errc::missing_static_secret);
    }
    SUBCASE("a valid static secret with a wrong signature is signature_mismatch") {
      CHECK(verdict_of(v, test_request(body, {{"X-PerfectParser-Signature", std::string(64, 'a')},
                                              {"X-Webhook-Secret", static_token}})) ==
            hookrx::errc::signature_mismatch);
    }
    SUBCASE("a valid static secret without a signature is missing_signature") {
      CHECK(verdict_of(v, test_request(body, {{"X-Webhook-Secret", static_token}})) == hookrx::errc::missing_signature);
    }
    SUBCASE("a delivery with neither header is refused") {
      const auto code = verdict_of(v, test_request(body));
      CHECK((code == hookrx::errc::missing_signature || code == hookrx::errc::missing_static_secret));
    }
  }

  TEST_CASE("create refuses a configuration without any credential") {
    const auto v = hookrx::perfectparser_verifier::create(hookrx::perfectparser_credentials{});
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error().code() == hookrx::errc::invalid_config);
  }

  TEST_CASE("an explicitly unauthenticated verifier accepts a bare request") {
    hookrx::perfectparser_credentials creds;
    creds.allow_unauthenticated = true;
    const auto v = hookrx::perfectparser_verifier::create(creds);
    REQUIRE_MESSAGE(v.has_value(), hookrx_test::why(v));
    const auto ok = v->verify(hookrx::request_view{});
    REQUIRE(ok.has_value());
    CHECK(ok->secret_index == -1);
    CHECK(v->verify(test_request(body).view()).has_value());
  }

  TEST_CASE("allow_unauthenticated does not weaken a configured secret") {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {secret_new};
    creds.allow_unauthenticated = true;
    const auto v = hookrx::perfectparser_verifier::create(creds);
    REQUIRE(v.has_value());
    const auto verdict = v->verify(test_request(body).view());
    REQUIRE_FALSE(verdict.has_value());
    CHECK(verdict.error().code() == hookrx::errc::missing_signature);
  }

  TEST_CASE("create refuses an empty signing secret") {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {secret_new, ""};
    const auto v = hookrx::perfectparser_verifier::create(creds);
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error().code() == hookrx::errc::invalid_config);
  }

  TEST_CASE("create refuses a static secret shorter than 8 characters") {
    for (const std::string& short_token : {std::string(), std::string("1234567"), std::string("a")}) {
      INFO("static secret length " << short_token.size());
      hookrx::perfectparser_credentials creds;
      creds.static_secrets = {short_token};
      const auto v = hookrx::perfectparser_verifier::create(creds);
      REQUIRE_FALSE(v.has_value());
      CHECK(v.error().code() == hookrx::errc::invalid_config);
      CHECK_FALSE(contains(v.error().message(), "1234567"));
    }
    hookrx::perfectparser_credentials eight;
    eight.static_secrets = {"12345678"};
    const auto v = hookrx::perfectparser_verifier::create(eight);
    CHECK(v.has_value());
  }

  TEST_CASE("no verification error reveals a configured secret or the expected signature") {
    const std::string static2 = "second-static-token";
    const auto v = make({secret_new, secret_old}, {static_token, static2});
    const std::string expected_new = hmac_sha256_hex(secret_new, body);
    const std::string expected_old = hmac_sha256_hex(secret_old, body);
    const std::vector<test_request> failing = {
        test_request(body),
        test_request(body, {{"X-PerfectParser-Signature", "nonsense"}}),
        test_request(body, {{"X-PerfectParser-Signature", std::string(64, 'b')}, {"X-Webhook-Secret", static_token}}),
        test_request(body, {{"X-PerfectParser-Signature", expected_new}}),
        test_request(body, {{"X-PerfectParser-Signature", expected_old}, {"X-Webhook-Secret", "zapier-token-12"}}),
    };
    for (const auto& r : failing) {
      const auto verdict = v.verify(r.view());
      REQUIRE_FALSE(verdict.has_value());
      const std::string msg = verdict.error().message();
      INFO("message: " << msg);
      for (const std::string& secret : {secret_new, secret_old, static_token, static2, expected_new, expected_old,
                                        to_upper(expected_new), to_upper(expected_old)}) {
        CHECK_FALSE(contains(msg, secret));
        CHECK_FALSE(contains(verdict.error().detail(), secret));
      }
    }
  }

  TEST_CASE("configuration errors do not reveal the secrets either") {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {secret_new, ""};
    creds.static_secrets = {"Qz7!xk"};
    const auto v = hookrx::perfectparser_verifier::create(creds);
    REQUIRE_FALSE(v.has_value());
    CHECK_FALSE(contains(v.error().message(), secret_new));
    CHECK_FALSE(contains(v.error().message(), "Qz7!xk"));
  }

  TEST_CASE("a verifier moved to another object keeps verifying") {
    auto v = make({secret_new});
    hookrx::perfectparser_verifier moved(std::move(v));
    CHECK(moved.verify(signed_request(body, secret_new).view()).has_value());
    auto other = make({secret_old});
    other = std::move(moved);
    CHECK(other.verify(signed_request(body, secret_new).view()).has_value());
    CHECK_FALSE(other.verify(signed_request(body, secret_old).view()).has_value());
  }

  TEST_CASE("one verifier shared by 8 threads gives the right verdict every time") {
    const auto v = make({secret_new, secret_old});
    constexpr int threads = 8;
    constexpr int per_thread = 2000;
    std::atomic<int> wrong{0};
    std::atomic<int> done{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        // Each thread has its own bodies, so that a shared MAC context would mix them up.
        const std::string my_body = body + std::string(static_cast<std::size_t>(t) * 7 + 1, ' ');
        const test_request good_new = signed_request(my_body, secret_new);
        const test_request good_old = signed_request(my_body, secret_old);
        const test_request bad = signed_request(my_body, "wh_sec_someone_else");
        const hookrx::request_view views[] = {good_new.view(), good_old.view(), bad.view()};
        for (int i = 0; i < per_thread; ++i) {
          const int which = (i + t) % 3;
          const auto verdict = v.verify(views[which]);
          const bool right = which == 2 ? (!verdict && verdict.error().code() == hookrx::errc::signature_mismatch)
                                        : (verdict && verdict->secret_index == which);
          if (!right) wrong.fetch_add(1);
          done.fetch_add(1);
        }
      });
    }
    for (auto& th : pool) th.join();
    CHECK(done.load() == threads * per_thread);
    CHECK(wrong.load() == 0);
  }

}  // TEST_SUITE
