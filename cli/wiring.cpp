// Builds the service from options: the one place where components are made and connected.
#include "wiring.hpp"

#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "hookrx/memory_store.hpp"
#include "hookrx/sqlite_store.hpp"
#ifdef HOOKRX_CLI_HAVE_POSTGRES
#include "hookrx/postgres_store.hpp"
#endif
#ifdef HOOKRX_CLI_HAVE_REDIS
#include "hookrx/redis_store.hpp"
#endif
#ifdef HOOKRX_CLI_HAVE_API
#include "api_options.hpp"
#include "hookrx/api.hpp"
#include "hookrx/poller.hpp"
#endif

namespace hookrx::cli {
namespace {

// --enrich: the document an event is about, as raw JSON; "" when there is nothing to fetch.
using enricher = std::function<result<std::string>(const event&)>;

#ifdef HOOKRX_CLI_HAVE_API
struct api_clients {
  std::shared_ptr<perfectparser_client> perfectparser;
  std::shared_ptr<parashift_client> parashift;
  /// Both clients count into one set, which /metrics renders (hookrx_api_*).
  std::shared_ptr<api_counters> counters = std::make_shared<api_counters>();
};

result<api_clients> make_clients(const options& o) {
  api_clients c;
  if (!o.pp_api_key.empty()) {
    perfectparser_client_options co;
    fill_api_options(co, o.pp_api_key, o.pp_api_base, o);
    co.counters = c.counters;
    api_result<perfectparser_client> pp = perfectparser_client::create(co);
    if (!pp) return error(errc::invalid_config, "--pp-api-base / HOOKRX_PP_API_KEY: " + pp.error().message());
    c.perfectparser = std::make_shared<perfectparser_client>(std::move(*pp));
  }
  if (!o.parashift_api_key.empty()) {
    parashift_client_options co;
    fill_api_options(co, o.parashift_api_key, o.parashift_api_base, o);
    co.counters = c.counters;
    api_result<parashift_client> ps = parashift_client::create(co);
    if (!ps)
      return error(errc::invalid_config, "--parashift-api-base / HOOKRX_PARASHIFT_API_KEY: " + ps.error().message());
    c.parashift = std::make_shared<parashift_client>(std::move(*ps));
  }
  return c;
}

// Fetches a Parashift event's document, and a PerfectParser document event's document when it
// carries no extracted_data. A failed fetch is an error: the event is retried later.
enricher make_enricher(const api_clients& c, metrics& stats) {
  return [c, &stats](const event& ev) -> result<std::string> {
    if (const auto* d = ev.get_if<document_event>(); d != nullptr && c.parashift) {
      const std::string id = d->id ? *d->id : d->document_id ? std::to_string(*d->document_id) : std::string();
      if (id.empty()) return std::string();
      api_result<parashift_document> doc = c.parashift->get_document(id);
      stats.enrich_call(doc.has_value());
      if (!doc) return error(errc::handler_failed, "enrich: Parashift document " + id + ": " + doc.error().message());
      return std::move(doc->raw_json);
    }
    if (const auto* d = ev.get_if<document_completed>(); d != nullptr && c.perfectparser && d->extracted_data.empty()) {
      api_result<pp_document> doc = c.perfectparser->get_document(d->extraction_id, d->document_id);
      stats.enrich_call(doc.has_value());
      if (!doc) {
        return error(errc::handler_failed,
                     "enrich: PerfectParser document " + d->document_id + ": " + doc.error().message());
      }
      return std::move(doc->raw_json);
    }
    return std::string();
  };
}
#endif

bool is_verification_failure(errc c) noexcept {
  switch (c) {
    case errc::missing_signature:
    case errc::malformed_signature:
    case errc::signature_mismatch:
    case errc::missing_static_secret:
    case errc::static_secret_mismatch:
    case errc::missing_credentials:
    case errc::credentials_mismatch:
    case errc::source_not_allowed: return true;
    default: return false;
  }
}

// Counts what the acceptor decided (queued, duplicate, store down) by provider and event name.
class metered_acceptor final : public acceptor {
 public:
  metered_acceptor(std::shared_ptr<acceptor> inner, metrics& stats) : inner_(std::move(inner)), stats_(stats) {}
  result<disposition> accept(event&& ev, const request_view& request, const dispatcher& handlers) override {
    const std::string_view prov = to_string(ev.source());
    std::string name = ev.name();  // NOLINT(performance-unnecessary-copy-initialization): ev is moved below
    result<disposition> r = inner_->accept(std::move(ev), request, handlers);
    count(prov, name, r);
    return r;
  }
  void accept_async(event&& ev, const request_view& request, const dispatcher& handlers, completion done) override {
    const std::string_view prov = to_string(ev.source());
    std::string name = ev.name();  // NOLINT(performance-unnecessary-copy-initialization): ev is moved below
    inner_->accept_async(std::move(ev), request, handlers,
                         [this, prov, name = std::move(name), done = std::move(done)](result<disposition> r) {
                           count(prov, name, r);
                           done(std::move(r));
                         });
  }

