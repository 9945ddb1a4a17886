// The checks both parser fuzzers make. Any bytes must give an event or a parse error; an event
// carries a key with the provider's prefix and the body as its raw JSON; and parsing into one event
// reused across inputs (as the receiver does on each thread) must give exactly what a fresh parse
// gives, error included: nothing of an earlier input may survive into a later one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "describe_event.hpp"
#include "hookrx/events.hpp"

namespace hookrx_fuzz {

inline int check_parse(hookrx::provider source, std::string_view key_prefix, const std::uint8_t* data,
                       std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const hookrx::result<hookrx::event> ev = hookrx::parse_event(source, body);
  if (ev) {
    if (ev->key().rfind(key_prefix, 0) != 0 || ev->raw_json() != body) std::abort();
  } else {
    const hookrx::errc code = ev.error().code();
    if (code != hookrx::errc::invalid_json && code != hookrx::errc::missing_field && code != hookrx::errc::wrong_type) {
      std::abort();
    }
  }
  static hookrx::event reused;
  const hookrx::status st = hookrx::parse_event(source, body, reused);
  if (hookrx_test::describe(st, reused) != hookrx_test::describe(ev)) std::abort();
  return 0;
}

}  // namespace hookrx_fuzz
