// hookrx/receiver.hpp: the receive pipeline every adapter calls.
//
//   cap body size -> reject Content-Encoding -> authenticate -> parse -> accept -> response
//
// One receiver serves one endpoint of one provider. Configure it and register handlers first, then
// share it across all of a server's threads: handle() is const and takes no lock.
//
//   hookrx::perfectparser_credentials creds;
//   creds.signing_secrets = {std::getenv("PP_SIGNING_SECRET")};
//   auto rx = hookrx::receiver::create(creds);                     // result<receiver>
//   rx->on<hookrx::document_completed>([](const hookrx::document_completed& doc) { store(doc); });
//   hookrx::response res = rx->handle(request);                    // status + JSON body to send
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "hookrx/dispatch.hpp"
#include "hookrx/error.hpp"
#include "hookrx/events.hpp"
#include "hookrx/request.hpp"
#include "hookrx/response.hpp"
#include "hookrx/verify.hpp"

namespace hookrx {

/// The seam where delivery guarantees live: every authenticated, parsed event goes through one
/// acceptor, which runs the handlers now, queues the event durably, or recognises a duplicate.
/// `request` is the delivery the event came from (empty for events the poller fetched).
/// Implementations must be safe to call from many threads at once.
class acceptor {
 public:
  using completion = std::function<void(result<disposition>)>;
  virtual ~acceptor() = default;
  [[nodiscard]] virtual result<disposition> accept(event&& ev, const request_view& request,
                                                   const dispatcher& handlers) = 0;
  /// accept() that may finish later, on another thread: `done` is called exactly once, with what
  /// accept() would have returned. The event is read only before this returns; what `request`
  /// points at (body, headers, peer) stays valid until `done` has run, as receiver::handle_async()
  /// asks of its own caller, and so do `handlers`.
  /// An acceptor whose store commits in batches (the inbox on SQLite) overrides it, so that a
  /// server thread goes on serving other connections while a commit is pending instead of
  /// blocking on it. The default calls accept() and then `done`. Never throws.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): by value, so that overrides keep it
  virtual void accept_async(event&& ev, const request_view& request, const dispatcher& handlers, completion done) {
    done(accept(std::move(ev), request, handlers));
  }
};

/// Runs the handlers inline with no deduplication: the receiver's default until a store is set.
class inline_acceptor final : public acceptor {
 public:
  [[nodiscard]] result<disposition> accept(event&& ev, const request_view& request,
                                           const dispatcher& handlers) override;
};

struct receiver_options {
  /// Larger bodies are refused with 413 (errc::body_too_large) before anything else reads them.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  /// Run handlers for vendor test deliveries (`"test": true`) instead of only acknowledging them.
  bool dispatch_test_deliveries = false;
};

class receiver {
 public:
  using error_handler = std::function<void(const request_view&, const error&)>;

  /// A receiver for PerfectParser deliveries; fails as perfectparser_verifier::create() does.
  [[nodiscard]] static result<receiver> create(const perfectparser_credentials& credentials,
                                               receiver_options options = {});
  /// A receiver for Parashift deliveries; fails as parashift_verifier::create() does.
  [[nodiscard]] static result<receiver> create(const parashift_credentials& credentials, receiver_options options = {});

  template <class T, class F>
  receiver& on(F&& fn) {
    handlers_.on<T>(std::forward<F>(fn));
    return *this;
  }
  template <class F>
  receiver& on_unknown(F&& fn) {
    handlers_.on_unknown(std::forward<F>(fn));
    return *this;
  }
  template <class F>
  receiver& on_any(F&& fn) {
    handlers_.on_any(std::forward<F>(fn));
    return *this;
  }
  /// See dispatcher::on_batch: with an inbox, a worker's leased batch in one call.
  receiver& on_batch(dispatcher::batch_handler fn) {
    handlers_.on_batch(std::move(fn));
    return *this;
  }
  /// Called for every delivery that is not acknowledged (rejected, or failed in processing), for
  /// logging and metrics. The error never contains a secret.
  receiver& on_error(error_handler fn) {
    error_handlers_.push_back(std::move(fn));
    return *this;
  }
  /// Replaces the inline acceptor (dedup, durable inbox). Call before serving.
  receiver& accept_with(std::shared_ptr<acceptor> a) {
    acceptor_ = std::move(a);
    return *this;
  }

  /// Runs the pipeline and returns the outcome: a disposition (2xx) or the error that stopped it.
  [[nodiscard]] result<disposition> receive(const request_view& request) const;
  /// receive() mapped to the response to send.
  [[nodiscard]] response handle(const request_view& request) const { return make_response(receive(request)); }
  /// handle() for servers that can answer later: `done` gets the response exactly once, possibly
  /// before this returns, possibly on another thread (the acceptor's; see acceptor::accept_async).
  /// What `request` points at (headers, body, peer) must stay valid until `done` has run. The
  /// on_error handlers run on the thread that calls `done`, and the receiver must outlive it (with
  /// the inbox: stop the server, then inbox_store::wait_async(), then destroy the receiver).
  void handle_async(const request_view& request, std::function<void(response)> done) const;
  /// For a request the server refused before its body reached the core (the server's own body
  /// limit, a body it transformed): runs the on_error handlers and returns the response, exactly
  /// as for a request the core refuses itself. `request` may have no body.
  [[nodiscard]] response refuse(const request_view& request, error why) const;

  [[nodiscard]] provider source() const noexcept;
  [[nodiscard]] const receiver_options& options() const noexcept { return options_; }
  [[nodiscard]] const dispatcher& handlers() const noexcept { return handlers_; }

 private:
  using verifier = std::variant<perfectparser_verifier, parashift_verifier>;
  receiver(verifier v, receiver_options options);
  [[nodiscard]] result<disposition> run(const request_view& request) const;
  // Everything before the acceptor: an outcome when the pipeline stops early, nullopt with `ev`
  // ready for the acceptor otherwise.
  [[nodiscard]] std::optional<result<disposition>> prepare(const request_view& request, event& ev) const;
  void notify_error(const request_view& request, const error& e) const;

  verifier verifier_;
  receiver_options options_;
  dispatcher handlers_;
  std::vector<error_handler> error_handlers_;
  std::shared_ptr<acceptor> acceptor_;
};

}  // namespace hookrx
