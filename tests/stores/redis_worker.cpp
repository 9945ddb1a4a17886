// A second (and third) process for the Redis store's cross-process test: claims every one of
// `keys` keys from `threads` threads at once, completes what it won, and prints one digit per key:
// how many of its claims won that key. The test adds the digits of two such processes up.
//
//   hookrx_store_redis_worker PORT PREFIX KEYS THREADS START_AT_MS
//
// START_AT_MS (system clock, milliseconds since the epoch) lines the processes up, so that their
// claims really race. Exit status 0 when every call answered, 1 otherwise (details on stderr).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "hookrx/redis_store.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PORT PREFIX KEYS THREADS START_AT_MS\n", argv[0]);
    return 2;
  }
  hookrx::redis_options options;
  options.port = static_cast<int>(std::strtol(argv[1], nullptr, 10));
  options.key_prefix = argv[2];
  const auto keys = static_cast<std::size_t>(std::strtoul(argv[3], nullptr, 10));
  const auto threads = static_cast<std::size_t>(std::strtoul(argv[4], nullptr, 10));
  const std::chrono::system_clock::time_point start_at{std::chrono::milliseconds(std::strtoll(argv[5], nullptr, 10))};
  options.pool_size = threads;
  options.timeout = std::chrono::seconds(5);

  auto store = hookrx::redis_store::open(options);
  if (!store) {
    std::fprintf(stderr, "worker: open: %s\n", store.error().message().c_str());
    return 1;
  }
  std::vector<std::atomic<int>> wins(keys);
  std::atomic<int> failures{0};
  std::this_thread::sleep_until(start_at);

  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      // Every thread tries every key, starting at a different one, so threads race as well.
      for (std::size_t n = 0; n < keys; ++n) {
        const std::size_t i = (n + t * keys / threads) % keys;
        const std::string key = "k" + std::to_string(i);
        auto c = (*store)->try_claim(key, std::chrono::minutes(5));
        if (!c) {
          std::fprintf(stderr, "worker: try_claim %s: %s\n", key.c_str(), c.error().message().c_str());
          ++failures;
          continue;
        }
        if (c->state != hookrx::claim_state::claimed) continue;
        ++wins[i];
        if (auto done = (*store)->complete(key, c->token, std::chrono::hours(1)); !done) {
          std::fprintf(stderr, "worker: complete %s: %s\n", key.c_str(), done.error().message().c_str());
          ++failures;
        }
      }
    });
  }
  for (auto& th : pool) th.join();

  std::string digits;
  for (auto& w : wins) digits += static_cast<char>('0' + std::min(w.load(), 9));
  std::printf("%s\n", digits.c_str());
  return failures.load() == 0 ? 0 : 1;
}
