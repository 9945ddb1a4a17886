// Private: the OpenSSL pieces every verifier shares. Nothing here is public API.
//
// HMAC keys are prepared once (the key schedule lives in a template EVP_MAC_CTX); computing threads
// borrow a slot of ready contexts from a small lock-free pool, so the hot path neither locks nor
// re-derives key material and makes no allocation of its own.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hookrx/error.hpp"

struct evp_mac_ctx_st;

namespace hookrx::detail {

inline constexpr std::size_t sha256_size = 32;
using digest = std::array<unsigned char, sha256_size>;

struct mac_ctx_deleter {
  void operator()(evp_mac_ctx_st* ctx) const noexcept;
};
using mac_ctx_ptr = std::unique_ptr<evp_mac_ctx_st, mac_ctx_deleter>;

/// HMAC-SHA256 under a fixed list of keys, safe to use from any number of threads.
class hmac_keyring {
 public:
  [[nodiscard]] static result<hmac_keyring> create(const std::vector<std::string>& keys);

  [[nodiscard]] std::size_t size() const noexcept { return key_count_; }

  /// Index of the first key whose HMAC of `data` equals `expected` (compared with CRYPTO_memcmp),
  /// or -1. Computes at most size() MACs.
  [[nodiscard]] int find_match(std::string_view data, const digest& expected) const noexcept;

  /// HMAC of `data` under key 0 (used for keyed hashing of tokens).
  [[nodiscard]] bool mac(std::string_view data, digest& out) const noexcept;

  hmac_keyring(hmac_keyring&&) noexcept;
  hmac_keyring& operator=(hmac_keyring&&) noexcept;
  ~hmac_keyring();

 private:
  struct slot;
  class lease;
  hmac_keyring() = default;
  [[nodiscard]] lease borrow() const noexcept;

  std::vector<mac_ctx_ptr> templates_;  // one per key, never used to compute directly
  std::unique_ptr<slot[]> slots_;
  std::size_t slot_count_ = 0;
  std::size_t key_count_ = 0;
};

/// Constant-time membership test for static tokens (X-Webhook-Secret, Authorization values).
/// Tokens are compared as HMAC digests under a random per-process key, so neither the length of an
/// accepted token nor the position of the first differing byte shows in the timing.
class token_set {
 public:
  [[nodiscard]] static result<token_set> create(const std::vector<std::string>& tokens);
  /// Index of the accepted token equal to `candidate`, or -1. Every token is compared, always.
  [[nodiscard]] int find(std::string_view candidate) const noexcept;

 private:
  explicit token_set(hmac_keyring ring) : ring_(std::move(ring)) {}
  hmac_keyring ring_;
  std::vector<digest> accepted_;
};

/// Constant-time equality of two digests (both halves always compared, no early exit).
[[nodiscard]] bool digests_equal(const digest& a, const digest& b) noexcept;

/// Decodes exactly 64 hex digits (either case) into 32 bytes; false for anything else.
[[nodiscard]] bool decode_hex_digest(std::string_view hex, digest& out) noexcept;

/// Lowercase hex SHA-256 of `data` (64 characters).
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// `s` without leading and trailing spaces and tabs (HTTP optional whitespace).
[[nodiscard]] std::string_view trim_ows(std::string_view s) noexcept;

}  // namespace hookrx::detail
