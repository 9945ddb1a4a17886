// A second receiver instance for the PostgreSQL multi-process tests (test_postgres.cpp): opens
// the same schema, says "ready", waits for a line on stdin (so both processes start together),
// then hammers the store from several threads and prints what it won, one line each.
//
//   hookrx_store_postgres_worker claim CONNINFO_FILE SCHEMA NOW_MS THREADS KEYS   -> "claimed <key>"
//   hookrx_store_postgres_worker lease CONNINFO_FILE SCHEMA NOW_MS THREADS BATCH  -> "leased <id>"
// Ends with "done", or "error <message>" and exit status 1.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hookrx/postgres_store.hpp"

namespace {

int fail(const std::string& message) {
  std::cout << "error " << message << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) return fail("usage: claim|lease CONNINFO_FILE SCHEMA NOW_MS THREADS N");
  const std::string mode = argv[1];
  std::ifstream file(argv[2]);
  std::string conninfo;
  std::getline(file, conninfo);
  const std::string schema = argv[3];
  const auto now_ms = std::stoll(argv[4]);
  const auto threads = std::stoul(argv[5]);
  const auto n = std::stoul(argv[6]);

  auto clock = std::make_shared<hookrx::manual_clock>(hookrx::time_point(std::chrono::milliseconds(now_ms)));
  hookrx::postgres_options opt;
  opt.conninfo = conninfo;
  opt.schema = schema;
  opt.pool_size = threads;
  opt.timeout = std::chrono::seconds(10);
  auto store = hookrx::postgres_store::open(opt, clock);
  if (!store) return fail(store.error().message());

  std::cout << "ready" << std::endl;
  std::string go;
  std::getline(std::cin, go);

  std::mutex mu;
  std::vector<std::string> won;
  std::atomic<bool> failed{false};
  std::string failure;
  auto record_failure = [&](const std::string& m) {
    std::lock_guard<std::mutex> lock(mu);
    failed = true;
    failure = m;
  };

  std::vector<std::thread> pool;
  for (unsigned long t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      if (mode == "claim") {
        std::vector<unsigned long> order(n);
        for (unsigned long i = 0; i < n; ++i) order[i] = i;
        std::mt19937 rng(static_cast<unsigned>(t * 7919U + static_cast<unsigned>(now_ms & 0xffff)));
        std::shuffle(order.begin(), order.end(), rng);
        for (const unsigned long i : order) {
          const std::string key = "key-" + std::to_string(i);
          auto c = (*store)->try_claim(key, std::chrono::minutes(5));
          if (!c) return record_failure(c.error().message());
          if (c->state == hookrx::claim_state::claimed) {
            std::lock_guard<std::mutex> lock(mu);
            won.push_back(key);
          }
        }
      } else {
        for (;;) {
          auto batch = (*store)->lease(n, std::chrono::minutes(5));
          if (!batch) return record_failure(batch.error().message());
          if (batch->empty()) return;
          for (const auto& e : *batch) {
            if (auto a = (*store)->ack(e.id, e.lease_token, std::chrono::hours(1)); !a) {
              return record_failure(a.error().message());
            }
            std::lock_guard<std::mutex> lock(mu);
            won.push_back(std::to_string(e.id));
          }
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (failed) return fail(failure);
  const char* label = mode == "claim" ? "claimed " : "leased ";
  for (const auto& w : won) std::cout << label << w << '\n';
  std::cout << "done" << std::endl;
  return 0;
}
