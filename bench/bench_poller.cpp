// API requests per recovered document: the fallback poller against the fake API over loopback HTTP
// (the real client, the real rate budget on real time), webhooks fed straight into the acceptor.
//
// Goal: one list call per page + one call per extraction that misses something + one call per
// missing document; zero for documents (and extractions) already handled; zero beyond the budget.
// Prints one Markdown table row per scenario (bench/RESULTS.md keeps them).
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fake_api.hpp"
#include "hookrx/api.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/memory_store.hpp"
#include "hookrx/poller.hpp"

namespace {

using namespace std::chrono_literals;

struct scenario {
  const char* name;
  int extractions;
  int documents;        // per extraction
  double dropped;       // of document webhooks
  double jobs_dropped;  // of job webhooks
  bool register_ids;    // watch() every extraction (else only webhooks and the sweep find them)
  double api_faults;    // of API calls, half 429 and half 5xx
  int budget_per_minute;
};

void run(const scenario& sc) {
  hookrx::testing::fake_api_options fo;
  fo.window = std::chrono::seconds(2);  // a 429 resets within 2 s
  fo.faults.fraction_429 = sc.api_faults / 2;
  fo.faults.fraction_5xx = sc.api_faults / 2;
  auto api = hookrx::testing::fake_api::start(fo);
  if (!api) {
    std::fprintf(stderr, "cannot start the fake API\n");
    return;
  }
  auto clock = std::make_shared<hookrx::manual_clock>();
  std::vector<hookrx::testing::fake_extraction> exts;
  for (int i = 0; i < sc.extractions; ++i) {
    exts.push_back(hookrx::testing::make_extraction("ext_" + std::to_string(i), sc.documents, "completed",
                                                    hookrx::to_iso8601(clock->now() - 1h + std::chrono::seconds(i))));
    api->put_extraction(exts.back());
  }
  auto store = hookrx::memory_store::create({}, clock);
  hookrx::dispatcher handlers;
  auto box = hookrx::inbox::create(store, handlers, {}, clock);
  hookrx::rate_budget_options ro;
  ro.requests_per_minute = sc.budget_per_minute;
  hookrx::perfectparser_client_options co;
  co.base_url = api->base_url();
  co.api_key = api->options().api_key;
  co.budget = hookrx::rate_budget::create(ro);
  auto client = hookrx::perfectparser_client::create(co);
  if (!client) {
    std::fprintf(stderr, "%s\n", client.error().message().c_str());
    return;
  }
  auto pp = std::make_shared<hookrx::perfectparser_client>(std::move(*client));
  hookrx::poller_options po;
  po.instance_id = "bench";
  auto p = hookrx::poller::create(store, store, store, hookrx::poller_api_of(pp, nullptr), handlers, po, clock);
  if (!p) return;
  auto poller = *p;
  auto accept = poller->wrap(box->acceptor());

  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::size_t missing = 0;
  for (const auto& x : exts) {
    if (sc.register_ids) (void)poller->watch(x.extraction_id);
    for (const auto& d : x.documents) {
      if (u(rng) < sc.dropped) {
        ++missing;
        continue;
      }
      auto ev = hookrx::parse_event(hookrx::provider::perfectparser, hookrx::testing::document_webhook_body(x, d));
      if (ev) (void)accept->accept(std::move(*ev), hookrx::request_view(), handlers);
    }
    if (u(rng) >= sc.jobs_dropped) {
      auto ev = hookrx::parse_event(hookrx::provider::perfectparser, hookrx::testing::job_webhook_body(x));
      if (ev) (void)accept->accept(std::move(*ev), hookrx::request_view(), handlers);
    }
  }
  clock->advance(15min);
  const auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < 4; ++round) {
    (void)poller->run_once();
    while (true) {
      auto pass = box->process_due();
      if (!pass || pass->handled == 0) break;
    }
    clock->advance(6min);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto c = poller->counters();
  const std::size_t total = api->count();
  const std::size_t lists = api->count("list_extractions");
  const std::size_t exts_calls = api->count("get_extraction");
  const std::size_t docs = api->count("get_document");
  const double per_doc =
      c.documents_recovered > 0 ? static_cast<double>(total) / static_cast<double>(c.documents_recovered) : 0.0;
  std::printf("| %s | %d x %d | %zu | %llu | %zu | %zu | %zu | %zu | %.2f | %zu / %d | %.1f s |\n", sc.name,
              sc.extractions, sc.documents, missing, static_cast<unsigned long long>(c.documents_recovered), lists,
              exts_calls, docs, total, per_doc, api->max_in_window(60s), sc.budget_per_minute, seconds);
  std::fflush(stdout);
}

}  // namespace

int main() {
  std::printf(
      "| scenario | extractions x docs | webhooks lost | recovered | list calls | extraction calls | "
      "document calls | requests | requests / recovered doc | max in 60 s / budget | wall |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  const std::vector<scenario> scenarios = {
      {"all webhooks came", 50, 10, 0.0, 0.0, true, 0.0, 120},
      {"30 % document webhooks lost, jobs came", 50, 10, 0.3, 0.0, true, 0.0, 120},
      {"5 % lost, 30 % of jobs lost", 50, 10, 0.05, 0.3, true, 0.0, 120},
      {"no webhook, nothing registered (sweep only)", 20, 10, 1.0, 1.0, false, 0.0, 120},
      {"30 % lost, 10 % of API calls 429/5xx", 50, 10, 0.3, 0.0, true, 0.1, 120},
      {"30 % lost, budget 60/min", 30, 10, 0.3, 0.0, true, 0.0, 60},
  };
  for (const auto& sc : scenarios) run(sc);
}
