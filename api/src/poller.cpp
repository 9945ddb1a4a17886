// The fallback poller: the watch list, the sweep and Parashift overdue polling, over a poll_store,
// the inbox's find() and the acceptor every webhook goes through.
#include "hookrx/poller.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace hookrx {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view document_event_name = "extraction.document_completed";
constexpr std::string_view job_event_name = "extraction.job_completed";
constexpr std::string_view sweep_watermark = "perfectparser:sweep";
// A claim on a Parashift terminal marker protects one accept; an accept never takes this long.
constexpr milliseconds marker_claim{std::chrono::seconds(60)};

bool terminal_document(std::string_view status) { return status == "completed" || status == "failed"; }
std::string document_key(std::string_view ext, std::string_view doc) {
  return "perfectparser:" + std::string(document_event_name) + ":" + std::string(ext) + ":" + std::string(doc);
}
std::string job_key(std::string_view ext) {
  return "perfectparser:" + std::string(job_event_name) + ":" + std::string(ext);
}
std::string batch_name(std::string_view status) { return "batch." + std::string(status); }

// The event the webhook would have carried, rebuilt by the API client (to_event), checked to have
// the key the poller looked up, and marked as the poller's.
result<event> polled_event(api_result<event> made, const std::string& want_key) {
  if (!made) return error(errc::wrong_type, made.error().message());
  if (!want_key.empty() && made->key() != want_key) {
    return error(errc::wrong_type, "the fetched resource gives key " + made->key() + ", not " + want_key);
  }
  made->set_origin(delivery_origin::poll);
  return std::move(*made);
}

bool newly_accepted(const result<disposition>& r) {
  return r && (*r == disposition::queued || *r == disposition::processed);
}

std::string random_instance_id() {
  std::random_device rd;
  char buf[32];
  (void)std::snprintf(buf, sizeof buf, "poller-%08x%08x", rd(), rd());
  return buf;
}

// What the poller and its acceptor share.

struct shared_state {
  std::shared_ptr<poll_store> state;
  std::shared_ptr<inbox_store> inbox;
  std::shared_ptr<dedup_store> marks;
  poller_options options;
  std::shared_ptr<const clock> time;

  std::atomic<std::uint64_t> rounds{0};
  std::atomic<std::uint64_t> polls{0};
  std::atomic<std::uint64_t> documents_recovered{0};
  std::atomic<std::uint64_t> jobs_recovered{0};
  std::atomic<std::uint64_t> skipped_known{0};
  std::atomic<std::uint64_t> sweeps{0};
  std::atomic<std::uint64_t> pages{0};
  std::atomic<std::uint64_t> errors{0};

  void log(const std::string& line) const {
    if (!options.log) return;
    try {
      options.log(line);
    } catch (...) {  // a failing logger must not stop the poller
    }
  }
  void fail(const std::string& what) {
    errors.fetch_add(1, std::memory_order_relaxed);
    log("hookrx poller: " + what);
  }
};

// The document id of a Parashift terminal topic (processing finished or failed), if `ev` is one.
std::optional<std::string> parashift_terminal_id(const event& ev) {
  const auto* d = ev.get_if<document_event>();
  if (d == nullptr ||
      (d->topic != parashift_topic::processing_finished && d->topic != parashift_topic::processing_failed)) {
    return std::nullopt;
  }
  std::string id = d->id ? *d->id : (d->document_id ? std::to_string(*d->document_id) : std::string());
  if (id.empty()) return std::nullopt;
  return id;
}

// What settles an extraction's watch: a PerfectParser job or batch event's extraction and summary.
struct settling {
  std::string ext;
  std::optional<document_summary> summary;
};
std::optional<settling> settling_of(const event& ev) {
  if (const auto* job = ev.get_if<job_completed>()) return settling{job->extraction_id, job->summary};
  if (const auto* batch = ev.get_if<batch_finished>()) return settling{batch->extraction_id, batch->summary};
  return std::nullopt;
}

// The decorator the receiver accepts through: every event goes on to `inner`; on the way it
// notes what the poller must know.
class watching_acceptor final : public acceptor {
 public:
  watching_acceptor(std::shared_ptr<shared_state> s, std::shared_ptr<acceptor> inner)
      : s_(std::move(s)), inner_(std::move(inner)) {}