 private:
  void count(std::string_view prov, std::string_view name, const result<disposition>& r) {
    if (r) {
      stats_.delivery(prov, name, to_string(*r));
      if (*r == disposition::queued) stats_.queued();
    } else {
      stats_.delivery(prov, name, to_string(r.error().code()));
    }
  }

  std::shared_ptr<acceptor> inner_;
  metrics& stats_;
};

// --dedup: a key is claimed in the shared dedup store before the inbox sees it, so instances
// with separate inboxes (memory:, one SQLite file each) still take each event once.
class dedup_then_inbox final : public acceptor {
 public:
  dedup_then_inbox(std::shared_ptr<dedup_store> dedup, std::shared_ptr<acceptor> inbox)
      : dedup_(std::move(dedup)), inbox_(std::move(inbox)) {}
  result<disposition> accept(event&& ev, const request_view& request, const dispatcher& handlers) override {
    const std::string key = ev.key();  // NOLINT(performance-unnecessary-copy-initialization): ev is moved below
    result<claim> c = dedup_->try_claim(key, std::chrono::seconds(30));
    if (!c) return c.error();
    if (c->state == claim_state::done) return disposition::duplicate;
    if (c->state == claim_state::in_progress) return error(errc::in_progress);
    result<disposition> r = inbox_->accept(std::move(ev), request, handlers);
    if (r) {
      if (status st = dedup_->complete(key, c->token, default_retention); !st) return st.error();
    } else {
      (void)dedup_->release(key, c->token);
    }
    return r;
  }

