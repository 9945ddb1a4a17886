// Accepted deliveries per second through the whole pipeline (verify, parse, accept) with each store
// backend, at 1, 8 and 64 concurrent senders, with the latency of each accept (p50, p99).
//
//   bench_stores [--deliveries N] [--only memory|sqlite|postgres|redis] [--senders N] [--mode inbox|sync]
//   HOOKRX_BENCH_PG_CONNINFO="host=127.0.0.1 port=... user=hookrx dbname=..."   (PostgreSQL runs)
//   HOOKRX_BENCH_REDIS_PORT=6390                                               (Redis runs)
//
// Inbox backends (memory, SQLite, PostgreSQL) are measured as the asynchronous receiver: each
// delivery is stored durably before it is answered 202, workers not started (the benchmark is the
// acknowledgement path). Redis (dedup only) and memory also run as the synchronous receiver with an
// empty handler: claim, handler, complete. Every delivery is new (distinct keys), 1 KiB, signed.
// --senders and --mode narrow a run to one sender count and one receiver mode (for A/B comparisons).
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hookrx/inbox.hpp"
#include "hookrx/memory_store.hpp"
#include "hookrx/sqlite_store.hpp"
#ifdef HOOKRX_BENCH_HAVE_POSTGRES
#include "hookrx/postgres_store.hpp"
#endif
#ifdef HOOKRX_BENCH_HAVE_REDIS
#include "hookrx/redis_store.hpp"
#endif

namespace {

using clock_type = std::chrono::steady_clock;
constexpr const char* secret = "wh_sec_bench_stores_0123456789";

struct delivery {
  std::string body;
  std::string signature;
};

std::string hex_hmac(const std::string& body) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret, static_cast<int>(std::strlen(secret)), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), mac, &len);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 0xF];
  }
  return out;
}

// A 1 KiB document_completed event with a unique document id.
delivery make_delivery(const std::string& run, std::size_t i) {
  std::string body = R"({"event":"extraction.document_completed","extraction_id":"ext_)" + run +
                     R"(","document_id":"doc_)" + std::to_string(i) +
                     R"(","status":"completed","parser_id":"prs_1","filename":"invoice.pdf","page_count":3,)"
                     R"("created_at":"2026-06-20T10:00:00.000Z","updated_at":"2026-06-20T10:00:45.000Z",)"
                     R"("extracted_data":{"notes":")";
  body += std::string(1024 - body.size() - 4, 'x');
  body += "\"}}";
  return {body, hex_hmac(body)};
}

struct run_result {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::size_t failures = 0;
};

run_result run(hookrx::receiver& rx, int senders, std::size_t deliveries, const std::string& run_id,
               int expected_status) {
  std::vector<delivery> all;
  all.reserve(deliveries);
  for (std::size_t i = 0; i < deliveries; ++i) all.push_back(make_delivery(run_id, i));
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(senders));
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> failures{0};
  const auto start = clock_type::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = latencies[static_cast<std::size_t>(t)];
      for (std::size_t i = next++; i < all.size(); i = next++) {
        const hookrx::header_view headers[] = {{"Content-Type", "application/json"},
                                               {"X-PerfectParser-Signature", all[i].signature}};
        const auto begin = clock_type::now();
        const hookrx::response res = rx.handle(hookrx::request_view(all[i].body, headers));
        mine.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - begin).count());
        if (res.status != expected_status) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  std::vector<double> merged;
  for (const auto& l : latencies) merged.insert(merged.end(), l.begin(), l.end());
  std::sort(merged.begin(), merged.end());
  run_result r;
  r.per_second = static_cast<double>(deliveries) / seconds;
  r.p50_ms = merged[merged.size() / 2];
  r.p99_ms = merged[merged.size() * 99 / 100];
  r.failures = failures;
  return r;
}

hookrx::receiver make_receiver() {
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {secret};
  auto rx = hookrx::receiver::create(creds);
  if (!rx) std::abort();
  rx->on<hookrx::document_completed>([](const hookrx::document_completed&) {});
  return std::move(rx).value();
}

void report(const char* backend, int senders, const run_result& r, const std::string& extra = {}) {
  std::printf("| %-10s | %3d | %10.0f | %7.3f | %7.3f | %zu | %s\n", backend, senders, r.per_second, r.p50_ms, r.p99_ms,
              r.failures, extra.c_str());
  std::fflush(stdout);
}

// The sender counts to run: 1, 8 and 64, or the one asked for.
std::vector<int> sender_counts(int only) { return only > 0 ? std::vector<int>{only} : std::vector<int>{1, 8, 64}; }

