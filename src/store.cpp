#include "hookrx/store.hpp"

namespace hookrx {

std::string_view to_string(claim_state s) noexcept {
  switch (s) {
    case claim_state::claimed: return "claimed";
    case claim_state::done: return "done";
    case claim_state::in_progress: return "in_progress";
  }
  return "claimed";
}

std::string_view to_string(entry_state s) noexcept {
  switch (s) {
    case entry_state::queued: return "queued";
    case entry_state::leased: return "leased";
    case entry_state::done: return "done";
    case entry_state::dead: return "dead";
  }
  return "queued";
}

result<std::size_t> inbox_store::ack_all(const std::vector<lease_ref>& leases, std::chrono::milliseconds retention) {
  std::size_t acknowledged = 0;
  for (const lease_ref& l : leases) {
    const status st = ack(l.id, l.token, retention);
    if (st) {
      ++acknowledged;
    } else if (st.error().code() == errc::store_unavailable) {
      return st.error();
    }
  }
  return acknowledged;
}

}  // namespace hookrx