 private:
  std::shared_ptr<dedup_store> dedup_;
  std::shared_ptr<acceptor> inbox_;
};

result<std::shared_ptr<dedup_store>> open_redis(const options& o) {
#ifndef HOOKRX_CLI_HAVE_REDIS
  (void)o;
  return error(errc::invalid_config, "--dedup: this build has no Redis support (install libhiredis-dev and rebuild)");
#else
  // redis://HOST[:PORT][/DB]
  std::string rest = o.dedup_url.substr(8);
  redis_options ro;
  ro.password = o.redis_password;
  if (const std::size_t slash = rest.find('/'); slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      char* end = nullptr;
      const long v = std::strtol(db.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > 1000) return error(errc::invalid_config, "--dedup: bad database " + db);
      ro.database = static_cast<int>(v);
    }
  }
  if (const std::size_t colon = rest.rfind(':'); colon != std::string::npos) {
    char* end = nullptr;
    const std::string p = rest.substr(colon + 1);
    const long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || v < 1 || v > 65535) return error(errc::invalid_config, "--dedup: bad port " + p);
    ro.port = static_cast<int>(v);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return error(errc::invalid_config, "--dedup: no host");
  ro.host = rest;
  result<std::shared_ptr<redis_store>> r = redis_store::open(ro);
  if (!r) return r.error();
  return std::shared_ptr<dedup_store>(*r);
#endif
}

result<std::shared_ptr<inbox_store>> open_store(const options& o) {
  switch (o.store.type) {
    case store_url::kind::memory: return std::shared_ptr<inbox_store>(memory_store::create());
    case store_url::kind::sqlite: {
      sqlite_options so;
      so.path = o.store.location;
      result<std::shared_ptr<sqlite_store>> s = sqlite_store::open(so);
      if (!s) return s.error();
      return std::shared_ptr<inbox_store>(*s);
    }
    case store_url::kind::postgres: {
#ifndef HOOKRX_CLI_HAVE_POSTGRES
      return error(errc::invalid_config,
                   "--store: this build has no PostgreSQL support (install libpq-dev and rebuild)");
#else
      postgres_options po;
      po.conninfo = o.store.location;
      po.timeout = std::chrono::milliseconds(1000);
      result<std::shared_ptr<postgres_store>> s = postgres_store::open(po);
      if (!s) return s.error();
      return std::shared_ptr<inbox_store>(*s);
#endif
    }
  }
  return error(errc::invalid_config, "--store: unknown kind");
}

void watch_errors(receiver& rx, metrics& stats) {
  const std::string_view prov = to_string(rx.source());
  rx.on_error([&stats, prov](const request_view& /*request*/, const error& e) {
    const errc c = e.code();
    if (is_verification_failure(c)) stats.verification_failure(prov, to_string(c));
    // The acceptor counted its own failures (store down, in progress) with the event's name.
    if (c != errc::store_unavailable && c != errc::in_progress && c != errc::handler_failed) {
      stats.delivery(prov, "", to_string(c));
    }
  });
}

// CPUs this process may run on: taskset and container cpusets count, unlike hardware_concurrency().
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
}

}  // namespace

bool service::store_healthy() const {
  const result<std::optional<inbox_entry>> r = store->get(-1);
  return r.has_value();
}

