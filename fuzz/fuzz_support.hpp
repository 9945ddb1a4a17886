// Helpers the fuzz targets share: splitting fuzz bytes into fields, a reference HMAC-SHA256 (the
// plain OpenSSL one-shot HMAC(), independent of hookrx's keyring), and a check that aborts with a
// message, so a finding says which property broke.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace hookrx_fuzz {

/// Aborts (a libFuzzer finding) with `what` when `ok` is false.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

/// Reads fuzz bytes front to back: lines, fixed-size integers, the rest.
class cursor {
 public:
  cursor(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  [[nodiscard]] bool empty() const noexcept { return rest_.empty(); }
  /// Up to the next '\n' (excluded); the whole rest when there is none.
  std::string_view line() {
    const std::size_t eol = rest_.find('\n');
    const std::string_view out = rest_.substr(0, eol);
    rest_.remove_prefix(eol == std::string_view::npos ? rest_.size() : eol + 1);
    return out;
  }
  /// The next byte, 0 when none is left.
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  /// Four bytes, little endian (missing bytes are zero).
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (unsigned i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(byte()) << (8 * i);
    return v;
  }
  std::string_view rest() {
    const std::string_view out = rest_;
    rest_ = {};
    return out;
  }

 private:
  std::string_view rest_;
};

/// Lowercase hex of `n` bytes.
inline std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 0xF];
  }
  return out;
}

/// Reference: lowercase hex HMAC-SHA256 of `body` under `key`, with OpenSSL's one-shot HMAC().
inline std::string reference_hmac_hex(std::string_view key, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  static const unsigned char empty = 0;
  const auto* k = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  const auto* d = body.empty() ? &empty : reinterpret_cast<const unsigned char*>(body.data());
  require(key.size() <= static_cast<std::size_t>(INT_MAX), "key fits HMAC()");
  require(HMAC(EVP_sha256(), k, static_cast<int>(key.size()), d, body.size(), mac, &len) != nullptr, "HMAC()");
  return to_hex(mac, len);
}

/// Reference: `s` without leading and trailing spaces and tabs.
inline std::string_view reference_trim(std::string_view s) {
  const std::size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// The HTTP statuses hookrx documents for a delivery (README, response.hpp).
inline bool documented_status(int status) {
  switch (status) {
    case 200:
    case 202:
    case 400:
    case 401:
    case 403:
    case 409:
    case 413:
    case 415:
    case 500:
    case 503: return true;
    default: return false;
  }
}

}  // namespace hookrx_fuzz
