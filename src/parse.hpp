// Private: one parser per provider, behind hookrx::parse_event().
#pragma once

#include <string_view>

#include "hookrx/events.hpp"

namespace hookrx::detail {

[[nodiscard]] result<event> parse_perfectparser(std::string_view body);
[[nodiscard]] result<event> parse_parashift(std::string_view body);

}  // namespace hookrx::detail

namespace hookrx::detail {

/// Fills an event in place, so that a parsed payload is never moved.
struct event_builder {
  template <class T>
  static T& start(event& ev, provider source) {
    ev.source_ = source;
    return ev.data_.emplace<T>();
  }
  /// `raw` moves in last: simdjson reads from its buffer until the payload is complete.
  static void finish(event& ev, std::string&& name, std::string&& key, bool test, std::string&& raw) {
    ev.name_ = std::move(name);
    ev.key_ = std::move(key);
    ev.test_ = test;
    ev.raw_json_ = std::move(raw);
  }
  /// Moves the owned strings out of an event that is consumed (the inbox stores them): the body
  /// is not copied again. `ev` is left with empty strings.
  static void take(event& ev, std::string& name, std::string& key, std::string& raw) noexcept {
    name = std::move(ev.name_);
    key = std::move(ev.key_);
    raw = std::move(ev.raw_json_);
  }
};

}  // namespace hookrx::detail