result<std::unique_ptr<service>> wire(const options& o, const logger& log, metrics& stats) {
  auto svc = std::make_unique<service>();

  result<std::shared_ptr<inbox_store>> store = open_store(o);
  if (!store) return store.error();
  svc->store = std::move(*store);
  if (!o.dedup_url.empty()) {
    result<std::shared_ptr<dedup_store>> d = open_redis(o);
    if (!d) return d.error();
    svc->dedup = std::move(*d);
  }

  for (const std::string& cmd : o.exec) {
    result<std::unique_ptr<sink>> s = make_exec_sink(cmd, o.exec_timeout, o.exec_concurrency);
    if (!s) return s.error();
    svc->sinks.push_back(std::move(*s));
  }
  for (const std::string& url : o.forward) {
    result<std::unique_ptr<sink>> s = make_forward_sink(url, o.forward_timeout);
    if (!s) return s.error();
    svc->sinks.push_back(std::move(*s));
  }
  for (const std::string& path : o.jsonl) {
    result<std::unique_ptr<sink>> s = make_jsonl_sink(path);
    if (!s) return s.error();
    svc->sinks.push_back(std::move(*s));
  }

  // Every event to every sink, in order; the first failure sends the event back to the inbox.
  enricher enrich;
#ifdef HOOKRX_CLI_HAVE_API
  api_clients clients;
  if (o.poll || o.enrich) {
    result<api_clients> c = make_clients(o);
    if (!c) return c.error();
    clients = std::move(*c);
    stats.set_api([counters = clients.counters] { return counters->snapshot().to_prometheus(); });
  }
  if (o.enrich) enrich = make_enricher(clients, stats);
#else
  if (o.poll || o.enrich) {
    return error(errc::invalid_config, "--poll/--enrich: this build has no API client (hookrx::api)");
  }
#endif

  // A worker's whole batch to every sink, in order (one JSONL write and fsync for the batch); an
  // event that fails somewhere goes back to the inbox and the later sinks do not see it.
  const int max_attempts = o.max_attempts;
  svc->handlers.on_batch([sinks = &svc->sinks, &stats, &log, max_attempts, enrich](std::vector<batch_entry>& batch) {
    const auto failed = [&](batch_entry& e, std::string_view where, const error& why) {
      const bool last = e.ctx.attempt >= max_attempts;
      if (last) {
        stats.dead_lettered();
      } else {
        stats.retried();
      }
      const std::string_view what = where == "enrich" ? "enrich failed" : "sink failed";
      log.write(last ? logger::level::error : logger::level::warn, last ? "dead-lettered" : what,
                {{"sink", where},
                 {"key", e.ctx.key()},
                 {"event", e.ctx.ev.name()},
                 {"attempt", e.ctx.attempt},
                 {"error", why.message()}});
      e.outcome = why;
    };
    std::vector<std::string> envelopes(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch_entry& e = batch[i];
      std::string document;
      if (enrich) {
        result<std::string> fetched = enrich(e.ctx.ev);
        if (!fetched) {
          failed(e, "enrich", fetched.error());
          continue;
        }
        document = std::move(*fetched);
      }
      envelopes[i] = envelope_json(e.ctx.ev, e.ctx.attempt, to_string(e.ctx.origin()), document);
    }
    std::vector<sink_event> events;
    std::vector<std::size_t> where;
    std::vector<status> outcomes;
    for (const std::unique_ptr<sink>& s : *sinks) {
      events.clear();
      where.clear();
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!batch[i].outcome) continue;
        events.push_back({batch[i].ctx.ev, batch[i].ctx.attempt, to_string(batch[i].ctx.origin()), envelopes[i]});
        where.push_back(i);
      }
      if (events.empty()) return;
      outcomes.assign(events.size(), status{});
      const auto t0 = std::chrono::steady_clock::now();
      s->deliver_all(events, outcomes);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::uint64_t ok = 0;
      for (std::size_t j = 0; j < outcomes.size(); ++j) {
        if (outcomes[j]) {
          ++ok;
        } else {
          failed(batch[where[j]], s->kind(), outcomes[j].error());
        }
      }
      stats.sink_call(s->kind(), ok, outcomes.size() - ok, secs);
    }
    for (const batch_entry& e : batch) {
      if (!e.outcome) continue;
      stats.handled();
      log.debug("handled", {{"key", e.ctx.key()}, {"event", e.ctx.ev.name()}, {"attempt", e.ctx.attempt}});
    }
  });

  inbox_options io;
  io.workers = static_cast<std::size_t>(o.workers);
  io.retry.max_attempts = o.max_attempts;
  io.retry.initial_delay = o.retry_initial;
  io.retry.max_delay = o.retry_max;
  io.idle_poll = std::clamp(o.retry_initial / 2, std::chrono::milliseconds(20), std::chrono::milliseconds(1000));
  // A batch shares one lease, so the lease covers the slowest batch. With only JSONL sinks a batch
  // costs one write and one fsync whatever its size: large batches, so that one worker keeps up
  // with the receiver (a full batch wakes another). Commands, forwards and --enrich's API calls run
  // one event after another: small batches, and the workers run them side by side.
  const bool file_only = o.exec.empty() && o.forward.empty() && !o.enrich;
  io.batch = file_only ? 256 : 4;
  // A woken worker waits this long for more deliveries, so that a busy receiver hands the sinks
  // full batches instead of waking a worker per delivery.
  io.gather = std::chrono::milliseconds(2);
  const std::chrono::milliseconds per_event =
      file_only ? std::chrono::seconds(1)
                : (o.exec.empty() ? std::chrono::milliseconds(0) : o.exec_timeout + std::chrono::seconds(3)) +
                      (o.forward.empty() ? std::chrono::milliseconds(0) : o.forward_timeout) +
                      (o.enrich ? std::chrono::seconds(60) : std::chrono::seconds(0)) + std::chrono::seconds(5);
  io.lease = std::max<std::chrono::milliseconds>(std::chrono::minutes(5),
                                                 per_event * static_cast<int>(io.batch) + std::chrono::minutes(1));
  // A delivery this process accepts is stored already leased and handed to a worker, so the store
  // writes it once and never reads it back (SQLite: one write instead of three). A round of
  // batches at most: the lease above covers the wait.
  io.handoff = io.batch * io.workers;
  svc->box = inbox::create(svc->store, svc->handlers, io);
  // Weak: the metrics outlive the service, and must not keep its store open.
  stats.set_inbox_depth([weak = std::weak_ptr<inbox_store>(svc->store)]() -> std::optional<std::int64_t> {
    const std::shared_ptr<inbox_store> kept = weak.lock();
    if (!kept) return std::nullopt;
    const result<std::int64_t> n = kept->pending_count();
    if (!n) return std::nullopt;
    return *n;
  });

  std::shared_ptr<acceptor> accept_to = svc->box->acceptor();
  if (svc->dedup) accept_to = std::make_shared<dedup_then_inbox>(svc->dedup, accept_to);