  result<disposition> accept(event&& ev, const request_view& request, const dispatcher& handlers) override {
    if (ev.is_test()) return inner_->accept(std::move(ev), request, handlers);
    if (ev.source() == provider::parashift) return accept_parashift(std::move(ev), request, handlers);
    // What the poller feeds in, it accounts for itself.
    if (ev.origin() == delivery_origin::poll) return inner_->accept(std::move(ev), request, handlers);
    if (const auto* doc = ev.get_if<document_completed>()) {
      const std::string ext = doc->extraction_id;
      result<disposition> r = inner_->accept(std::move(ev), request, handlers);
      // A new document webhook: the extraction is watched (polled after the grace period unless
      // its job webhook says every document arrived), and the document counted.
      if (newly_accepted(r)) {
        if (status st = s_->state->note_document(provider::perfectparser, ext, s_->time->now() + s_->options.grace);
            !st) {
          s_->fail("could not note a document of extraction " + ext + ": " + st.error().message());
        }
      }
      return r;
    }
    const std::optional<settling> settles = settling_of(ev);
    if (!settles) return inner_->accept(std::move(ev), request, handlers);
    result<disposition> r = inner_->accept(std::move(ev), request, handlers);
    // Settled on duplicates too: when the store failed here, the sender's retry settles it.
    if (r) {
      if (status st = settle(settles->ext, settles->summary); !st) {
        s_->fail("could not settle extraction " + settles->ext + ": " + st.error().message());
        return error(errc::store_unavailable, st.error().message());
      }
    }
    return r;
  }

  // accept(), in steps that stay asynchronous when the stores are (SQLite): each write is queued
  // for the writer's next commit, and the server thread serves other connections meanwhile
  // instead of waiting for two to four commits in a row. The answer comes when accept() would
  // give it.
  void accept_async(event&& ev, const request_view& request, const dispatcher& handlers, completion done) override {
    if (ev.is_test()) {
      inner_->accept_async(std::move(ev), request, handlers, std::move(done));
      return;
    }
    if (ev.source() == provider::parashift) {
      std::optional<std::string> id = parashift_terminal_id(ev);
      if (!id) {
        inner_->accept_async(std::move(ev), request, handlers, std::move(done));
        return;
      }
      accept_parashift_async(std::move(ev), request, handlers, std::move(*id), std::move(done));
      return;
    }
    if (ev.origin() == delivery_origin::poll) {
      inner_->accept_async(std::move(ev), request, handlers, std::move(done));
      return;
    }
    const auto* doc = ev.get_if<document_completed>();
    if (doc == nullptr) {
      accept_settling_async(std::move(ev), request, handlers, std::move(done));
      return;
    }
    std::string ext = doc->extraction_id;
    inner_->accept_async(
        std::move(ev), request, handlers,
        [s = s_, ext = std::move(ext), done = std::move(done)](result<disposition> r) mutable {
          if (!newly_accepted(r)) {
            done(std::move(r));
            return;
          }
          const time_point due = s->time->now() + s->options.grace;
          s->state->note_document_async(
              provider::perfectparser, ext, due,
              [s, ext, r = std::move(r), done = std::move(done)](const status& st) mutable {
                if (!st) s->fail("could not note a document of extraction " + ext + ": " + st.error().message());
                done(std::move(r));
              });
        });
  }

 private:
  // The extraction's terminal webhook came. When it says no more documents finished than the
  // document webhooks counted, nothing is missing: no poll. Otherwise (or when it cannot tell)
  // the extraction stays watched and is polled after the grace period.
  // If this failed silently, a job event known to the inbox on an extraction nobody watches would
  // tell the sweep that nothing is missing: the caller answers 503 instead.
  status settle(const std::string& ext, const std::optional<document_summary>& summary) {
    const result<bool> settled = all_documents_seen(*s_, ext, summary);
    if (!settled) return settled.error();
    if (*settled) return s_->state->unwatch(provider::perfectparser, ext);
    if (auto added = s_->state->watch(watch_of(*s_, ext)); !added) return added.error();
    return {};
  }

  // settle(), with its write queued (SQLite) rather than waited for; `then` gets what it returns.
  static void settle_async(const std::shared_ptr<shared_state>& s, const std::string& ext,
                           const std::optional<document_summary>& summary, std::function<void(status)> then) {
    const result<bool> settled = all_documents_seen(*s, ext, summary);
    if (!settled) return then(settled.error());
    if (*settled) return s->state->unwatch_async(provider::perfectparser, ext, std::move(then));
    s->state->watch_async(watch_of(*s, ext), [then = std::move(then)](const result<bool>& added) {
      then(added ? status{} : status(added.error()));
    });
  }

