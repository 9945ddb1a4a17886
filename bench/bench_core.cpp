// Core benchmarks: what verification, parsing and the whole receive pipeline cost for 256 B,
// 1 KiB and 64 KiB PerfectParser `extraction.document_completed` bodies, next to the floors they
// are judged by (the issue's targets, results and verdicts: bench/RESULTS.md):
//
//   BM_floor_hmac_reinit   OpenSSL HMAC-SHA256, key prepared once, EVP_MAC_CTX re-initialised per call
//   BM_floor_hmac_dup      the same, dup of a prepared template per call (the other floor variant)
//   BM_naive_hmac_oneshot  HMAC() one-shot: key schedule every call (reference)
//   BM_verify              perfectparser_verifier::verify(), valid signature
//   BM_verify_mismatch     the same with a wrong signature (must cost the same)
//   BM_parse               parse_event(provider::perfectparser, body): a fresh event every time
//   BM_parse_reused        parse_event(provider::perfectparser, body, ev) into one reused event, as
//                          the receiver does (one event per thread)
//   BM_simdjson_floor      simdjson On-Demand read of event/extraction_id/document_id/status
//   BM_pipeline            receiver::handle(), no store, empty document_completed handler
//   BM_heap_kept           heap the calling thread still holds after parsing one body of the size
//                          (64 KiB, 1 MiB) into an event dropped at once: "heap_kept_bytes" is
//                          what the thread's simdjson parser keeps (glibc's mallinfo2)
//
// Every benchmark reports "cxx_allocs/iter" (global operator new, replaced by tests/counting_new.cpp) and
// "ossl_allocs/iter" (OpenSSL's allocator, replaced with CRYPTO_set_mem_functions before anything
// touches OpenSSL). Both counters are thread-local, so the threaded variants count per thread and
// Google Benchmark sums them before dividing by the total iteration count.
//
//   taskset -c 1 ./build-bench/bench/hookrx_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_min_time=0.2   (one line)
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "counting_new.hpp"
#include "hookrx/events.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/request.hpp"
#include "hookrx/verify.hpp"

// ---------------------------------------------------------------------------------------------
// Allocation counting: C++ through tests/counting_new.cpp, OpenSSL through its allocator hooks.
// Both thread-local: one increment per allocation, no lock.

namespace {

thread_local std::size_t ossl_allocations = 0;

void* ossl_malloc(std::size_t size, const char* /*file*/, int /*line*/) {
  ++ossl_allocations;
  return std::malloc(size);
}
// A realloc may move the block: counted as an allocation.
void* ossl_realloc(void* p, std::size_t size, const char* /*file*/, int /*line*/) {
  ++ossl_allocations;
  return std::realloc(p, size);
}
void ossl_free(void* p, const char* /*file*/, int /*line*/) { std::free(p); }

}  // namespace

namespace {

// Allocations made on this thread between construction and report(), per iteration.
class allocation_probe {
 public:
  allocation_probe() noexcept : cxx_(hookrx_test::new_calls_on_this_thread()), ossl_(ossl_allocations) {}
  void report(benchmark::State& state) const {
    const std::size_t cxx = hookrx_test::new_calls_on_this_thread() - cxx_;
    const std::size_t ossl = ossl_allocations - ossl_;
    state.counters["cxx_allocs/iter"] =
        benchmark::Counter(static_cast<double>(cxx), benchmark::Counter::kAvgIterations);
    state.counters["ossl_allocs/iter"] =
        benchmark::Counter(static_cast<double>(ossl), benchmark::Counter::kAvgIterations);
  }

