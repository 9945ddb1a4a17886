#include "hookrx/dispatch.hpp"

#include <exception>
#include <string>
#include <utility>
#include <vector>

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

// Runs one batch handler on `entries` (all successful so far); what it throws fails them all.
void run_batch_handler(const dispatcher::batch_handler& h, std::vector<batch_entry>& entries) noexcept {
  const auto fail_all = [&entries](const std::string& why) {
    for (batch_entry& e : entries) {
      if (e.outcome) e.outcome = error(errc::handler_failed, why);
    }
  };
  try {
    h(entries);
  } catch (const std::exception& e) {
    fail_all(e.what());
    return;
  } catch (...) {
    fail_all("the handler threw a non-standard exception");
    return;
  }
  for (batch_entry& e : entries) {
    if (!e.outcome && e.outcome.error().code() != errc::handler_failed) {
      e.outcome = error(errc::handler_failed, e.outcome.error().message());
    }
  }
}

}  // namespace

dispatcher& dispatcher::on_batch(batch_handler fn) {
  batch_.push_back(std::move(fn));
  return *this;
}

status dispatcher::dispatch(const event& ev, int attempt) const {
  const delivery_context ctx{ev, attempt};
  for (const handler& h : typed_[ev.data().index()]) {
    if (status st = run_handler(h, ev, ctx); !st) return st;
  }
  for (const handler& h : any_) {
    if (status st = run_handler(h, ev, ctx); !st) return st;
  }
  if (batch_.empty()) return {};
  std::vector<batch_entry> one;
  one.push_back({ctx, {}});
  for (const batch_handler& h : batch_) {
    run_batch_handler(h, one);
    if (!one.front().outcome) return one.front().outcome;
  }
  return {};
}

void dispatcher::dispatch_batch(std::vector<batch_entry>& entries, const std::function<bool()>& go_on) const {
  // When go_on says stop, every entry not finished stays unfinished (in_progress): without batch
  // handlers those not started yet; with them all, since none is finished before they run.
  const auto leave_unfinished = [&entries](std::size_t from) {
    for (std::size_t i = from; i < entries.size(); ++i) {
      if (entries[i].outcome) entries[i].outcome = error(errc::in_progress, "left unfinished: stopped before it ran");
    }
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    batch_entry& e = entries[i];
    if (!e.outcome) continue;
    if (go_on && !go_on()) {
      leave_unfinished(batch_.empty() ? i : 0);  // with batch handlers, none has finished yet
      return;
    }
    for (const handler& h : typed_[e.ctx.ev.data().index()]) {
      if (e.outcome = run_handler(h, e.ctx.ev, e.ctx); !e.outcome) break;
    }
    if (!e.outcome) continue;
    for (const handler& h : any_) {
      if (e.outcome = run_handler(h, e.ctx.ev, e.ctx); !e.outcome) break;
    }
  }
  // Each batch handler sees the entries still standing; what it fails, the next one does not see.
  std::vector<batch_entry> standing;
  std::vector<std::size_t> where;
  for (const batch_handler& h : batch_) {
    standing.clear();
    where.clear();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].outcome) continue;
      standing.push_back(entries[i]);
      where.push_back(i);
    }
    if (standing.empty()) return;
    if (go_on && !go_on()) {
      leave_unfinished(0);
      return;
    }
    run_batch_handler(h, standing);
    for (std::size_t j = 0; j < standing.size(); ++j) entries[where[j]].outcome = std::move(standing[j].outcome);
  }
}

}  // namespace hookrx
