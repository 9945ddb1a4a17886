// hookrx/dispatch.hpp: typed handler registration and dispatch.
//
// A handler takes the typed payload, and optionally the delivery context (idempotency key, attempt
// number) so that side effects outside hookrx can be made idempotent too. It returns void or
// hookrx::status; a returned error or a thrown exception is a failure, and the sender (or the
// inbox) retries the delivery.
//
//   hookrx::dispatcher d;
//   d.on<hookrx::document_completed>([](const hookrx::document_completed& doc, const hookrx::delivery_context& ctx) {
//     db.upsert(ctx.key(), doc.document_id, doc.extracted_data);      // idempotent by key
//   });
//   d.on_unknown([](const hookrx::unknown_event&, const hookrx::delivery_context& ctx) { log(ctx.ev.name()); });
//
// A handler that writes somewhere (a file, a socket, a database) can take events several at a
// time instead, and share one write, one fsync or one round trip among them: the inbox hands a
// worker's whole leased batch to on_batch handlers in one call.
//
//   d.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
//     for (auto& e : batch) file.append(e.ctx.key(), e.ctx.ev.raw_json());
//     if (!file.sync()) for (auto& e : batch) e.outcome = hookrx::error(hookrx::errc::handler_failed, "fsync");
//   });
#pragma once

#include <array>
#include <functional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hookrx/error.hpp"
#include "hookrx/events.hpp"

namespace hookrx {

/// What a handler learns besides the payload.
struct delivery_context {
  const event& ev;
  /// 1 for the first attempt; the inbox counts retries from there.
  int attempt = 1;
  [[nodiscard]] const std::string& key() const noexcept { return ev.key(); }
  /// webhook, or poll when the fallback poller fetched the event because its webhook was missing
  /// (a non-zero rate of those means webhooks are being lost).
  [[nodiscard]] delivery_origin origin() const noexcept { return ev.origin(); }
};

/// One event of a batch given to on_batch handlers: its context and its outcome, which arrives
/// as success; the handler sets an error on each entry that failed (that entry alone is retried).
struct batch_entry {
  delivery_context ctx;
  status outcome;
};

/// Handlers by event type. Register everything before dispatching; dispatch() is then const and
/// safe to call from any number of threads.
class dispatcher {
 public:
  using handler = std::function<status(const event&, const delivery_context&)>;
  using batch_handler = std::function<void(std::vector<batch_entry>&)>;

  /// Registers `fn` for events of type T (one of event::payload's alternatives). `fn` is called as
  /// fn(const T&, const delivery_context&) or fn(const T&), and returns void or status.
  template <class T, class F>
  dispatcher& on(F&& fn) {
    constexpr std::size_t index = detail_index<T>();
    typed_[index].push_back([f = std::forward<F>(fn)](const event& ev, const delivery_context& ctx) -> status {
      return invoke_handler(f, *ev.get_if<T>(), ctx);
    });
    return *this;
  }
  /// Sugar for on<unknown_event>(fn).
  template <class F>
  dispatcher& on_unknown(F&& fn) {
    return on<unknown_event>(std::forward<F>(fn));
  }
  /// Registers `fn` for every event, after the typed handlers: fn(const event&, const delivery_context&)
  /// or fn(const event&).
  template <class F>
  dispatcher& on_any(F&& fn) {
    any_.push_back([f = std::forward<F>(fn)](const event& ev, const delivery_context& ctx) -> status {
      return invoke_handler(f, ev, ctx);
    });
    return *this;
  }

  /// Registers `fn` for every event, after the typed and on_any handlers, several events per call:
  /// fn(std::vector<batch_entry>&) gets the entries whose other handlers succeeded and sets an
  /// error outcome on each one it fails. dispatch() calls it with one entry, dispatch_batch() with
  /// all. An exception it throws fails every entry of the call.
  dispatcher& on_batch(batch_handler fn);

  /// Runs the typed handlers for `ev`, then the on_any handlers, then the on_batch handlers,
  /// stopping at the first failure (errc::handler_failed). An event nobody handles succeeds: it is
  /// acknowledged and dropped.
  [[nodiscard]] status dispatch(const event& ev, int attempt = 1) const;
  /// dispatch() for several events at once: each entry's typed and on_any handlers, then every
  /// on_batch handler once with the entries that have not failed. Sets each entry's outcome (an
  /// error is errc::handler_failed); entries that arrive failed are skipped. `go_on`, when given,
  /// is asked before each entry and each on_batch handler starts: once it answers false nothing
  /// more starts, and every entry not finished gets errc::in_progress (the inbox's lease ran out,
  /// or it is shutting down: the entry is left for whoever holds it next).
  void dispatch_batch(std::vector<batch_entry>& entries, const std::function<bool()>& go_on = {}) const;
  /// Whether any on_batch handler is registered. Without one the inbox acknowledges each event as
  /// soon as its handlers succeed; with one, a batch's events together after the batch handlers.
  [[nodiscard]] bool has_batch_handlers() const noexcept { return !batch_.empty(); }

 private:
  template <class T, std::size_t I = 0>
  static constexpr std::size_t detail_index() {
    static_assert(I < std::variant_size_v<event::payload>, "T is not an event type (see event::payload)");
    if constexpr (std::is_same_v<T, std::variant_alternative_t<I, event::payload>>) {
      return I;
    } else {
      return detail_index<T, I + 1>();
    }
  }

  template <class F, class A>
  static status invoke_handler(const F& f, const A& arg, const delivery_context& ctx) {
    if constexpr (std::is_invocable_v<const F&, const A&, const delivery_context&>) {
      return as_status(f, arg, ctx);
    } else {
      static_assert(std::is_invocable_v<const F&, const A&>,
                    "a handler takes (const T&, const delivery_context&) or (const T&)");
      return as_status(f, arg);
    }
  }
  template <class F, class... Args>
  static status as_status(const F& f, const Args&... args) {
    using R = std::invoke_result_t<const F&, const Args&...>;
    if constexpr (std::is_void_v<R>) {
      f(args...);
      return {};
    } else {
      static_assert(std::is_convertible_v<R, status>, "a handler returns void or hookrx::status");
      return f(args...);
    }
  }

  std::array<std::vector<handler>, std::variant_size_v<event::payload>> typed_;
  std::vector<handler> any_;
  std::vector<batch_handler> batch_;
};

}  // namespace hookrx
