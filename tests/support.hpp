// tests/support.hpp: helpers shared by the hookrx test files.
//
// Fresh signatures are computed here with OpenSSL's one-shot HMAC(), independently of hookrx's own
// crypto code, so that a test never just mirrors the implementation it checks.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hookrx/error.hpp"
#include "hookrx/request.hpp"

#ifndef HOOKRX_SHARED_DIR
#error "HOOKRX_SHARED_DIR (the shared/ folder with spec/ and vectors/) must be defined by the build"
#endif

namespace hookrx_test {

/// HOOKRX_SHARED_DIR + "/" + relative, e.g. shared_path("vectors/events.json").
[[nodiscard]] std::string shared_path(std::string_view relative);

/// The whole file as bytes. Throws std::runtime_error when it cannot be read.
[[nodiscard]] std::string read_file(const std::string& path);

/// Standard base64 (with padding) to bytes; "" gives "". Throws std::invalid_argument on bad input.
[[nodiscard]] std::string base64_decode(std::string_view encoded);

/// Lowercase hex HMAC-SHA256 of `body` keyed with `key` as-is (OpenSSL one-shot HMAC()).
[[nodiscard]] std::string hmac_sha256_hex(std::string_view key, std::string_view body);

/// Lowercase hex SHA-256 of `data` (OpenSSL one-shot EVP_Digest()).
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// `text` with ASCII letters upper-cased.
[[nodiscard]] std::string to_upper(std::string_view text);

/// The error message of a failed result, "" for a value. Safe in doctest *_MESSAGE arguments, which
/// are evaluated even when the assertion passes (e.g. under --success).
template <class T>
[[nodiscard]] std::string why(const hookrx::result<T>& r) {
  return r.has_value() ? std::string() : r.error().message();
}

/// True when `haystack` contains `needle`.
[[nodiscard]] inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

/// A request that owns its body, headers and peer, and hands out a hookrx::request_view of them.
/// The view points into this object: do not modify or destroy it while the view is in use.
struct test_request {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string peer;

  test_request() = default;
  explicit test_request(std::string b, std::vector<std::pair<std::string, std::string>> h = {}, std::string p = {})
      : body(std::move(b)), headers(std::move(h)), peer(std::move(p)) {}

  test_request& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  /// A view of the current body, headers and peer (rebuilt on every call).
  [[nodiscard]] hookrx::request_view view() const {
    views_.clear();
    views_.reserve(headers.size());
    for (const auto& h : headers) views_.push_back(hookrx::header_view{h.first, h.second});
    return hookrx::request_view(body, views_.data(), views_.size(), peer);
  }

 private:
  mutable std::vector<hookrx::header_view> views_;
};

/// A PerfectParser delivery of `body` signed with `secret` (X-PerfectParser-Signature).
[[nodiscard]] inline test_request signed_request(std::string body, std::string_view secret) {
  std::string sig = hmac_sha256_hex(secret, body);
  test_request r(std::move(body));
  r.header("X-PerfectParser-Signature", std::move(sig));
  return r;
}

}  // namespace hookrx_test
