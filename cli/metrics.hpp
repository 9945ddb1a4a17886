// cli/metrics.hpp: the binary's counters and histograms, rendered as Prometheus text (/metrics).
//
// Fed by the listener (every answer), the receivers' on_error hooks (rejections by reason), the
// acceptor (deliveries by provider, event and outcome; duplicates), and the sinks (latency, dead
// letters). Names follow the conventions: `hookrx_` prefix, `_total` counters, `_seconds`
// histograms. Labels hold codes and event names, never a secret or a key.
//
//   hookrx::cli::metrics m;
//   m.delivery("perfectparser", "extraction.document_completed", "queued");
//   std::string text = m.render();   // hookrx_deliveries_total{provider="perfectparser",...} 1
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace hookrx::cli {

class metrics {
 public:
  /// An accepted or refused delivery; `event` is empty when the body was never parsed.
  void delivery(std::string_view provider, std::string_view event, std::string_view outcome);
  /// A delivery refused by authentication, by reason (the error code).
  void verification_failure(std::string_view provider, std::string_view reason);
  /// Every HTTP answer the listener gave (or 408 for a request that timed out).
  void http_answer(std::string_view path, int status);
  /// One sink call: how many events it took and failed, and how long it took (every event of a
  /// batch waited that long).
  void sink_call(std::string_view sink, std::uint64_t ok, std::uint64_t failed, double seconds);
  /// Inbox accounting as seen by this process: queued by it, finished (handled or dead) by it.
  void queued() noexcept { queued_.fetch_add(1, std::memory_order_relaxed); }
  void handled() noexcept { handled_.fetch_add(1, std::memory_order_relaxed); }
  void retried() noexcept { retried_.fetch_add(1, std::memory_order_relaxed); }
  void dead_lettered() noexcept { dead_.fetch_add(1, std::memory_order_relaxed); }
  /// Where the inbox depth comes from (the store, every instance's entries; read at each scrape;
  /// nullopt leaves the gauge out, as when the store does not answer).
  void set_inbox_depth(std::function<std::optional<std::int64_t>()> read) {
    const std::lock_guard<std::mutex> lock(mutex_);
    depth_ = std::move(read);
  }
  /// The store's health as /healthz last saw it.
  void store_up(bool up) noexcept { store_up_.store(up, std::memory_order_relaxed); }

  [[nodiscard]] std::uint64_t dead_letters() const noexcept { return dead_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t handled_count() const noexcept { return handled_.load(std::memory_order_relaxed); }

  /// What the fallback poller did so far (read at each scrape).
  struct poller_numbers {
    std::uint64_t rounds = 0;
    std::uint64_t polls = 0;
    std::uint64_t documents_recovered = 0;
    std::uint64_t jobs_recovered = 0;
    std::uint64_t errors = 0;
  };
  void set_poller(std::function<poller_numbers()> read) {
    const std::lock_guard<std::mutex> lock(mutex_);
    poller_ = std::move(read);
  }
  /// The API clients' counters (calls by endpoint and outcome, 429s, waits), as Prometheus text.
  void set_api(std::function<std::string()> render) {
    const std::lock_guard<std::mutex> lock(mutex_);
    api_ = std::move(render);
  }
  /// An --enrich fetch and whether it succeeded.
  void enrich_call(bool ok) noexcept { (ok ? enrich_ok_ : enrich_failed_).fetch_add(1, std::memory_order_relaxed); }

  /// Prometheus text exposition format 0.0.4.
  [[nodiscard]] std::string render() const;

 private:
  static constexpr std::array<double, 12> buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   1.0,   5.0,  30.0};
  struct histogram {
    std::array<std::uint64_t, buckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  // Distinct event names kept as labels; more than this (a sender inventing names) become "other".
  static constexpr std::size_t max_event_labels = 200;

  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> deliveries_;  // labels text -> count
  std::map<std::string, std::uint64_t, std::less<>> verification_;
  std::map<std::string, std::uint64_t, std::less<>> http_;
  std::map<std::string, std::uint64_t, std::less<>> duplicates_;
  std::map<std::string, std::uint64_t, std::less<>> sink_calls_;
  std::map<std::string, histogram, std::less<>> sink_seconds_;
  std::map<std::string, bool, std::less<>> event_names_;
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> handled_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> dead_{0};
  std::atomic<bool> store_up_{true};
  std::atomic<std::uint64_t> enrich_ok_{0};
  std::atomic<std::uint64_t> enrich_failed_{0};
  std::function<poller_numbers()> poller_;
  std::function<std::string()> api_;
  std::function<std::optional<std::int64_t>()> depth_;
};

}  // namespace hookrx::cli
