#include "crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <thread>

namespace hookrx::detail {
namespace {

struct mac_deleter {
  void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};

// The HMAC implementation, fetched once per process.
EVP_MAC* hmac_algorithm() noexcept {
  static const std::unique_ptr<EVP_MAC, mac_deleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return mac.get();
}

// Spreads threads over the pool's slots: each thread starts its search at its own slot.
std::size_t thread_slot_hint() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t hint = next.fetch_add(1, std::memory_order_relaxed);
  return hint;
}

bool compute(evp_mac_ctx_st* ctx, std::string_view data, digest& out) noexcept {
  std::size_t len = 0;
  if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1) return false;
  if (!data.empty() && EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return false;
  }
  return EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
}

}  // namespace

// Constant time, as CRYPTO_memcmp on the whole digest, in a fraction of the time: OpenSSL's x86-64
// CRYPTO_memcmp compares 16 bytes in a few instructions but anything else a byte per iteration.
// Both halves are always compared.
bool digests_equal(const digest& a, const digest& b) noexcept {
  constexpr std::size_t half = sha256_size / 2;
  const int first = CRYPTO_memcmp(a.data(), b.data(), half);
  const int second = CRYPTO_memcmp(a.data() + half, b.data() + half, half);
  return (first | second) == 0;
}

void mac_ctx_deleter::operator()(evp_mac_ctx_st* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }

// One set of ready contexts (one per key). `busy` is the only synchronisation on the hot path.
struct hmac_keyring::slot {
  std::atomic<bool> busy{false};
  std::vector<mac_ctx_ptr> ctxs;
};

// A borrowed slot, returned on destruction. When every slot is busy (more concurrent callers than
// slots), the lease owns fresh copies instead: correct, only slower.
class hmac_keyring::lease {
 public:
  lease(slot* s, std::vector<mac_ctx_ptr> own) noexcept : slot_(s), own_(std::move(own)) {}
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;
  ~lease() {
    if (slot_ != nullptr) slot_->busy.store(false, std::memory_order_release);
  }
  [[nodiscard]] evp_mac_ctx_st* ctx(std::size_t key) const noexcept {
    const auto& v = slot_ != nullptr ? slot_->ctxs : own_;
    return key < v.size() ? v[key].get() : nullptr;
  }

 private:
  slot* slot_;
  std::vector<mac_ctx_ptr> own_;
};

result<hmac_keyring> hmac_keyring::create(const std::vector<std::string>& keys) {
  EVP_MAC* alg = hmac_algorithm();
  if (alg == nullptr) return error(errc::invalid_config, "OpenSSL has no HMAC implementation");
  hmac_keyring ring;
  ring.key_count_ = keys.size();
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                               OSSL_PARAM_construct_end()};
  for (const std::string& key : keys) {
    mac_ctx_ptr ctx(EVP_MAC_CTX_new(alg));
    if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
      return error(errc::invalid_config, "OpenSSL could not prepare an HMAC-SHA256 key");
    }
    ring.templates_.push_back(std::move(ctx));
  }
  // Enough slots that threads rarely collide; each costs one context per key.
  const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
  ring.slot_count_ = std::clamp<std::size_t>(2 * cores, 4, 64);
  ring.slots_ = std::make_unique<slot[]>(ring.slot_count_);
  for (std::size_t s = 0; s < ring.slot_count_; ++s) {
    for (const mac_ctx_ptr& t : ring.templates_) {
      mac_ctx_ptr copy(EVP_MAC_CTX_dup(t.get()));
      if (!copy) return error(errc::invalid_config, "OpenSSL could not copy an HMAC context");
      ring.slots_[s].ctxs.push_back(std::move(copy));
    }
  }
  return ring;
}

hmac_keyring::hmac_keyring(hmac_keyring&&) noexcept = default;
hmac_keyring& hmac_keyring::operator=(hmac_keyring&&) noexcept = default;
hmac_keyring::~hmac_keyring() = default;

