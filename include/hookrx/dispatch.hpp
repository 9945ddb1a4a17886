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

/// Handlers by event type. Register everything before dispatching; dispatch() is then const and
/// safe to call from any number of threads.
class dispatcher {
 public:
  using handler = std::function<status(const event&, const delivery_context&)>;

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

  /// Runs the typed handlers for `ev`, then the on_any handlers, stopping at the first failure
  /// (errc::handler_failed). An event nobody handles succeeds: it is acknowledged and dropped.
  [[nodiscard]] status dispatch(const event& ev, int attempt = 1) const;

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
};

}  // namespace hookrx