 private:
  std::size_t cxx_;
  std::size_t ossl_;
};

// ---------------------------------------------------------------------------------------------
// Fixtures: one signed delivery per size, built once in main() and only read afterwards.

const std::string signing_secret = "wh_sec_9f2c71e04ab35d86c1e7f0a24b9d63e5";

// A document_completed body of exactly `target` bytes: the documented fields (optional ones as
// many as fit, in a fixed order of preference), then an `extracted_data` object of invoice fields
// and line items, closed by a `notes` string padded to the exact length.
std::string make_body(std::size_t target) {
  struct item {
    bool top;  // top-level field, else an extracted_data entry
    std::string text;
  };
  const std::vector<std::string> required = {R"("event":"extraction.document_completed")",
                                             R"("extraction_id":"ext_7f3a9c2e41b84d05")",
                                             R"("document_id":"doc_2b91e0d4c7a5f318")", R"("status":"completed")"};
  // In order of preference; each is kept only if the body can still reach the target size.
  const std::vector<item> optional = {
      {true, R"("parser_id":"prs_invoice_eu_v3")"},
      {false, R"("invoice_number":"INV-2026-000123")"},
      {false, R"("total_amount":1234.56)"},
      {false, R"("currency":"EUR")"},
      {true, R"("filename":"invoice-2026-000123.pdf")"},
      {true, R"("page_count":2)"},
      {true, R"("confidence":0.974)"},
      {true, R"("parser_name":"Invoices EU v3")"},
      {true, R"("credits_used":2)"},
      {true, R"("processing_time_ms":4180)"},
      {true, R"("error_message":null)"},
      {true, R"("created_at":"2026-06-20T10:00:41.000Z")"},
      {true, R"("updated_at":"2026-06-20T10:00:45.000Z")"},
      {false, R"("invoice_date":"2026-06-18")"},
      {false, R"("due_date":"2026-07-18")"},
      {false,
       R"("vendor":{"name":"Acme Industrial Supplies GmbH","vat_id":"DE123456789","iban":"DE89370400440532013000"})"},
      {false, R"("buyer":{"name":"Northwind Traders Ltd","vat_id":"GB987654321"})"},
  };
  std::vector<std::string> top = required;
  std::vector<std::string> extracted;
  std::vector<std::string> line_items;

  const auto assemble = [&](std::size_t pad) {
    std::string b = "{";
    for (const std::string& f : top) b += f + ",";
    b += R"("extracted_data":{)";
    for (const std::string& e : extracted) b += e + ",";
    if (!line_items.empty()) {
      b += R"("line_items":[)";
      for (std::size_t i = 0; i < line_items.size(); ++i) b += (i == 0 ? "" : ",") + line_items[i];
      b += "],";
    }
    static constexpr std::string_view phrase = "Payment due within 30 days of the invoice date. ";
    b += R"("notes":")";
    for (std::size_t i = 0; i < pad; ++i) b += phrase[i % phrase.size()];
    b += "\"}}";
    return b;
  };

  for (const item& it : optional) {
    (it.top ? top : extracted).push_back(it.text);
    if (assemble(0).size() > target) (it.top ? top : extracted).pop_back();
  }
  for (int n = 1;; ++n) {
    char line[160];
    const int written =
        std::snprintf(line, sizeof line,
                      R"({"position":%d,"sku":"SKU-%05d","description":"Steel hex bolt M8x%d, zinc plated",)"
                      R"("quantity":%d,"unit_price":%d.%02d})",
                      n, 10000 + 37 * n, 20 + n % 60, 1 + n % 9, 1 + n % 40, (13 * n) % 100);
    if (written < 0 || static_cast<std::size_t>(written) >= sizeof line) return {};
    line_items.emplace_back(line);
    if (assemble(0).size() > target) {
      line_items.pop_back();
      break;
    }
  }
  const std::size_t base = assemble(0).size();
  if (base > target) return {};
  return assemble(target - base);
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 0xF];
  }
  return out;
}

std::string sign(std::string_view body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), signing_secret.data(), static_cast<int>(signing_secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac.data(), &len);
  return hex(mac.data(), len);
}

struct fixture {
  std::string body;
  std::string signature;
  std::string wrong_signature;  // valid hex, one digit changed
  std::array<hookrx::header_view, 3> headers;
  std::array<hookrx::header_view, 3> wrong_headers;
  hookrx::request_view request;
  hookrx::request_view wrong_request;
  std::unique_ptr<simdjson::padded_string> padded;
};

std::map<std::int64_t, std::unique_ptr<fixture>> fixtures;
std::optional<hookrx::perfectparser_verifier> shared_verifier;
std::optional<hookrx::receiver> shared_receiver;

bool build_fixtures() {
  for (const std::size_t size : {std::size_t{256}, std::size_t{1024}, std::size_t{65536}}) {
    auto f = std::make_unique<fixture>();
    f->body = make_body(size);
    if (f->body.size() != size) {
      static_cast<void>(std::fprintf(stderr, "could not build a %zu-byte body\n", size));
      return false;
    }
    f->signature = sign(f->body);
    f->wrong_signature = f->signature;
    f->wrong_signature[10] = f->wrong_signature[10] == '0' ? '1' : '0';
    f->headers = {hookrx::header_view{"Content-Type", "application/json"},
                  hookrx::header_view{"User-Agent", "PerfectParser-Webhooks/1.0"},
                  hookrx::header_view{"X-PerfectParser-Signature", f->signature}};
    f->wrong_headers = f->headers;
    f->wrong_headers[2].value = f->wrong_signature;
    f->request = hookrx::request_view(f->body, f->headers.data(), f->headers.size(), "203.0.113.7");
    f->wrong_request = hookrx::request_view(f->body, f->wrong_headers.data(), f->wrong_headers.size(), "203.0.113.7");
    f->padded = std::make_unique<simdjson::padded_string>(f->body);
    fixtures.emplace(static_cast<std::int64_t>(size), std::move(f));
  }
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {signing_secret};
  auto v = hookrx::perfectparser_verifier::create(creds);
  auto r = hookrx::receiver::create(creds);
  if (!v || !r) {
    static_cast<void>(std::fprintf(stderr, "could not create the verifier or the receiver\n"));
    return false;
  }
  shared_verifier.emplace(std::move(v).value());
  shared_receiver.emplace(std::move(r).value());
  shared_receiver->on<hookrx::document_completed>([](const hookrx::document_completed&) {});
  return true;
}