  // True when the job's summary counts no more finished documents than the webhooks did (a read).
  static result<bool> all_documents_seen(shared_state& s, const std::string& ext,
                                         const std::optional<document_summary>& summary) {
    if (!summary) return false;
    const auto watched = s.state->watched(provider::perfectparser, ext);
    if (!watched) return watched.error();
    const std::int64_t seen = *watched ? (*watched)->documents_seen : 0;
    return seen >= summary->completed + summary->failed;
  }

  static watch_entry watch_of(const shared_state& s, const std::string& ext) {
    watch_entry e;
    e.id = ext;
    e.due_at = s.time->now() + s.options.grace;
    return e;
  }

  // A terminal topic acts once per document, whichever of webhook and poll comes first, even when
  // their keys differ (the document changed in between): a marker per document id, claimed
  // around the accept so that a crash in between leaves it claimable again.
  result<disposition> accept_parashift(event&& ev, const request_view& request, const dispatcher& handlers) {
    const std::optional<std::string> id = parashift_terminal_id(ev);
    if (!id) return inner_->accept(std::move(ev), request, handlers);
    const bool webhook = ev.origin() == delivery_origin::webhook;
    const std::string mark = "parashift:terminal:" + *id;
    const result<claim> c = s_->marks->try_claim(mark, marker_claim);
    if (!c) return error(errc::store_unavailable, c.error().message());
    if (c->state == claim_state::done) return disposition::duplicate;
    if (c->state == claim_state::in_progress) return errc::in_progress;
    result<disposition> r = inner_->accept(std::move(ev), request, handlers);
    if (r) {
      (void)s_->marks->complete(mark, c->token, s_->options.terminal_retention);
      if (webhook) {
        if (status st = s_->state->unwatch(provider::parashift, *id); !st) s_->fail(st.error().message());
      }
    } else {
      (void)s_->marks->release(mark, c->token);
    }
    return r;
  }

  // A PerfectParser job or batch event (others go on to `inner`): accept, then settle_async(); a
  // failure to settle answers 503, as accept() does.
  void accept_settling_async(event&& ev, const request_view& request, const dispatcher& handlers, completion done) {
    std::optional<settling> settles = settling_of(ev);
    if (!settles) {
      inner_->accept_async(std::move(ev), request, handlers, std::move(done));
      return;
    }
    inner_->accept_async(
        std::move(ev), request, handlers,
        [s = s_, settles = std::move(*settles), done = std::move(done)](result<disposition> r) mutable {
          if (!r) return done(std::move(r));
          const std::string& ext = settles.ext;
          settle_async(s, ext, settles.summary, [s, ext, r, done = std::move(done)](const status& st) {
            if (st) return done(r);
            s->fail("could not settle extraction " + ext + ": " + st.error().message());
            done(error(errc::store_unavailable, st.error().message()));
          });
        });
  }

  // accept_parashift() in asynchronous steps: claim the marker; accept; then complete the marker
  // (and, for a webhook, unwatch the document, which only logs a failure) or release it.
  void accept_parashift_async(event&& ev, const request_view& request, const dispatcher& handlers, std::string id,
                              completion done) {
    struct steps {
      std::shared_ptr<shared_state> s;
      std::shared_ptr<acceptor> inner;
      const dispatcher* handlers;
      event ev;
      request_view request;  // what it points at lives until `done` (see acceptor::accept_async)
      std::string id;
      std::string mark;
      bool webhook;
      completion done;
      std::uint64_t token = 0;
    };
    const bool webhook = ev.origin() == delivery_origin::webhook;
    std::string mark = "parashift:terminal:" + id;
    auto st = std::make_shared<steps>(
        steps{s_, inner_, &handlers, std::move(ev), request, std::move(id), std::move(mark), webhook, std::move(done)});
    s_->marks->try_claim_async(st->mark, marker_claim, [st](const result<claim>& c) {
      if (!c) return st->done(error(errc::store_unavailable, c.error().message()));
      if (c->state == claim_state::done) return st->done(disposition::duplicate);
      if (c->state == claim_state::in_progress) return st->done(errc::in_progress);
      st->token = c->token;
      st->inner->accept_async(std::move(st->ev), st->request, *st->handlers, [st](const result<disposition>& r) {
        if (!r) {
          st->s->marks->release_async(st->mark, st->token, [st, r](const status& /*ignored*/) { st->done(r); });
          return;
        }
        if (st->webhook) {
          st->s->state->unwatch_async(provider::parashift, st->id, [s = st->s](const status& u) {
            if (!u) s->fail(u.error().message());
          });
        }
        st->s->marks->complete_async(st->mark, st->token, st->s->options.terminal_retention,
                                     [st, r](const status& /*ignored*/) { st->done(r); });
      });
    });
  }

