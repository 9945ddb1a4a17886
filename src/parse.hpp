// Private: one parser per provider, behind hookrx::parse_event().
#pragma once

#include <cstddef>
#include <string_view>

#include "hookrx/events.hpp"

namespace hookrx::detail {

/// Bodies up to this size leave the per-thread buffers they were parsed with (the simdjson
/// parser's, the receiver's kept event) in place for the next delivery; after a larger body they
/// are let go, rather than kept by every server thread that ever read one.
inline constexpr std::size_t kept_body_bytes = std::size_t{64} << 10;

/// Parse `body` into `into`, reusing its storage (see event_builder). On error `into` holds some
/// valid but unspecified event.
[[nodiscard]] status parse_perfectparser(std::string_view body, event& into);
[[nodiscard]] status parse_parashift(std::string_view body, event& into);

}  // namespace hookrx::detail

namespace hookrx::detail {

/// Fills an event in place, so that a parsed payload is never moved, and reuses what the event
/// already holds: parse_event(source, body, ev) in a loop keeps the capacity of every string.
struct event_builder {
  /// A payload of type T with every member empty.
  template <class T>
  static T& start(event& ev, provider source) {
    ev.source_ = source;
    return ev.data_.emplace<T>();
  }
  /// The payload of type T, kept as it is when `ev` already holds one: the caller assigns or
  /// resets every member, so that their strings keep their capacity.
  template <class T>
  static T& reuse(event& ev, provider source) {
    ev.source_ = source;
    if (T* kept = std::get_if<T>(&ev.data_)) return *kept;
    return ev.data_.emplace<T>();
  }
  /// The event's own strings, filled in place. simdjson reads the body from raw_json_, so it is
  /// filled first and left alone until the payload is complete.
  static std::string& raw_json(event& ev) noexcept { return ev.raw_json_; }
  static std::string& name(event& ev) noexcept { return ev.name_; }
  static std::string& key(event& ev) noexcept { return ev.key_; }
  static void set_test(event& ev, bool test) noexcept { ev.test_ = test; }
  /// Moves the owned strings out of an event that is consumed (the inbox stores them): the body
  /// is not copied again. `ev` is left with empty strings.
  static void take(event& ev, std::string& name, std::string& key, std::string& raw) noexcept {
    name = std::move(ev.name_);
    key = std::move(ev.key_);
    raw = std::move(ev.raw_json_);
  }
};

}  // namespace hookrx::detail