#ifdef HOOKRX_CLI_HAVE_API
  if (o.poll) {
    auto state = std::dynamic_pointer_cast<poll_store>(svc->store);
    auto marks = std::dynamic_pointer_cast<dedup_store>(svc->store);
    if (!state || !marks) return error(errc::invalid_config, "--poll: this store cannot keep the poller's state");
    poller_options po;
    po.grace = o.poll_grace;
    po.round_interval = o.poll_interval;
    po.parashift_grace = std::min(po.parashift_grace, o.poll_grace);
    po.log = [&log](std::string_view line) { log.info("poller", {{"detail", line}}); };
    result<std::shared_ptr<poller>> p = poller::create(
        state, svc->store, marks, poller_api_of(clients.perfectparser, clients.parashift), svc->handlers, po);
    if (!p) return error(errc::invalid_config, "--poll: " + p.error().message());
    std::shared_ptr<poller> polling = *p;
    accept_to = polling->wrap(accept_to);
    svc->start_poller = [polling] { polling->start(); };
    svc->stop_poller = [polling] { polling->stop(); };
    stats.set_poller([polling] {
      const poller_counters c = polling->counters();
      return metrics::poller_numbers{c.rounds, c.polls, c.documents_recovered, c.jobs_recovered, c.errors};
    });
  }
#endif
  accept_to = std::make_shared<metered_acceptor>(accept_to, stats);

  receiver_options ro;
  ro.max_body_bytes = o.max_body_bytes;
  if (o.perfectparser_enabled()) {
    perfectparser_credentials c;
    c.signing_secrets = o.pp_signing_secrets;
    if (!o.pp_static_secret.empty()) c.static_secrets = {o.pp_static_secret};
    result<receiver> rx = receiver::create(c, ro);
    if (!rx) return error(errc::invalid_config, "PerfectParser credentials: " + rx.error().message());
    svc->perfectparser.emplace(std::move(*rx));
    svc->perfectparser->accept_with(accept_to);
    watch_errors(*svc->perfectparser, stats);
  }
  if (o.parashift_enabled()) {
    parashift_credentials c;
    header_credential h;
    if (o.parashift_header.empty()) {
      h.name = "Authorization";
      for (const std::string& t : o.parashift_tokens) h.accepted_values.push_back("Bearer " + t);
    } else {
      h.name = o.parashift_header;
      h.accepted_values = o.parashift_tokens;
    }
    c.headers.push_back(std::move(h));
    c.restrict_sources = !o.parashift_allow_cidr.empty();
    if (c.restrict_sources) c.allowed_sources = o.parashift_allow_cidr;
    c.trusted_proxies = o.trusted_proxy;
    if (!o.trusted_proxy.empty() && !c.restrict_sources)
      c.restrict_sources = true;  // --trusted-proxy implies the check
    result<receiver> rx = receiver::create(c, ro);
    if (!rx) {
      return error(
          errc::invalid_config,
          "Parashift (--parashift-allow-cidr, --trusted-proxy, HOOKRX_PARASHIFT_TOKENS): " + rx.error().message());
    }
    svc->parashift.emplace(std::move(*rx));
    svc->parashift->accept_with(accept_to);
    watch_errors(*svc->parashift, stats);
  }
  (void)log;
  return svc;
}

