#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(OPENSSL_NO_DEPRECATED_3_0)
#include <openssl/core_names.h>
#include <openssl/params.h>
#endif

namespace hookrx::detail {
namespace {

// Hex digit values by byte, 0x80 for anything that is not a hex digit (either case).
constexpr std::array<std::uint8_t, 256> hex_values = [] {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = 0x80;
  for (std::size_t c = 0; c < 10; ++c) t['0' + c] = static_cast<std::uint8_t>(c);
  for (std::size_t c = 0; c < 6; ++c) {
    t['a' + c] = static_cast<std::uint8_t>(10 + c);
    t['A' + c] = static_cast<std::uint8_t>(10 + c);
  }
  return t;
}();

}  // namespace

#if !defined(OPENSSL_NO_DEPRECATED_3_0)

// HMAC on SHA-256's block API. OpenSSL 3.0 deprecates that API for EVP, but EVP cannot restart a
// prepared HMAC without allocating (EVP_MAC_init and EVP_MAC_final each duplicate a digest context):
// ~130 ns of a 256-byte verification here, and two mallocs (bench/RESULTS.md). Every OpenSSL 3
// release still builds the block API by default; a library built without it takes the EVP path below.
// The block API runs the same SHA-256 code (SHA-NI or AVX2) that EVP dispatches to.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif

// The SHA-256 states after the key's inner and outer pad blocks. They are as good as the key, so
// they are wiped on destruction. A MAC works on stack copies; after SHA256_Final a copy holds only
// message-derived state (Final processes the last block and wipes its buffer), so nothing secret
// is left on the stack.
struct hmac_keyring::key_state {
  SHA256_CTX inner{};
  SHA256_CTX outer{};
  key_state() = default;
  key_state(const key_state&) = delete;
  key_state& operator=(const key_state&) = delete;
  ~key_state() { OPENSSL_cleanse(this, sizeof *this); }

  [[nodiscard]] bool prepare(std::string_view key) noexcept {
    std::array<unsigned char, SHA256_CBLOCK> block{};
    if (key.size() > block.size()) {  // RFC 2104: a key longer than a block is hashed first
      SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block.data());
    } else if (!key.empty()) {
      std::memcpy(block.data(), key.data(), key.size());
    }
    std::array<unsigned char, SHA256_CBLOCK> pad{};
    bool ok = true;
    for (const auto& [state, mask] : {std::pair{&inner, 0x36U}, std::pair{&outer, 0x5cU}}) {
      std::transform(block.begin(), block.end(), pad.begin(),
                     [m = mask](unsigned char b) { return static_cast<unsigned char>(b ^ m); });
      ok = ok && SHA256_Init(state) == 1 && SHA256_Update(state, pad.data(), pad.size()) == 1;
    }
    OPENSSL_cleanse(block.data(), block.size());
    OPENSSL_cleanse(pad.data(), pad.size());
    return ok;
  }

  [[nodiscard]] bool compute(std::string_view data, digest& out) const noexcept {
    SHA256_CTX ctx = inner;
    digest inner_digest{};
    if (SHA256_Update(&ctx, data.data(), data.size()) != 1 || SHA256_Final(inner_digest.data(), &ctx) != 1)
      return false;
    ctx = outer;
    return SHA256_Update(&ctx, inner_digest.data(), inner_digest.size()) == 1 && SHA256_Final(out.data(), &ctx) == 1;
  }
};

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#else  // OpenSSL built without its deprecated API: EVP_MAC, one context copied per MAC.

struct hmac_keyring::key_state {
  EVP_MAC_CTX* keyed = nullptr;  // initialised with the key, never used to compute directly
  key_state() = default;
  key_state(const key_state&) = delete;
  key_state& operator=(const key_state&) = delete;
  ~key_state() { EVP_MAC_CTX_free(keyed); }

  [[nodiscard]] bool prepare(std::string_view key) noexcept {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    keyed = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
    EVP_MAC_free(mac);  // the context keeps its own reference
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                                 OSSL_PARAM_construct_end()};
    return keyed != nullptr &&
           EVP_MAC_init(keyed, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) == 1;
  }

  [[nodiscard]] bool compute(std::string_view data, digest& out) const noexcept {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
    std::size_t len = 0;
    const bool ok = ctx != nullptr &&
                    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
                    EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
    EVP_MAC_CTX_free(ctx);
    return ok;
  }
};

#endif

result<hmac_keyring> hmac_keyring::create(const std::vector<std::string>& keys) {
  hmac_keyring ring;
  ring.keys_ = std::make_unique<key_state[]>(keys.size());
  ring.key_count_ = keys.size();
  for (std::size_t k = 0; k < keys.size(); ++k) {
    if (!ring.keys_[k].prepare(keys[k]))
      return error(errc::invalid_config, "OpenSSL could not prepare an HMAC-SHA256 key");
  }
  return ring;
}

hmac_keyring::hmac_keyring(hmac_keyring&&) noexcept = default;
hmac_keyring& hmac_keyring::operator=(hmac_keyring&&) noexcept = default;
hmac_keyring::~hmac_keyring() = default;

int hmac_keyring::find_match(std::string_view data, const digest& expected) const noexcept {
  for (std::size_t k = 0; k < key_count_; ++k) {
    digest got{};
    if (keys_[k].compute(data, got) && CRYPTO_memcmp(got.data(), expected.data(), got.size()) == 0) {
      return static_cast<int>(k);
    }
  }
  return -1;
}

bool hmac_keyring::mac(std::string_view data, digest& out) const noexcept {
  return key_count_ > 0 && keys_[0].compute(data, out);
}

result<token_set> token_set::create(const std::vector<std::string>& tokens) {
  std::string key(sha256_size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return error(errc::invalid_config, "OpenSSL could not produce random bytes");
  }
  auto ring = hmac_keyring::create({key});
  OPENSSL_cleanse(key.data(), key.size());
  if (!ring) return ring.error();
  token_set set(std::move(*ring));
  for (const std::string& t : tokens) {
    digest d{};
    if (!set.ring_.mac(t, d)) return error(errc::invalid_config, "OpenSSL could not hash a token");
    set.accepted_.push_back(d);
  }
  return set;
}

int token_set::find(std::string_view candidate) const noexcept {
  digest got{};
  if (!ring_.mac(candidate, got)) return -1;
  int found = -1;
  // No early exit: the time taken does not depend on which token matched, if any.
  for (std::size_t i = 0; i < accepted_.size(); ++i) {
    const bool equal = CRYPTO_memcmp(got.data(), accepted_[i].data(), got.size()) == 0;
    found = (equal && found < 0) ? static_cast<int>(i) : found;
  }
  return found;
}

bool decode_hex_digest(std::string_view hex, digest& out) noexcept {
  if (hex.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const unsigned hi = hex_values[static_cast<unsigned char>(hex[2 * i])];
    const unsigned lo = hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
    // An early exit is safe (the header is the sender's, not a secret) and keeps GCC from turning
    // the loop into vector code that measured 2.5x slower at -O3.
    if (((hi | lo) & 0x80) != 0) return false;
    out[i] = static_cast<unsigned char>((hi << 4) | lo);
  }
  return true;
}

std::string sha256_hex(std::string_view data) {
  digest d{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
  static constexpr char hexdigits[] = "0123456789abcdef";
  std::string out(2 * d.size(), '0');
  for (std::size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = hexdigits[d[i] >> 4];
    out[2 * i + 1] = hexdigits[d[i] & 0xF];
  }
  return out;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace hookrx::detail
