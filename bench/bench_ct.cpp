// dudect-style timing test of hookrx's secret comparisons (Reparaz, Balasch, Verbauwhede, "Dude, is
// my code constant time?", 2017): two classes of inputs, interleaved at random, each verification
// timed with the cycle counter; Welch's t-test between the classes' timings, on all measurements
// and on the measurements below several percentiles of the pooled timings (cropping cuts the long
// tail that interrupts and other processes add). |t| > 4.5 rejects "same distribution" with
// overwhelming confidence (dudect: > 10 is "probably not constant time").
//
//   build/bench/hookrx_bench_ct [measurements per class, default 1000000]
//
// Pairs (each class is a failed verification unless said otherwise, so the verdict is the same):
//   signature  X-PerfectParser-Signature equal to the expected one but for the last byte, vs.
//              differing at the first byte (the whole verify(): decode, HMAC, compare);
//   length     one wrong X-Webhook-Secret candidate against an accepted secret of its length vs.
//              of another length (the candidate is the same, so only the secret's length differs);
//   several    a candidate equal to the third of four accepted tokens vs. equal to none
//              (detail::token_set::find, which serves both X-Webhook-Secret and Authorization;
//              the verifier's own accept/refuse paths differ by design: the verdict is public);
//   control    a deliberately leaky early-exit loop: must show |t| > 10, or the run fails.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "crypto.hpp"
#include "hookrx/verify.hpp"

namespace {

std::uint64_t ticks() {
#if defined(__x86_64__)
  _mm_lfence();  // earlier instructions finish before the counter is read
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

struct welch {
  double n[2] = {0, 0};
  double mean[2] = {0, 0};
  double m2[2] = {0, 0};
  void add(int cls, double x) {
    n[cls] += 1;
    const double d = x - mean[cls];
    mean[cls] += d / n[cls];
    m2[cls] += d * (x - mean[cls]);
  }
  [[nodiscard]] double t() const {
    if (n[0] < 2 || n[1] < 2) return 0;
    const double v0 = m2[0] / (n[0] - 1);
    const double v1 = m2[1] / (n[1] - 1);
    return (mean[0] - mean[1]) / std::sqrt(v0 / n[0] + v1 / n[1]);
  }
};

volatile int sink = 0;  // keeps results alive

// Runs `n` measurements per class (classes interleaved at random) and prints |t| uncropped and for
// each crop.
double run_pair(const char* name, std::size_t n, const std::function<int(int)>& call) {
  std::mt19937_64 rng(0x5eed);
  std::vector<int> classes(2 * n);
  for (std::size_t i = 0; i < classes.size(); ++i) classes[i] = static_cast<int>(i % 2);
  std::shuffle(classes.begin(), classes.end(), rng);
  for (int w = 0; w < 20000; ++w) sink = sink + call(w % 2);  // warm caches and the slot pool
  std::vector<std::uint64_t> cycles(classes.size());
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const std::uint64_t start = ticks();
    const int r = call(classes[i]);
    const std::uint64_t end = ticks();
    sink = sink + r;
    cycles[i] = end - start;
  }
  std::vector<std::uint64_t> sorted = cycles;
  std::sort(sorted.begin(), sorted.end());
  const double percentiles[] = {100, 99, 95, 90, 75, 50};
  double worst = 0;
  std::printf("%-9s n=%zu/class median=%llu cycles |t|:", name, n,
              static_cast<unsigned long long>(sorted[sorted.size() / 2]));
  for (double p : percentiles) {
    const std::size_t idx =
        std::min(sorted.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size())));
    const std::uint64_t limit = p >= 100 ? sorted.back() : sorted[idx];
    welch w;
    for (std::size_t i = 0; i < cycles.size(); ++i) {
      if (cycles[i] <= limit) w.add(classes[i], static_cast<double>(cycles[i]));
    }
    const double t = std::fabs(w.t());
    worst = std::max(worst, t);
    std::printf(" p%.0f=%.2f", p, t);
  }
  std::printf("  max=%.2f%s\n", worst, std::string(name) == "control" ? "" : (worst < 4.5 ? " ok" : " LEAK?"));
  return worst;
}