status service::start(const options& o, const logger& log, metrics& stats) {
  std::vector<beast_adapter::route> routes;
  if (perfectparser) {
    beast_adapter::route r;
    r.path = "/webhooks/perfectparser";
    r.rx = &*perfectparser;
    routes.push_back(std::move(r));
  }
  if (parashift) {
    beast_adapter::route r;
    r.path = "/webhooks/parashift";
    r.rx = &*parashift;
    routes.push_back(std::move(r));
  }
  beast_adapter::route health;
  health.path = "/healthz";
  health.get = [this, &stats](const beast_adapter::request& /*req*/) {
    const bool up = store_healthy();
    stats.store_up(up);
    beast_adapter::response res{up ? beast_adapter::http::status::ok : beast_adapter::http::status::service_unavailable,
                                11};
    res.set(beast_adapter::http::field::content_type, "application/json");
    res.body() = up ? R"({"status":"ok"})" : R"({"status":"store_unavailable"})";
    return res;
  };
  routes.push_back(std::move(health));
  beast_adapter::route prom;
  prom.path = "/metrics";
  prom.get = [&stats](const beast_adapter::request& /*req*/) {
    beast_adapter::response res{beast_adapter::http::status::ok, 11};
    res.set(beast_adapter::http::field::content_type, "text/plain; version=0.0.4");
    res.body() = stats.render();
    return res;
  };
  routes.push_back(std::move(prom));

  box->start();
  if (start_poller) start_poller();
  beast_adapter::listener::options lo;
  lo.address = o.listen_host;
  lo.port = o.listen_port;
  lo.threads = o.io_threads;
  if (lo.threads <= 0) {
    // An offer to memory never blocks, and one to SQLite is answered from its commit (the thread
    // serves other connections meanwhile): one thread per CPU this process may run on (taskset and
    // container cpusets included; more only take turns on the same CPUs: measured pinned to one
    // CPU, memory: 31,000/s with one thread, 28,500/s with two; SQLite 12,500/s with one, 7,000-
    // 11,000/s with 32 blocking ones). PostgreSQL and a Redis --dedup block the thread for a round
    // trip: many threads, so that many deliveries share each commit.
    const bool blocking = o.store.type == store_url::kind::postgres || !o.dedup_url.empty();
    lo.threads = blocking ? 32 : usable_cpus();
  }
  lo.idle_timeout = o.idle_timeout;
  lo.read_timeout = o.read_timeout;
  lo.on_answer = [&stats](std::string_view path, int code) { stats.http_answer(path, code); };
  result<std::unique_ptr<beast_adapter::listener>> l = beast_adapter::listener::start(std::move(routes), lo);
  if (!l) {
    if (stop_poller) stop_poller();
    box->stop();
    return error(errc::invalid_config,
                 "--listen " + o.listen_host + ":" + std::to_string(o.listen_port) + ": " + l.error().detail());
  }
  server = std::move(*l);
  (void)log;
  return {};
}

bool service::shutdown(std::chrono::milliseconds grace, const logger& log) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  bool clean = server ? server->drain(grace) : true;
  // Answers still owed by the store's commits (past the grace) are given now, to the stopped
  // listener, which drops them: none can run later, once the receivers and listener are gone.
  store->wait_async();
  log.info("stopped accepting", {{"requests_finished", clean}});
  if (stop_poller) stop_poller();
  // The inbox's stop() lets running sink calls finish; a watchdog cuts them short at the deadline.
  std::mutex m;
  std::condition_variable cv;
  bool stopped = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(m);
    if (!cv.wait_until(lock, deadline, [&] { return stopped; })) {
      log.warn("grace period over: cutting sink calls short (their events are retried later)");
      for (const std::unique_ptr<sink>& s : sinks) s->cancel();
    }
  });
  box->stop();
  {
    const std::lock_guard<std::mutex> lock(m);
    stopped = true;
  }
  cv.notify_all();
  watchdog.join();
  return clean && std::chrono::steady_clock::now() <= deadline;
}

}  // namespace hookrx::cli
