#include "hookrx/events.hpp"

#include "parse.hpp"
#include "wire_parashift.hpp"

namespace hookrx {

std::string_view to_string(provider p) noexcept { return p == provider::perfectparser ? "perfectparser" : "parashift"; }

std::string_view to_string(delivery_origin o) noexcept { return o == delivery_origin::webhook ? "webhook" : "poll"; }

std::string_view to_string(parashift_topic t) noexcept {
  const auto i = static_cast<std::size_t>(t);
  return i < wire::parashift::topics.size() ? wire::parashift::topics[i] : "unknown";
}

parashift_topic parse_parashift_topic(std::string_view name) noexcept {
  for (std::size_t i = 0; i < wire::parashift::topics.size(); ++i) {
    if (wire::parashift::topics[i] == name) return static_cast<parashift_topic>(i);
  }
  return parashift_topic::unknown;
}

status parse_event(provider source, std::string_view body, event& out) {
  out.set_origin(delivery_origin::webhook);  // a reused event never passes a poll origin on
  return source == provider::perfectparser ? detail::parse_perfectparser(body, out)
                                           : detail::parse_parashift(body, out);
}

result<event> parse_event(provider source, std::string_view body) {
  result<event> out(std::in_place);
  if (status st = parse_event(source, body, *out); !st) out = st.error();
  return out;  // one object on every path, so the event is never moved
}

}  // namespace hookrx

static_assert(hookrx::wire::parashift::topics.size() == static_cast<std::size_t>(hookrx::parashift_topic::unknown),
              "parashift_topic and the wire topic list must stay in step");