// The fixture for this run's size, checked once before timing: the body must verify and parse as
// a document_completed. Null (and the run marked as failed) otherwise.
const fixture* checked_fixture(benchmark::State& state) {
  const auto it = fixtures.find(state.range(0));
  if (it == fixtures.end()) {
    state.SkipWithError("no fixture for this size");
    return nullptr;
  }
  const fixture& f = *it->second;
  if (!shared_verifier->verify(f.request)) {
    state.SkipWithError("the fixture's signature does not verify");
    return nullptr;
  }
  if (shared_verifier->verify(f.wrong_request)) {
    state.SkipWithError("the fixture's wrong signature verifies");
    return nullptr;
  }
  const auto ev = hookrx::parse_event(hookrx::provider::perfectparser, f.body);
  if (!ev || !ev->is<hookrx::document_completed>() ||
      ev->get_if<hookrx::document_completed>()->extracted_data.empty()) {
    state.SkipWithError("the fixture's body does not parse as a document_completed with extracted_data");
    return nullptr;
  }
  if (shared_receiver->handle(f.request).status != 200) {
    state.SkipWithError("the receiver does not answer the fixture with 200");
    return nullptr;
  }
  return &f;
}

void finish(benchmark::State& state, const fixture& f, const allocation_probe& probe) {
  probe.report(state);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(f.body.size()));
}

struct mac_free {
  void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
  void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};

// An HMAC-SHA256 context with `signing_secret` as its key, as hookrx prepares its templates.
std::unique_ptr<EVP_MAC_CTX, mac_free> prepared_hmac() {
  const std::unique_ptr<EVP_MAC, mac_free> alg(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!alg) return nullptr;
  std::unique_ptr<EVP_MAC_CTX, mac_free> ctx(EVP_MAC_CTX_new(alg.get()));
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                               OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(signing_secret.data()),
                           signing_secret.size(), params) != 1) {
    return nullptr;
  }
  return ctx;
}

const unsigned char* bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// ---------------------------------------------------------------------------------------------
// Floors.

void BM_floor_hmac_reinit(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  auto ctx = prepared_hmac();
  if (!ctx) {
    state.SkipWithError("could not prepare an HMAC context");
    return;
  }
  std::array<unsigned char, 32> out{};
  std::size_t len = 0;
  const allocation_probe probe;
  for (auto _ : state) {
    const bool ok = EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) == 1 &&
                    EVP_MAC_update(ctx.get(), bytes(f->body), f->body.size()) == 1 &&
                    EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) == 1;
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out);
  }
  finish(state, *f, probe);
}

void BM_floor_hmac_dup(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  auto tmpl = prepared_hmac();
  if (!tmpl) {
    state.SkipWithError("could not prepare an HMAC context");
    return;
  }
  std::array<unsigned char, 32> out{};
  std::size_t len = 0;
  const allocation_probe probe;
  for (auto _ : state) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(tmpl.get());
    const bool ok = ctx != nullptr && EVP_MAC_update(ctx, bytes(f->body), f->body.size()) == 1 &&
                    EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1;
    EVP_MAC_CTX_free(ctx);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out);
  }
  finish(state, *f, probe);
}

void BM_naive_hmac_oneshot(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  const allocation_probe probe;
  for (auto _ : state) {
    const unsigned char* r = HMAC(EVP_sha256(), signing_secret.data(), static_cast<int>(signing_secret.size()),
                                  bytes(f->body), f->body.size(), out.data(), &len);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out);
  }
  finish(state, *f, probe);
}

void BM_simdjson_floor(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  simdjson::ondemand::parser parser;
  const auto read_fields = [&](std::array<std::string_view, 4>& out) {
    simdjson::ondemand::document doc;
    if (parser.iterate(*f->padded).get(doc) != simdjson::SUCCESS) return false;
    return doc["event"].get_string().get(out[0]) == simdjson::SUCCESS &&
           doc["extraction_id"].get_string().get(out[1]) == simdjson::SUCCESS &&
           doc["document_id"].get_string().get(out[2]) == simdjson::SUCCESS &&
           doc["status"].get_string().get(out[3]) == simdjson::SUCCESS;
  };
  std::array<std::string_view, 4> fields;
  if (!read_fields(fields) || fields[0] != "extraction.document_completed") {
    state.SkipWithError("simdjson could not read the fixture's fields");
    return;
  }
  const allocation_probe probe;
  for (auto _ : state) {
    const bool ok = read_fields(fields);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(fields);
  }
  finish(state, *f, probe);
}