std::string hex(const hookrx::detail::digest& d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  double worst = 0;

  // signature: equal but for the last byte vs. differing at the first byte.
  {
    const std::string secret = "wh_sec_bench_0123456789abcdef";
    const std::string body =
        R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":"doc_1"})";
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {secret};
    auto v = hookrx::perfectparser_verifier::create(creds);
    auto ring = hookrx::detail::hmac_keyring::create({secret});
    hookrx::detail::digest right{};
    if (!v || !ring || !ring->mac(body, right)) return 1;
    hookrx::detail::digest late = right;
    late[31] ^= 1;
    hookrx::detail::digest early = right;
    early[0] ^= 1;
    const std::string sig[2] = {hex(late), hex(early)};
    const hookrx::header_view h0[] = {{"X-PerfectParser-Signature", sig[0]}};
    const hookrx::header_view h1[] = {{"X-PerfectParser-Signature", sig[1]}};
    const hookrx::request_view req[2] = {{body, h0}, {body, h1}};
    worst = std::max(worst, run_pair("signature", n, [&](int c) { return v->verify(req[c]).has_value() ? 1 : 0; }));
  }

  // length: the same wrong candidate against an accepted secret of its length vs. of another
  // length (two verifiers, interleaved at random). A naive compare stops at the length check.
  {
    hookrx::perfectparser_credentials same;
    same.static_secrets = {"static-secret-of-24-char"};
    hookrx::perfectparser_credentials other;
    other.static_secrets = {"static-secret"};
    auto v0 = hookrx::perfectparser_verifier::create(same);
    auto v1 = hookrx::perfectparser_verifier::create(other);
    if (!v0 || !v1) return 1;
    const hookrx::perfectparser_verifier* v[2] = {&*v0, &*v1};
    const hookrx::header_view h[] = {{"X-Webhook-Secret", "static-secret-of-24-chaR"}};
    const hookrx::request_view req("{}", h);
    worst = std::max(worst, run_pair("length", n, [&](int c) { return v[c]->verify(req).has_value() ? 1 : 0; }));
  }

  // several: matching the third of four accepted tokens vs. matching none.
  {
    auto set = hookrx::detail::token_set::create(
        {"Bearer token-aaaaaaaa", "Bearer token-bbbbbbbb", "Bearer token-cccccccc", "Bearer token-dddddddd"});
    if (!set) return 1;
    const std::string cand[2] = {"Bearer token-cccccccc", "Bearer token-eeeeeeee"};
    worst = std::max(worst, run_pair("several", n, [&](int c) { return set->find(cand[c]); }));
  }

  // control: the method's power. A byte loop that stops at the first difference (the leak tests/ct
  // also plants), on 64-byte values equal but for the last byte vs. differing at the first byte.
  // It must show a large |t|; it does not count toward the verdict.
  {
    std::string expected(64, 'a');
    std::string late = expected;
    late.back() = 'b';
    std::string early = expected;
    early.front() = 'b';
    const std::string* cand[2] = {&late, &early};
    const auto leaky = [&](int c) {
      const volatile char* a = expected.data();
      const volatile char* b = cand[c]->data();
      for (std::size_t i = 0; i < 64; ++i) {
        if (a[i] != b[i]) return 0;
      }
      return 1;
    };
    const double t = run_pair("control", n, leaky);
    std::printf("control (a leaky compare) |t| = %.2f: %s\n", t, t > 10 ? "detected, as it must be" : "NOT detected");
    if (t <= 10) worst = std::max(worst, 99.0);
  }

  std::printf("worst |t| = %.2f (goal < 4.5)\n", worst);
  return worst < 4.5 ? 0 : 1;
}
