// `hookrx serve`: the webhook endpoint. Loads the options, wires the service, serves until SIGTERM or
// SIGINT, then drains: stop accepting, finish requests and sink calls in flight within --grace,
// return unstarted leases, exit 0. A second signal exits at once.
#include <pthread.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "config.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "wiring.hpp"

namespace hookrx::cli {
namespace {

int serve(const options& opts) {
  const logger log(opts.log_level);
  if (status st = validate_for_serve(opts); !st) {
    log.error("refusing to start", {{"error", st.error().detail()}});
    return exit_config;
  }

  // Signals are taken by sigwait() on this thread only: block them before any thread starts, so
  // every thread inherits the mask. A sink command whose reader went away must not kill us.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // NOLINT(cert-err33-c)

  metrics stats;
  result<std::unique_ptr<service>> svc = wire(opts, log, stats);
  if (!svc) {
    log.error("refusing to start", {{"error", svc.error().message()}});
    return svc.error() == errc::invalid_config ? exit_config : 1;
  }
  if (status st = (*svc)->start(opts, log, stats); !st) {
    log.error("refusing to start", {{"error", st.error().detail()}});
    return exit_config;
  }
  std::string routes;
  if ((*svc)->perfectparser) routes += "/webhooks/perfectparser ";
  if ((*svc)->parashift) routes += "/webhooks/parashift ";
  routes += "/healthz /metrics";
  const std::string store = opts.store.type == store_url::kind::sqlite   ? "sqlite:" + opts.store.location
                            : opts.store.type == store_url::kind::memory ? std::string("memory:")
                                                                         : std::string("postgresql");
  log.info("listening", {{"address", opts.listen_host},
                         {"port", static_cast<int>((*svc)->port())},
                         {"routes", routes},
                         {"store", store},
                         {"sinks", static_cast<int>((*svc)->sinks.size())},
                         {"version", version()}});

  // First signal: drain on another thread while this one keeps listening for a second.
  std::atomic<bool> drained{false};
  std::atomic<bool> clean{true};
  std::thread drainer;
  int first = 0;
  for (;;) {
    timespec tick{0, 100'000'000};
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig > 0 && first == 0) {
      first = sig;
      log.info("draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                            {"grace_ms", static_cast<std::int64_t>(opts.grace.count())}});
      drainer = std::thread([&] {
        clean = (*svc)->shutdown(opts.grace, log);
        drained = true;
      });
    } else if (sig > 0) {
      log.warn("second signal: exiting now");
      _exit(128 + sig);
    }
    if (drained) break;
  }
  drainer.join();
  log.info("stopped",
           {{"clean", clean.load()}, {"handled", stats.handled_count()}, {"dead_letters", stats.dead_letters()}});
  stats.set_poller({});  // the poller goes with the service it reads, before the handlers it uses
  svc->reset();
  return 0;
}

}  // namespace

void add_serve(CLI::App& app, std::vector<command>& commands) {
  CLI::App* sub =
      app.add_subcommand("serve", "receive webhooks: verify, dedup, store, then hand each event to the sinks");
  auto loader = std::make_shared<config_loader>();
  loader->add_flags(*sub);
  commands.push_back({sub, [loader]() -> int {
                        result<options> opts = loader->load();
                        if (!opts) {
                          logger(options::level::info).error("refusing to start", {{"error", opts.error().detail()}});
                          return exit_config;
                        }
                        return serve(*opts);
                      }});
}

}  // namespace hookrx::cli
