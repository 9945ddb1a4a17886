// Fuzzes the Parashift payload parser: any bytes must give an event or a parse error, and an
// event must carry a non-empty key that starts with the provider's prefix.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hookrx/events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const hookrx::result<hookrx::event> ev = hookrx::parse_event(hookrx::provider::parashift, body);
  if (ev) {
    if (ev->key().rfind("parashift:", 0) != 0 || ev->raw_json() != body) std::abort();
  } else {
    const hookrx::errc code = ev.error().code();
    if (code != hookrx::errc::invalid_json && code != hookrx::errc::missing_field && code != hookrx::errc::wrong_type) {
      std::abort();
    }
  }
  return 0;
}
