// The signature `hookrx sign` and `hookrx send` put in X-PerfectParser-Signature: it verifies
// against every valid vector of shared/vectors and equals an independent OpenSSL HMAC().
#include <doctest/doctest.h>
#include <simdjson.h>

#include <string>

#include "signing.hpp"
#include "support.hpp"

using hookrx_test::why;

namespace {
std::string to_lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}
}  // namespace

TEST_SUITE("signing") {
  TEST_CASE("the signature of each valid vector equals the vector's header in lowercase") {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    REQUIRE(parser.load(hookrx_test::shared_path("vectors/perfectparser_signatures.json")).get(root) ==
            simdjson::SUCCESS);
    int checked = 0;
    for (simdjson::dom::element v : root["vectors"].get_array()) {
      std::string_view expect;
      std::string_view header;
      std::string_view body_b64;
      simdjson::dom::array secrets;
      if (v["expect"].get(expect) != simdjson::SUCCESS || expect != "valid") continue;
      if (v["signature_header"].get(header) != simdjson::SUCCESS) continue;  // static-secret-only vectors
      REQUIRE(v["body_b64"].get(body_b64) == simdjson::SUCCESS);
      REQUIRE(v["signing_secrets"].get(secrets) == simdjson::SUCCESS);
      const std::string body = hookrx_test::base64_decode(body_b64);
      // With several secrets (rotation), exactly the one that signed matches.
      bool matched = false;
      for (simdjson::dom::element s : secrets) {
        std::string_view secret;
        REQUIRE(s.get(secret) == simdjson::SUCCESS);
        auto sig = hookrx::cli::perfectparser_signature(secret, body);
        REQUIRE_MESSAGE(sig, why(sig));
        CHECK(sig->size() == 64);
        CHECK(*sig == hookrx_test::hmac_sha256_hex(secret, body));
        std::string trimmed(header);
        trimmed.erase(0, trimmed.find_first_not_of(" \t"));
        trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
        if (*sig == to_lower(trimmed)) matched = true;
      }
      CHECK(matched);
      ++checked;
    }
    CHECK(checked >= 4);
  }

  TEST_CASE("an empty secret and an empty body still give a signature") {
    auto sig = hookrx::cli::perfectparser_signature("", "");
    REQUIRE(sig);
    // HMAC-SHA256 with an empty key over an empty message (RFC 4231 style known value).
    CHECK(*sig == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  }
}