  std::shared_ptr<shared_state> s_;
  std::shared_ptr<acceptor> inner_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct poller::impl {
  std::shared_ptr<shared_state> s;
  std::shared_ptr<poller_api> api;
  const dispatcher* handlers = nullptr;
  random_source random;
  std::string instance;
  retry_policy backoff;

  std::mutex target_mutex;
  std::shared_ptr<acceptor> target;  // the decorator, once wrap() made it

  std::mutex round_mutex;  // one round at a time
  time_point next_sweep{};
  time_point renewed_at{};  // when this instance last took or renewed the lease

  // Renews the lease during a long round (rate waits can make one outlast it), so that a round
  // never goes on polling after another instance took over. False when the lease is lost.
  bool still_leader() {
    if (now() - renewed_at < s->options.leader_lease / 3) return true;
    const result<bool> lead = s->state->try_lead(s->options.lease_name, instance, s->options.leader_lease);
    if (!lead || !*lead) return false;
    renewed_at = now();
    return true;
  }

  std::mutex thread_mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;

  enum class outcome : std::uint8_t { settled, open };

  [[nodiscard]] time_point now() const { return s->time->now(); }

  std::shared_ptr<acceptor> acceptor_now() {
    const std::lock_guard<std::mutex> lock(target_mutex);
    return target;
  }

  // When an open id is polled next: backoff by the polls so far.
  time_point next_poll(int polls) { return now() + backoff.delay_after(std::max(1, polls + 1), random()); }

  // Accepts a recovered event; true when it is accepted (new or known).
  bool feed(event&& ev, acceptor& into, std::atomic<std::uint64_t>& recovered) {
    const std::string key = ev.key();
    const result<disposition> r = into.accept(std::move(ev), request_view(), *handlers);
    if (!r) {
      s->fail("could not accept " + key + ": " + r.error().message());
      return false;
    }
    if (newly_accepted(r)) {
      recovered.fetch_add(1, std::memory_order_relaxed);
      s->log("hookrx poller: recovered " + key + " (its webhook did not come)");
    } else {
      s->skipped_known.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

  // Is `key` queued, in flight, done or dead already? nullopt when the store could not say.
  std::optional<bool> known(const std::string& key) {
    auto r = s->inbox->find(key);
    if (!r) {
      s->fail("inbox find failed: " + r.error().message());
      return std::nullopt;
    }
    return r->has_value();
  }

  // Fetches an extraction and accepts what its webhooks should have brought and the inbox does
  // not know. Settled when it is terminal and everything is accepted.
  outcome reconcile(const std::string& ext_id, acceptor& into, poll_round& round) {
    s->polls.fetch_add(1, std::memory_order_relaxed);
    ++round.polled;
    const api_result<pp_extraction> ext = api->get_extraction(ext_id);
    if (!ext) {
      ++round.errors;
      s->fail("GET extraction " + ext_id + " failed: " + ext.error().message());
      return outcome::open;
    }
    bool all = true;
    if (s->options.recover_documents) {
      for (const pp_extraction_document& d : ext->documents) {
        if (!terminal_document(d.status)) continue;
        const std::string key = document_key(ext_id, d.document_id);
        const std::optional<bool> k = known(key);
        if (!k) {
          all = false;
          continue;
        }
        if (*k) {
          s->skipped_known.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        const api_result<pp_document> doc = api->get_document(ext_id, d.document_id);
        if (!doc) {
          ++round.errors;
          all = false;
          s->fail("GET document " + key + " failed: " + doc.error().message());
          continue;
        }
        if (!terminal_document(doc->status)) {  // the list and the document disagree: next time
          all = false;
          continue;
        }
        result<event> ev = polled_event(to_event(*doc), key);
        if (!ev) {
          ++round.errors;
          all = false;
          s->fail("document " + key + " gives no event: " + ev.error().message());
          continue;
        }
        if (feed(std::move(*ev), into, s->documents_recovered)) {
          ++round.recovered;
        } else {
          ++round.errors;
          all = false;
        }
      }
    }
    if (!is_terminal_status(ext->status)) return outcome::open;
    // The job event last, and only once every document is accepted: a known job key then tells
    // the sweep that the extraction needs nothing more.
    if (!all) return outcome::open;
    std::vector<std::pair<std::string, std::string>> finals;  // name, key
    if (s->options.recover_jobs) finals.emplace_back(std::string(job_event_name), job_key(ext_id));
    if (s->options.recover_batches) {
      const std::string name = batch_name(ext->status);
      finals.emplace_back(name, "perfectparser:" + name + ":" + ext_id);
    }
    for (const auto& [name, key] : finals) {
      const std::optional<bool> k = known(key);
      if (!k) return outcome::open;
      if (*k) {
        s->skipped_known.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      result<event> ev = polled_event(name == job_event_name ? to_event(*ext) : to_batch_event(*ext), key);
      if (!ev) {
        ++round.errors;
        std::string what = "extraction ";
        what.append(ext_id).append(" gives no ").append(name).append(" event: ").append(ev.error().message());
        s->fail(what);
        return outcome::open;
      }
      if (!feed(std::move(*ev), into, s->jobs_recovered)) {
        ++round.errors;
        return outcome::open;
      }
      ++round.recovered;
    }
    return outcome::settled;
  }

  void poll_parashift(const watch_entry& e, acceptor& into, poll_round& round) {
    s->polls.fetch_add(1, std::memory_order_relaxed);
    ++round.polled;
    const api_result<parashift_document> d = api->get_parashift_document(e.id);
    std::string_view topic;
    if (!d) {
      ++round.errors;
      s->fail("GET Parashift document " + e.id + " failed: " + d.error().message());
    } else if (d->status && *d->status == "done") {
      topic = "processing-finished";
    } else if (d->status && *d->status == "failed") {
      topic = "processing-failed";
    }
    if (!topic.empty()) {
      result<event> ev = polled_event(to_event(*d), "");
      if (!ev) {
        ++round.errors;
        s->fail("Parashift document " + e.id + " gives no event: " + ev.error().message());
      } else if (feed(std::move(*ev), into, s->documents_recovered)) {
        ++round.recovered;
        if (status st = s->state->unwatch(provider::parashift, e.id); !st) s->fail(st.error().message());
        return;
      } else {
        ++round.errors;
      }
    }
    reschedule(e);
  }

  void reschedule(const watch_entry& e) {
    if (e.polls + 1 >= s->options.max_polls) {
      s->log("hookrx poller: giving up on " + std::string(to_string(e.source)) + " " + e.id + " after " +
             std::to_string(e.polls + 1) + " polls");
      (void)s->state->unwatch(e.source, e.id);
      return;
    }
    if (status st = s->state->reschedule(e.source, e.id, next_poll(e.polls)); !st) s->fail(st.error().message());
  }

  // Every extraction updated since the watermark (minus the overlap), all pages. The watermark
  // moves page by page while the pages come in update order and everything on them is settled;
  // once something is left open (or the order is not by update time) it stays, so the next sweep
  // (or a restart) starts before the first thing not accepted, and never skips a window.
  void sweep(acceptor& into, poll_round& round) {
    const auto stored = s->state->watermark(sweep_watermark);
    if (!stored) {
      ++round.errors;
      s->fail("watermark read failed: " + stored.error().message());
      return;
    }
    time_point mark = *stored ? **stored : now() - s->options.first_sweep_lookback;
    list_extractions_query q;
    q.since = to_iso8601(mark - s->options.sweep_overlap);
    q.parser_id = s->options.sweep_parser_id;
    q.limit = s->options.page_limit;
    bool frozen = false;         // something left open: the watermark stays where it is
    bool in_order = true;        // pages came by ascending update time so far
    time_point seen_max = mark;  // the latest update time seen in this sweep
    std::string cursor;
    while (true) {
      if (!still_leader()) return;  // the next leader resumes from the watermark
      const api_result<pp_extraction_page> page = api->list_extractions_page(q, cursor);
      s->pages.fetch_add(1, std::memory_order_relaxed);
      if (!page) {
        ++round.errors;
        s->fail("GET extractions (sweep) failed: " + page.error().message());
        return;
      }
      time_point page_max = seen_max;
      for (const pp_extraction_summary& x : page->extractions) {
        const std::optional<time_point> updated = x.updated_at ? parse_iso8601(*x.updated_at) : std::nullopt;
        if (updated) {
          if (*updated < seen_max) in_order = false;
          page_max = std::max(page_max, *updated);
        }
        // Not finished: its completion changes updated_at, so a later sweep sees it again.
        if (!is_terminal_status(x.status)) continue;
        if (handled(x)) {
          s->skipped_known.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (!still_leader()) return;
        if (reconcile(x.extraction_id, into, round) == outcome::settled) {
          (void)s->state->unwatch(provider::perfectparser, x.extraction_id);
        } else {
          frozen = true;
          // Polled again with the watch list, so it is not left to the next sweep alone.
          watch_entry e;
          e.id = x.extraction_id;
          e.due_at = next_poll(0);
          (void)s->state->watch(e);
        }
      }
      seen_max = page_max;
      if (!frozen && in_order && seen_max > mark) {
        if (status st = s->state->set_watermark(sweep_watermark, seen_max); !st) {
          ++round.errors;
          s->fail("watermark write failed: " + st.error().message());
          return;
        }
        mark = seen_max;
      }
      if (!page->has_next_page || page->next_cursor.empty()) break;
      cursor = page->next_cursor;
    }
    // A sweep that went through without leaving anything open covers all it saw, in any order.
    if (!frozen && seen_max > mark) {
      if (status st = s->state->set_watermark(sweep_watermark, seen_max); !st) {
        s->fail("watermark write failed: " + st.error().message());
        return;
      }
    }
    s->sweeps.fetch_add(1, std::memory_order_relaxed);
    round.swept = true;
  }

  // An extraction whose job event is known and that is not watched needs nothing: its job event
  // is accepted only once all its documents are (by the poller), or its job webhook found every
  // document counted (otherwise the extraction stays watched).
  bool handled(const pp_extraction_summary& x) {
    if (!s->options.recover_jobs) return false;
    const std::optional<bool> k = known(job_key(x.extraction_id));
    if (!k || !*k) return false;
    const auto w = s->state->watched(provider::perfectparser, x.extraction_id);
    return w && !w->has_value();
  }

  result<poll_round> run_once() {
    const std::lock_guard<std::mutex> lock(round_mutex);
    poll_round round;
    const std::shared_ptr<acceptor> into = acceptor_now();
    if (!into) return error(errc::invalid_config, "poller: wrap() the receiver's acceptor before polling");
    const result<bool> lead = s->state->try_lead(s->options.lease_name, instance, s->options.leader_lease);
    if (!lead) return lead.error();
    if (!*lead) return round;
    round.leader = true;
    renewed_at = now();
    s->rounds.fetch_add(1, std::memory_order_relaxed);
    const auto due = s->state->due(s->options.batch);
    if (!due) return due.error();
    for (const watch_entry& e : *due) {
      if (!still_leader()) return round;
      if (e.source == provider::parashift) {
        poll_parashift(e, *into, round);
      } else if (reconcile(e.id, *into, round) == outcome::settled) {
        if (status st = s->state->unwatch(e.source, e.id); !st) s->fail(st.error().message());
      } else {
        reschedule(e);
      }
    }
    if (s->options.sweep && now() >= next_sweep && still_leader()) {
      sweep(*into, round);
      next_sweep = now() + s->options.sweep_interval;
    }
    return round;
  }
};

result<std::shared_ptr<poller>> poller::create(std::shared_ptr<poll_store> state, std::shared_ptr<inbox_store> inbox,
                                               std::shared_ptr<dedup_store> marks, std::shared_ptr<poller_api> api,
                                               const dispatcher& handlers, poller_options options,
                                               std::shared_ptr<const clock> time, random_source random) {
  if (!state || !inbox || !marks) return error(errc::invalid_config, "poller: a store role is missing");
  if (!api) return error(errc::invalid_config, "poller: no API client");
  if (!time) return error(errc::invalid_config, "poller: no clock");
  if (options.batch == 0) return error(errc::invalid_config, "poller: batch must be positive");
  if (options.max_polls < 1) return error(errc::invalid_config, "poller: max_polls must be positive");
  if (options.page_limit < 1 || options.page_limit > 100) {
    return error(errc::invalid_config, "poller: page_limit must be 1..100");
  }
  if (options.leader_lease.count() <= 0) return error(errc::invalid_config, "poller: leader_lease must be positive");
  auto p = std::make_shared<impl>();
  p->s = std::make_shared<shared_state>();
  p->s->state = std::move(state);
  p->s->inbox = std::move(inbox);
  p->s->marks = std::move(marks);
  p->instance = options.instance_id.empty() ? random_instance_id() : options.instance_id;
  p->backoff = retry_policy{options.max_polls, options.poll_backoff, 2.0, options.max_backoff, 0.2};
  p->s->options = std::move(options);
  p->s->time = std::move(time);
  p->api = std::move(api);
  p->handlers = &handlers;
  p->random = random ? std::move(random) : default_random();
  return std::shared_ptr<poller>(new poller(std::move(p)));
}

poller::poller(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

poller::~poller() { stop(); }

std::shared_ptr<acceptor> poller::wrap(std::shared_ptr<acceptor> inner) {
  auto a = std::make_shared<watching_acceptor>(impl_->s, std::move(inner));
  const std::lock_guard<std::mutex> lock(impl_->target_mutex);
  impl_->target = a;
  return a;
}

status poller::watch(std::string_view extraction_id) {
  if (extraction_id.empty()) return error(errc::invalid_config, "poller: empty extraction id");
  watch_entry e;
  e.id = std::string(extraction_id);
  e.due_at = impl_->now() + impl_->s->options.grace;
  auto r = impl_->s->state->watch(e);
  if (!r) return r.error();
  return {};
}

status poller::watch_parashift(std::string_view document_id, time_point expected_at) {
  if (document_id.empty()) return error(errc::invalid_config, "poller: empty document id");
  watch_entry e;
  e.source = provider::parashift;
  e.id = std::string(document_id);
  e.expected_at = expected_at;
  e.due_at = expected_at + impl_->s->options.parashift_grace;
  auto r = impl_->s->state->watch(e);
  if (!r) return r.error();
  return {};
}

result<poll_round> poller::run_once() { return impl_->run_once(); }

void poller::start() {
  const std::lock_guard<std::mutex> lock(impl_->thread_mutex);
  if (impl_->thread.joinable()) return;
  impl_->stopping = false;
  impl_->thread = std::thread([p = impl_.get()] {
    std::unique_lock<std::mutex> lk(p->thread_mutex);
    while (!p->stopping) {
      lk.unlock();
      if (const result<poll_round> r = p->run_once(); !r) p->s->fail("round failed: " + r.error().message());
      if (p->s->options.wait) {
        if (!p->s->options.wait(p->s->options.round_interval)) return;
        lk.lock();
        continue;
      }
      lk.lock();
      p->wake.wait_for(lk, p->s->options.round_interval, [p] { return p->stopping; });
    }
  });
}

void poller::stop() {
  std::thread t;
  {
    const std::lock_guard<std::mutex> lock(impl_->thread_mutex);
    impl_->stopping = true;
    t.swap(impl_->thread);
  }
  impl_->wake.notify_all();
  if (t.joinable()) {
    t.join();
    (void)impl_->s->state->resign(impl_->s->options.lease_name, impl_->instance);
  }
}

poller_counters poller::counters() const noexcept {
  const shared_state& s = *impl_->s;
  poller_counters c;
  c.rounds = s.rounds.load(std::memory_order_relaxed);
  c.polls = s.polls.load(std::memory_order_relaxed);
  c.documents_recovered = s.documents_recovered.load(std::memory_order_relaxed);
  c.jobs_recovered = s.jobs_recovered.load(std::memory_order_relaxed);
  c.skipped_known = s.skipped_known.load(std::memory_order_relaxed);
  c.sweeps = s.sweeps.load(std::memory_order_relaxed);
  c.pages = s.pages.load(std::memory_order_relaxed);
  c.errors = s.errors.load(std::memory_order_relaxed);
  return c;
}

const std::string& poller::instance_id() const noexcept { return impl_->instance; }

}  // namespace hookrx
