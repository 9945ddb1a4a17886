// cli/wiring.hpp: options -> store, receivers, inbox, sinks, server. Nothing else builds components.
//
//   auto wired = hookrx::cli::wire(opts, log, stats);   // errc::invalid_config or store_unavailable
//   if (!wired) return fail(wired.error());
//   (*wired)->start();                                   // inbox workers, then the listener
//   ... (*wired)->shutdown(grace);                       // drain, finish sinks, return leases
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "config.hpp"
#include "hookrx/beast.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/store.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "sinks.hpp"

namespace hookrx::cli {

/// Everything `serve` runs, built from one options struct.
struct service {
  std::shared_ptr<inbox_store> store;
  std::shared_ptr<dedup_store> dedup;  ///< --dedup; null when the store dedups alone
  std::vector<std::unique_ptr<sink>> sinks;
  dispatcher handlers;  ///< the inbox's: every event to every sink
  std::shared_ptr<inbox> box;
  std::optional<receiver> perfectparser;
  std::optional<receiver> parashift;
  std::unique_ptr<beast_adapter::listener> server;
  /// --poll: the fallback poller's start and stop (empty without --poll).
  std::function<void()> start_poller;
  std::function<void()> stop_poller;

  /// True while the store answers (what /healthz reports).
  [[nodiscard]] bool store_healthy() const;
  /// The bound port (after start()).
  [[nodiscard]] std::uint16_t port() const { return server ? server->port() : 0; }

  /// Starts the inbox workers and the listener. errc::invalid_config when the address cannot be bound.
  [[nodiscard]] status start(const options& opts, const logger& log, metrics& stats);
  /// Stops accepting, lets requests and sink calls in flight finish within `grace` (past it,
  /// running sink calls are cut short and retried later), returns unstarted leases. True when
  /// everything finished in time.
  bool shutdown(std::chrono::milliseconds grace, const logger& log);
};

[[nodiscard]] result<std::unique_ptr<service>> wire(const options& opts, const logger& log, metrics& stats);

}  // namespace hookrx::cli