void bench_inbox(const char* name, const std::function<std::shared_ptr<hookrx::inbox_store>()>& open,
                 std::size_t deliveries, int only_senders, const std::function<std::string()>& stats = {}) {
  for (int senders : sender_counts(only_senders)) {
    hookrx::receiver rx = make_receiver();
    const std::shared_ptr<hookrx::inbox_store> store = open();
    if (!store) return;
    auto box = hookrx::inbox::create(store, rx.handlers());
    rx.accept_with(box->acceptor());
    const run_result r =
        run(rx, senders, deliveries,
            std::string(name) + std::to_string(senders) + std::to_string(clock_type::now().time_since_epoch().count()),
            202);
    report(name, senders, r, stats ? stats() : std::string());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t deliveries = 20000;
  std::string only;
  std::string mode;  // inbox, sync, or both
  int only_senders = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--deliveries") == 0) deliveries = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
    if (std::strcmp(argv[i], "--senders") == 0) only_senders = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
  }
  const auto wanted = [&](const char* b) { return only.empty() || only == b; };
  const bool inbox_mode = mode.empty() || mode == "inbox";
  const bool sync_mode = mode.empty() || mode == "sync";
  std::printf(
      "| backend | senders | deliveries/s | p50 ms | p99 ms | failures | notes\n|---|---:|---:|---:|---:|---:|---|\n");

  if (wanted("memory")) {
    if (inbox_mode) {
      bench_inbox(
          "memory", [] { return hookrx::memory_store::create(); }, deliveries * 5, only_senders);
    }
    // The synchronous mode: claim, empty handler, complete.
    for (int senders : sync_mode ? sender_counts(only_senders) : std::vector<int>{}) {
      hookrx::receiver rx = make_receiver();
      hookrx::dedup_options sync;
      sync.deadline = std::chrono::milliseconds(0);
      rx.accept_with(std::make_shared<hookrx::dedup_acceptor>(hookrx::memory_store::create(), sync));
      report("memory", senders, run(rx, senders, deliveries * 5, "sync" + std::to_string(senders), 200),
             "synchronous dedup");
    }
  }
  if (wanted("sqlite") && inbox_mode) {
    const auto dir = std::filesystem::temp_directory_path() / "hookrx-bench-stores";
    std::shared_ptr<hookrx::sqlite_store> current;
    bench_inbox(
        "sqlite",
        [&]() -> std::shared_ptr<hookrx::inbox_store> {
          current.reset();
          std::filesystem::remove_all(dir);
          std::filesystem::create_directories(dir);
          hookrx::sqlite_options options;
          options.path = (dir / "bench.db").string();
          auto s = hookrx::sqlite_store::open(options);
          if (!s) {
            std::fprintf(stderr, "sqlite: %s\n", s.error().message().c_str());
            return nullptr;
          }
          current = *s;
          return current;
        },
        deliveries, only_senders,
        [&] {
          const auto st = current->stats();
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.1f writes per commit",
                        static_cast<double>(st.writes) / static_cast<double>(st.commits));
          return std::string(buf);
        });
    std::filesystem::remove_all(dir);
  }
#ifdef HOOKRX_BENCH_HAVE_POSTGRES
  if (const char* conninfo = std::getenv("HOOKRX_BENCH_PG_CONNINFO");
      conninfo != nullptr && wanted("postgres") && inbox_mode) {
    int n = 0;
    bench_inbox(
        "postgres",
        [&]() -> std::shared_ptr<hookrx::inbox_store> {
          hookrx::postgres_options options;
          options.conninfo = conninfo;
          options.schema = "bench_" + std::to_string(++n) + "_" +
                           std::to_string(clock_type::now().time_since_epoch().count() % 100000);
          options.pool_size = 16;
          auto s = hookrx::postgres_store::open(options);
          if (!s) {
            std::fprintf(stderr, "postgres: %s\n", s.error().message().c_str());
            return nullptr;
          }
          return *s;
        },
        deliveries / 4, only_senders);
  }
#endif
#ifdef HOOKRX_BENCH_HAVE_REDIS
  if (const char* port = std::getenv("HOOKRX_BENCH_REDIS_PORT"); port != nullptr && wanted("redis") && sync_mode) {
    for (int senders : sender_counts(only_senders)) {
      hookrx::redis_options options;
      options.port = std::atoi(port);
      options.pool_size = 16;
      options.key_prefix = "bench" + std::to_string(clock_type::now().time_since_epoch().count()) + ":";
      auto s = hookrx::redis_store::open(options);
      if (!s) {
        std::fprintf(stderr, "redis: %s\n", s.error().message().c_str());
        break;
      }
      hookrx::receiver rx = make_receiver();
      hookrx::dedup_options sync;
      sync.deadline = std::chrono::milliseconds(0);  // handlers inline: measure the store
      rx.accept_with(std::make_shared<hookrx::dedup_acceptor>(*s, sync));
      report("redis", senders, run(rx, senders, deliveries / 2, options.key_prefix, 200), "synchronous dedup");
    }
  }
#endif
  return 0;
}
