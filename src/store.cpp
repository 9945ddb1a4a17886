#include "hookrx/store.hpp"

#include <utility>

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

result<leased_offer> inbox_store::offer_leased(inbox_record rec, std::chrono::milliseconds /*lease*/) {
  const result<offer_state> stored = offer(std::move(rec));
  if (!stored) return stored.error();
  return leased_offer{*stored, std::nullopt};
}

// `done` by value, so that overrides keep it.
void inbox_store::offer_async(
    inbox_record rec, std::optional<std::chrono::milliseconds> lease,
    std::function<void(result<leased_offer>)> done) {  // NOLINT(performance-unnecessary-value-param)
  if (lease) {
    done(offer_leased(std::move(rec), *lease));
    return;
  }
  const result<offer_state> stored = offer(std::move(rec));
  if (!stored) {
    done(stored.error());
    return;
  }
  done(leased_offer{*stored, std::nullopt});
}

// The defaults of the asynchronous calls take their arguments by value, so that overrides keep them.
// NOLINTBEGIN(performance-unnecessary-value-param)
void dedup_store::try_claim_async(std::string key, std::chrono::milliseconds lease,
                                  std::function<void(result<claim>)> done) {
  done(try_claim(key, lease));
}

void dedup_store::complete_async(std::string key, std::uint64_t token, std::chrono::milliseconds retention,
                                 std::function<void(status)> done) {
  done(complete(key, token, retention));
}

void dedup_store::release_async(std::string key, std::uint64_t token, std::function<void(status)> done) {
  done(release(key, token));
}

void poll_store::watch_async(watch_entry e, std::function<void(result<bool>)> done) { done(watch(e)); }

void poll_store::unwatch_async(provider source, std::string id, std::function<void(status)> done) {
  done(unwatch(source, id));
}

void poll_store::note_document_async(provider source, std::string id, time_point due_if_new,
                                     std::function<void(status)> done) {
  done(note_document(source, id, due_if_new));
}
// NOLINTEND(performance-unnecessary-value-param)

result<std::int64_t> inbox_store::pending_count() {
  std::int64_t n = 0;
  for (const entry_state st : {entry_state::queued, entry_state::leased}) {
    std::int64_t after = 0;
    while (true) {
      result<std::vector<inbox_entry>> page = list(st, 1000, after);
      if (!page) return page.error();
      if (page->empty()) break;
      n += static_cast<std::int64_t>(page->size());
      after = page->back().id;
    }
  }
  return n;
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