hmac_keyring::lease hmac_keyring::borrow() const noexcept {
  const std::size_t start = thread_slot_hint();
  for (std::size_t i = 0; i < slot_count_; ++i) {
    slot& s = slots_[(start + i) % slot_count_];
    if (!s.busy.load(std::memory_order_relaxed) && !s.busy.exchange(true, std::memory_order_acquire)) {
      return {&s, {}};
    }
  }
  std::vector<mac_ctx_ptr> own;
  for (const mac_ctx_ptr& t : templates_) own.emplace_back(EVP_MAC_CTX_dup(t.get()));
  return {nullptr, std::move(own)};
}

int hmac_keyring::find_match(std::string_view data, const digest& expected) const noexcept {
  const lease l = borrow();
  for (std::size_t k = 0; k < key_count_; ++k) {
    digest got{};
    evp_mac_ctx_st* ctx = l.ctx(k);
    if (ctx != nullptr && compute(ctx, data, got) && digests_equal(got, expected)) {
      return static_cast<int>(k);
    }
  }
  return -1;
}

bool hmac_keyring::mac(std::string_view data, digest& out) const noexcept {
  const lease l = borrow();
  evp_mac_ctx_st* ctx = l.ctx(0);
  return ctx != nullptr && compute(ctx, data, out);
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
  // No early exit, and no branch on a comparison either (`equal && ...` compiles to one): the index
  // is selected with masks, so neither the time taken nor the instructions run depend on which
  // token matched, if any. tests/ct checks this under valgrind.
  for (std::size_t i = 0; i < accepted_.size(); ++i) {
    const auto equal = static_cast<unsigned>(digests_equal(got, accepted_[i]));
    const unsigned take = equal & static_cast<unsigned>(found < 0);
    const int mask = -static_cast<int>(take);  // all ones to take i, else zero
    found = (mask & static_cast<int>(i)) | (~mask & found);
  }
  return found;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
// Eight hex digits at a time, in one 64-bit word (SWAR): a quarter of the instructions of a table
// lookup per digit, on the path every delivery takes. Each byte is range-checked without carries
// between bytes: all bytes are below 0x80 first, so adding at most 0x7F cannot overflow a byte.
bool decode_hex_digest(std::string_view hex, digest& out) noexcept {
  if (hex.size() != 2 * out.size()) return false;
  constexpr std::uint64_t ones = 0x0101010101010101U;
  constexpr std::uint64_t highs = 0x80 * ones;
  // The high bit of each byte of the result is set where lo <= byte <= hi (bytes below 0x80).
  const auto in_range = [](std::uint64_t w, unsigned lo, unsigned hi) {
    return (w + (0x80 - lo) * ones) & ~(w + (0x7F - hi) * ones) & highs;
  };
  // Validity is accumulated and tested once at the end: no branch and no memory index depends on
  // the digits, so the decode can be checked for constant time (tests/ct) like the compare after it.
  std::uint64_t bad = 0;
  for (std::size_t i = 0; i < hex.size(); i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, hex.data() + i, sizeof w);
    bad |= w & highs;  // a byte >= 0x80 makes the ranges below meaningless: the word is bad anyway
    const std::uint64_t digit = in_range(w, '0', '9');
    const std::uint64_t letter = in_range(w | (0x20 * ones), 'a', 'f');  // either case
    bad |= (digit | letter) ^ highs;
    // Nibble values: a digit's low four bits, a letter's low four bits plus 9.
    const std::uint64_t nibbles = (w & (0x0F * ones)) + (letter >> 7) * 9;
    // Pairs of nibbles into bytes 0, 2, 4, 6 (first digit high), then those bytes packed together.
    std::uint64_t bytes = ((nibbles << 4) | (nibbles >> 8)) & 0x00FF00FF00FF00FFU;
    bytes = (bytes | (bytes >> 8)) & 0x0000FFFF0000FFFFU;
    bytes = (bytes | (bytes >> 16)) & 0x00000000FFFFFFFFU;
    std::memcpy(out.data() + i / 2, &bytes, 4);
  }
  return bad == 0;
}
#else
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

bool decode_hex_digest(std::string_view hex, digest& out) noexcept {
  if (hex.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const unsigned hi = hex_values[static_cast<unsigned char>(hex[2 * i])];
    const unsigned lo = hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
    if (((hi | lo) & 0x80) != 0) return false;  // the header is the sender's, not a secret
    out[i] = static_cast<unsigned char>((hi << 4) | lo);
  }
  return true;
}
#endif

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
