// Constant-time check of hookrx's secret comparisons, run under valgrind's memcheck.
//
// The secrets are marked undefined memory (VALGRIND_MAKE_MEM_UNDEFINED); memcheck then reports any
// conditional jump or memory address that depends on them ("Conditional jump or move depends on
// uninitialised value(s)", "Use of uninitialised value of size 8"), and --error-exitcode=1 fails
// the test. Only each final verdict is declared defined again (VALGRIND_MAKE_MEM_DEFINED) before
// the harness branches on it. The same idea as secp256k1's ctime_tests and Mbed TLS's
// TEST_CF_SECRET.
//
//   valgrind --error-exitcode=1 --track-origins=yes build/tests/ct/hookrx_ct_verify [check...]
//
// Checks (all by default): `signature` (HMAC of a body under an undefined key, compared with the
// undefined expected digest), `hex` (the received header, undefined, decoded into the expected
// digest), `tokens` (several undefined accepted tokens, a public candidate). Built with
// HOOKRX_CT_LEAKY, the same checks run a deliberately leaky compare (an early-exit loop) instead,
// and must fail: that proves the marking reaches the comparison and memcheck sees it.
//
// Where the marking is applied, and why: the signing secret is marked before it enters OpenSSL, so
// the MAC the keyring computes is undefined because it derives from the secret (memcheck tracks
// definedness through SHA-256's arithmetic). OpenSSL 3's HMAC-SHA256 key schedule and compression
// do not branch on key or data bytes, so this works end to end (for the SHA-256 code OpenSSL picks
// on the CPU valgrind emulates, which may differ from the one it picks natively). No suppression
// file is needed. The received header is marked too: the decode must
// not branch on, or index by, the digits. Lengths stay defined: they are public.
// The signature check calls the keyring's mac() and then the compare, not find_match(): with
// several secrets, find_match() returns at the first key that matches, a branch on the verdict
// (which secret signed, reported as secret_index) that memcheck would rightly flag but is not a
// leak of a secret. The big-endian fallback of decode_hex_digest (a table lookup) is not checked:
// this test runs on x86-64.
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <valgrind/memcheck.h>

#include "crypto.hpp"

namespace {

namespace detail = hookrx::detail;

void secret(const void* p, std::size_t n) { (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n); }
template <class T>
T declassify(T v) {
  (void)VALGRIND_MAKE_MEM_DEFINED(&v, sizeof v);
  return v;
}

#ifdef HOOKRX_CT_LEAKY
// The classic timing leak: stops at the first differing byte.
bool leaky_equal(const detail::digest& a, const detail::digest& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}
#endif

bool compare(const detail::digest& a, const detail::digest& b) {
#ifdef HOOKRX_CT_LEAKY
  return leaky_equal(a, b);
#else
  return detail::digests_equal(a, b);
#endif
}

int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "ct: wrong verdict: %s\n", what);
    ++failures;
  }
}

std::string hex(const detail::digest& d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

// Signature compare: the MAC of the body under an undefined secret (computed by hookrx's keyring)
// against the expected digest decoded from the header, equal and differing at the first byte.
void check_signature() {
  const std::string body = R"({"event":"extraction.document_completed","extraction_id":"ext_1"})";
  std::string key = "wh_sec_ct_0123456789abcdef";
  // The expected digest, computed before the key is marked (a public test fixture).
  detail::digest right{};
  {
    auto plain = detail::hmac_keyring::create({key});
    expect(plain && plain->mac(body, right), "reference MAC");
  }
  secret(key.data(), key.size());
  auto ring = detail::hmac_keyring::create({key});
  if (!ring) {
    expect(false, "keyring with a marked key");
    return;
  }
  for (int variant = 0; variant < 3; ++variant) {
    detail::digest expected = right;
    if (variant == 1) expected[0] ^= 1;   // differs at the first byte
    if (variant == 2) expected[31] ^= 1;  // differs at the last byte
    secret(expected.data(), expected.size());
    detail::digest got{};
    const bool computed = ring->mac(body, got);  // `got` derives from the undefined key
    const bool equal = declassify(compare(got, expected));
    expect(computed && equal == (variant == 0), "signature compare");
  }
}

// Hex decode of the received header: the digits are marked undefined; the decode must neither
// branch on them nor index memory with them. Whether the header is well formed is its verdict.
void check_hex() {
  const detail::digest want = {0x8e, 0xa5, 0x66, 0xfc, 0x93, 0xc8, 0xa4, 0xef, 0x82, 0x43, 0x16,
                               0x9f, 0xdb, 0xea, 0x5c, 0xb4, 0x8a, 0xb5, 0x4e, 0x87, 0x6c, 0x22,
                               0xdd, 0xa6, 0x53, 0xb4, 0x7c, 0x5d, 0x0a, 0x50, 0x95, 0xd1};
  std::string lower = hex(want);
  std::string upper = lower;
  for (char& c : upper) c = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  std::string bad = lower;
  bad[17] = 'g';
  for (const std::string* text : {&lower, &upper, &bad}) {
    std::string header = *text;
    secret(header.data(), header.size());
    detail::digest out{};
    const bool ok = declassify(detail::decode_hex_digest(header, out));
    // The decoded digest is still secret: compare it in constant time too.
    const bool equal = declassify(compare(out, want));
    expect(ok == (text != &bad) && (!ok || equal), "hex decode");
  }
}

#ifdef HOOKRX_CT_LEAKY
// The naive membership test: std::string == stops at the first differing byte (and at a length
// mismatch).
int leaky_find(const std::vector<std::string>& tokens, std::string_view candidate) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == candidate) return static_cast<int>(i);
  }
  return -1;
}
#endif

// Token compare: several accepted tokens (rotation), undefined; the candidate is the request's.
void check_tokens() {
  std::vector<std::string> tokens = {"static-token-one", "static-token-two", "a-much-longer-static-token-3"};
  for (const std::string& t : tokens) secret(t.data(), t.size());
#ifdef HOOKRX_CT_LEAKY
  const auto find = [&](std::string_view c) { return leaky_find(tokens, c); };
#else
  auto set = detail::token_set::create(tokens);
  if (!set) {
    expect(false, "token set with marked tokens");
    return;
  }
  const auto find = [&](std::string_view c) { return set->find(c); };
#endif
  expect(declassify(find("static-token-two")) == 1, "token two found");
  expect(declassify(find("a-much-longer-static-token-3")) == 2, "token three found");
  expect(declassify(find("static-token-onf")) == -1, "near miss refused");
  expect(declassify(find("x")) == -1, "short candidate refused");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> checks(argv + 1, argv + argc);
  if (checks.empty()) checks = {"signature", "hex", "tokens"};
  for (std::string_view c : checks) {
    if (c == "signature") {
      check_signature();
    } else if (c == "hex") {
      check_hex();
    } else if (c == "tokens") {
      check_tokens();
    } else {
      std::fprintf(stderr, "usage: hookrx_ct_verify [signature|hex|tokens]...\n");
      return 2;
    }
  }
  if (failures != 0) return 1;
  std::printf("ct: %zu check(s) ran; verdicts right (memcheck decides the rest)\n", checks.size());
  return 0;
}
