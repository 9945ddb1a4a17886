#include "hookrx/dispatch.hpp"

#include <exception>

namespace hookrx {
namespace {

// Runs one handler; whatever it reports or throws becomes errc::handler_failed with its reason as
// detail (for on_error logs; responses do not show it).
status run_handler(const dispatcher::handler& h, const event& ev, const delivery_context& ctx) noexcept {
  try {
    status st = h(ev, ctx);
    if (!st && st.error().code() != errc::handler_failed) return error(errc::handler_failed, st.error().message());
    return st;
  } catch (const std::exception& e) {
    return error(errc::handler_failed, e.what());
  } catch (...) {
    return error(errc::handler_failed, "the handler threw a non-standard exception");
  }
}

}  // namespace

status dispatcher::dispatch(const event& ev, int attempt) const {
  const delivery_context ctx{ev, attempt};
  for (const handler& h : typed_[ev.data().index()]) {
    if (status st = run_handler(h, ev, ctx); !st) return st;
  }
  for (const handler& h : any_) {
    if (status st = run_handler(h, ev, ctx); !st) return st;
  }
  return {};
}

}  // namespace hookrx
