// The private crypto helpers. detail::hmac_keyring against OpenSSL's one-shot HMAC(): RFC 4231
// vectors, every key length around the block size (RFC 2104 hashes keys longer than a block) with
// message lengths around the block boundaries, rotation, a moved keyring. decode_hex_digest
// against every byte value in every position.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "crypto.hpp"

namespace {

using hookrx::detail::digest;
using hookrx::detail::hmac_keyring;

digest reference_hmac(std::string_view key, std::string_view data) {
  digest out{};
  unsigned int len = 0;
  const unsigned char empty = 0;
  const auto* key_ptr = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  const auto* data_ptr = data.empty() ? &empty : reinterpret_cast<const unsigned char*>(data.data());
  REQUIRE(HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), out.data(), &len) !=
          nullptr);
  REQUIRE(len == out.size());
  return out;
}

digest from_hex(std::string_view hex) {
  digest d{};
  REQUIRE(hookrx::detail::decode_hex_digest(hex, d));
  return d;
}

// Bytes that differ with position, so that a shifted or truncated buffer cannot match.
std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 17 + 7) & 0xFF);
  return s;
}

}  // namespace

TEST_SUITE("hmac keyring") {
  TEST_CASE("the RFC 4231 HMAC-SHA256 vectors match, including a key longer than a block") {
    struct vector {
      std::string key;
      std::string data;
      std::string_view mac;
    };
    const std::vector<vector> vectors = {
        {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    };
    for (const vector& v : vectors) {
      auto ring = hmac_keyring::create({v.key});
      REQUIRE(ring.has_value());
      digest got{};
      REQUIRE(ring->mac(v.data, got));
      CHECK(got == from_hex(v.mac));
      CHECK(ring->find_match(v.data, from_hex(v.mac)) == 0);
    }
  }

  TEST_CASE("every key length from 0 to 130 bytes gives OpenSSL's HMAC for messages around block edges") {
    for (std::size_t key_size = 0; key_size <= 130; ++key_size) {
      const std::string key = pattern(key_size, 1);
      auto ring = hmac_keyring::create({key});
      REQUIRE(ring.has_value());
      for (const std::size_t data_size : {0U, 1U, 55U, 56U, 63U, 64U, 65U, 119U, 120U, 128U, 1000U}) {
        const std::string data = pattern(data_size, 2);
        digest got{};
        REQUIRE(ring->mac(data, got));
        INFO("key " << key_size << " bytes, message " << data_size << " bytes");
        CHECK(got == reference_hmac(key, data));
      }
    }
  }

  TEST_CASE("find_match names the key that produced the MAC and -1 when none did") {
    const std::vector<std::string> keys = {"first-secret", pattern(64, 3), pattern(100, 4)};
    auto ring = hmac_keyring::create(keys);
    REQUIRE(ring.has_value());
    REQUIRE(ring->size() == 3);
    const std::string data = pattern(300, 5);
    for (std::size_t k = 0; k < keys.size(); ++k) {
      CHECK(ring->find_match(data, reference_hmac(keys[k], data)) == static_cast<int>(k));
    }
    digest wrong = reference_hmac(keys[1], data);
    wrong[31] = static_cast<unsigned char>(wrong[31] ^ 1);
    CHECK(ring->find_match(data, wrong) == -1);
    CHECK(ring->find_match(data + "x", reference_hmac(keys[1], data)) == -1);
  }

  TEST_CASE("a keyring moved elsewhere computes the same MACs") {
    auto ring = hmac_keyring::create({"moved-secret"});
    REQUIRE(ring.has_value());
    hmac_keyring moved = std::move(*ring);
    digest got{};
    REQUIRE(moved.mac("body", got));
    CHECK(got == reference_hmac("moved-secret", "body"));
  }
}

TEST_SUITE("hex digest") {
  TEST_CASE("every byte value in every position decodes exactly when it is a hex digit of either case") {
    const std::string_view digits = "0123456789abcdef";
    for (std::size_t pos = 0; pos < 64; ++pos) {
      for (unsigned c = 0; c < 256; ++c) {
        // A background of varied valid digits, so that a wrong shift or lane shows.
        std::string hex(64, '0');
        for (std::size_t i = 0; i < hex.size(); ++i) hex[i] = digits[(i * 7 + 3) % 16];
        hex[pos] = static_cast<char>(c);
        const bool is_digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        digest got{};
        const bool decoded = hookrx::detail::decode_hex_digest(hex, got);
        if (decoded != is_digit) {
          FAIL_CHECK("byte " << c << " at position " << pos << (is_digit ? " refused" : " accepted"));
          continue;
        }
        if (!decoded) continue;
        for (std::size_t i = 0; i < got.size(); ++i) {
          const auto value = [&](std::size_t k) {
            const auto ch = static_cast<unsigned char>(hex[k]);
            return ch <= '9' ? ch - '0' : (ch | 0x20U) - 'a' + 10;
          };
          if (got[i] != ((value(2 * i) << 4) | value(2 * i + 1))) {
            FAIL_CHECK("byte " << c << " at position " << pos << ": digest byte " << i << " is wrong");
            break;
          }
        }
      }
    }
  }

  TEST_CASE("a digest string of any length but 64 is refused") {
    digest got{};
    for (const std::size_t n : {0U, 1U, 8U, 62U, 63U, 65U, 66U, 128U}) {
      CHECK_FALSE(hookrx::detail::decode_hex_digest(std::string(n, 'a'), got));
    }
    CHECK(hookrx::detail::decode_hex_digest(std::string(64, 'F'), got));
    CHECK(got == digest{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  }
}