// ---------------------------------------------------------------------------------------------
// hookrx.

void BM_verify(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  const allocation_probe probe;
  for (auto _ : state) {
    auto r = shared_verifier->verify(f->request);
    benchmark::DoNotOptimize(r);
  }
  finish(state, *f, probe);
}

void BM_verify_mismatch(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  const allocation_probe probe;
  for (auto _ : state) {
    auto r = shared_verifier->verify(f->wrong_request);
    benchmark::DoNotOptimize(r);
  }
  finish(state, *f, probe);
}

void BM_parse(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  const allocation_probe probe;
  for (auto _ : state) {
    auto ev = hookrx::parse_event(hookrx::provider::perfectparser, f->body);
    benchmark::DoNotOptimize(ev);
  }
  finish(state, *f, probe);
}

void BM_parse_reused(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  hookrx::event ev;
  const allocation_probe probe;
  for (auto _ : state) {
    const hookrx::status st = hookrx::parse_event(hookrx::provider::perfectparser, f->body, ev);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(ev);
  }
  finish(state, *f, probe);
}

void BM_pipeline(benchmark::State& state) {
  const fixture* f = checked_fixture(state);
  if (f == nullptr) return;
  const allocation_probe probe;
  for (auto _ : state) {
    hookrx::response res = shared_receiver->handle(f->request);
    benchmark::DoNotOptimize(res);
  }
  finish(state, *f, probe);
}

// What a thread keeps once a body of this size has been parsed: the parser's buffers grow with the
// largest body read. The thread's parser starts from a 1 KiB body's buffers (a 128 KiB body first
// lets go of whatever an earlier benchmark grew), so only growth counts.
void BM_heap_kept(benchmark::State& state) {
  const std::string small = make_body(1024);
  const std::string body = make_body(static_cast<std::size_t>(state.range(0)));
  if (body.size() != static_cast<std::size_t>(state.range(0)) ||
      !hookrx::parse_event(hookrx::provider::perfectparser, make_body(128 * 1024)) ||
      !hookrx::parse_event(hookrx::provider::perfectparser, small)) {
    state.SkipWithError("could not build or parse the bodies");
    return;
  }
  const auto in_use = [] {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  const std::size_t before = in_use();
  for (auto _ : state) {
    auto ev = hookrx::parse_event(hookrx::provider::perfectparser, body);
    benchmark::DoNotOptimize(ev);
  }  // each event, with its own copy of the body, is gone by the end of its iteration
  state.counters["heap_kept_bytes"] = static_cast<double>(in_use()) - static_cast<double>(before);
}

// The three body sizes, and a "min" aggregate besides mean/median/stddev/cv: on a shared machine
// noise only ever adds time, so the fastest repetition is the steadiest estimate of the cost.
void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(256)->Arg(1024)->Arg(65536);
  b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
}

BENCHMARK(BM_floor_hmac_reinit)->Apply(sizes);
BENCHMARK(BM_floor_hmac_dup)->Apply(sizes);
BENCHMARK(BM_naive_hmac_oneshot)->Apply(sizes);
BENCHMARK(BM_verify)->Apply(sizes);
BENCHMARK(BM_verify_mismatch)->Apply(sizes);
BENCHMARK(BM_parse)->Apply(sizes);
BENCHMARK(BM_parse_reused)->Apply(sizes);
BENCHMARK(BM_simdjson_floor)->Apply(sizes);
BENCHMARK(BM_pipeline)->Apply(sizes);
BENCHMARK(BM_heap_kept)->Arg(65536)->Arg(1 << 20)->Iterations(20);
// One shared verifier / receiver from two threads: wall time per delivery should halve on two
// free cores if nothing serialises them. Run these on two cores (see RESULTS.md). The floor runs
// threaded too (one context per thread): OpenSSL 3.0's re-init has shared state of its own.
BENCHMARK(BM_floor_hmac_reinit)->Apply(sizes)->Threads(2)->UseRealTime();
BENCHMARK(BM_verify)->Apply(sizes)->Threads(2)->UseRealTime();
BENCHMARK(BM_pipeline)->Apply(sizes)->Threads(2)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  // Before anything touches OpenSSL: it refuses new allocators once it has allocated.
  if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1) {
    static_cast<void>(std::fprintf(stderr, "CRYPTO_set_mem_functions failed: OpenSSL allocated before main()\n"));
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!build_fixtures()) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
