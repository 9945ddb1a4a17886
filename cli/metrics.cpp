// Prometheus text rendering of the binary's counters.
#include "metrics.hpp"

#include <cstdio>

#include "config.hpp"

namespace hookrx::cli {
namespace {

// A label value: backslash, quote and newline escaped, as the text format requires.
void append_label(std::string& out, std::string_view name, std::string_view value, bool first = false) {
  if (!first) out.push_back(',');
  out += name;
  out += "=\"";
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// "# HELP name help" and "# TYPE name type": the two lines every metric opens with.
void render_header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(1, ' ').append(help);
  out.append("\n# TYPE ").append(name).append(1, ' ').append(type).append(1, '\n');
}

void render_counter(std::string& out, std::string_view name, std::string_view help,
                    const std::map<std::string, std::uint64_t, std::less<>>& series) {
  render_header(out, name, "counter", help);
  for (const auto& [labels, n] : series) {
    out.append(name).append(1, '{').append(labels).append("} ").append(std::to_string(n)).append(1, '\n');
  }
}

void render_scalar(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                   const std::string& value) {
  render_header(out, name, type, help);
  out.append(name).append(1, ' ').append(value).append(1, '\n');
}

std::string number(double d) {
  char buf[40];
  (void)std::snprintf(buf, sizeof buf, "%.9g", d);
  return buf;
}

}  // namespace

void metrics::delivery(std::string_view provider, std::string_view event, std::string_view outcome) {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::string_view ev = event;
  if (!ev.empty() && event_names_.find(ev) == event_names_.end()) {
    if (event_names_.size() < max_event_labels) {
      event_names_.emplace(std::string(ev), true);
    } else {
      ev = "other";
    }
  }
  std::string labels;
  append_label(labels, "provider", provider, true);
  append_label(labels, "event", ev);
  append_label(labels, "outcome", outcome);
  ++deliveries_[labels];
  if (outcome == "duplicate") {
    std::string p;
    append_label(p, "provider", provider, true);
    ++duplicates_[p];
  }
}

void metrics::verification_failure(std::string_view provider, std::string_view reason) {
  std::string labels;
  append_label(labels, "provider", provider, true);
  append_label(labels, "reason", reason);
  const std::lock_guard<std::mutex> lock(mutex_);
  ++verification_[labels];
}

void metrics::http_answer(std::string_view path, int status) {
  std::string labels;
  // Paths outside the routes are one label: a scanner must not grow the series without bound.
  append_label(labels, "route", path.empty() ? std::string_view("other") : path, true);
  append_label(labels, "code", std::to_string(status));
  const std::lock_guard<std::mutex> lock(mutex_);
  ++http_[labels];
}

void metrics::sink_call(std::string_view sink, std::uint64_t ok, std::uint64_t failed, double seconds) {
  std::string labels;
  append_label(labels, "sink", sink, true);
  std::string ok_labels = labels;
  append_label(ok_labels, "outcome", "ok");
  std::string failed_labels = labels;
  append_label(failed_labels, "outcome", "failed");
  const std::lock_guard<std::mutex> lock(mutex_);
  if (ok > 0) sink_calls_[ok_labels] += ok;
  if (failed > 0) sink_calls_[failed_labels] += failed;
  histogram& h = sink_seconds_[labels];
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (seconds <= buckets[i]) h.counts[i] += ok + failed;
  }
  h.count += ok + failed;
  h.sum += seconds * static_cast<double>(ok + failed);
}

std::string metrics::render() const {
  std::string out;
  out.reserve(4096);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    render_counter(out, "hookrx_deliveries_total", "Webhook deliveries by provider, event and outcome.", deliveries_);
    render_counter(out, "hookrx_duplicates_total", "Deliveries acknowledged as duplicates.", duplicates_);
    render_counter(out, "hookrx_verification_failures_total", "Deliveries refused by authentication, by reason.",
                   verification_);
    render_counter(out, "hookrx_http_responses_total", "HTTP answers by route and status code.", http_);
    render_counter(out, "hookrx_sink_calls_total", "Events handed to each sink, by outcome.", sink_calls_);
    render_header(out, "hookrx_sink_duration_seconds", "histogram",
                  "Time an event spent in a sink call (a batch's events share one call).");
    for (const auto& [labels, h] : sink_seconds_) {
      for (std::size_t i = 0; i < buckets.size(); ++i) {
        out += "hookrx_sink_duration_seconds_bucket{" + labels + ",le=\"" + number(buckets[i]) + "\"} " +
               std::to_string(h.counts[i]) + "\n";
      }
      out += "hookrx_sink_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
      out += "hookrx_sink_duration_seconds_sum{" + labels + "} " + number(h.sum) + "\n";
      out += "hookrx_sink_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
    }
  }
  const std::uint64_t queued = queued_.load(std::memory_order_relaxed);
  const std::uint64_t handled = handled_.load(std::memory_order_relaxed);
  const std::uint64_t dead = dead_.load(std::memory_order_relaxed);
  render_scalar(out, "hookrx_inbox_queued_total", "counter", "Deliveries this process stored in the inbox.",
                std::to_string(queued));
  render_scalar(out, "hookrx_inbox_handled_total", "counter", "Inbox entries whose sinks all succeeded.",
                std::to_string(handled));
  render_scalar(out, "hookrx_inbox_retries_total", "counter", "Inbox entries queued again after a sink failed.",
                std::to_string(retried_.load(std::memory_order_relaxed)));
  render_scalar(out, "hookrx_dead_letters_total", "counter", "Inbox entries moved to the dead letter.",
                std::to_string(dead));
  render_scalar(out, "hookrx_store_up", "gauge", "1 while the store answered its last health check.",
                store_up_.load(std::memory_order_relaxed) ? "1" : "0");
  std::function<poller_numbers()> read_poller;
  std::function<std::string()> render_api;
  std::function<std::optional<std::int64_t>()> read_depth;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    read_poller = poller_;
    render_api = api_;
    read_depth = depth_;
  }
  if (const std::optional<std::int64_t> depth = read_depth ? read_depth() : std::nullopt) {
    render_scalar(out, "hookrx_inbox_depth", "gauge",
                  "Entries waiting or in flight in the store, whichever instance queued them.", std::to_string(*depth));
  }
  if (render_api) out += render_api();
  if (read_poller) {
    const poller_numbers p = read_poller();
    render_scalar(out, "hookrx_poller_rounds_total", "counter", "Poller rounds this instance led.",
                  std::to_string(p.rounds));
    render_scalar(out, "hookrx_poller_polls_total", "counter", "Extractions and documents fetched by the poller.",
                  std::to_string(p.polls));
    render_header(out, "hookrx_poller_recoveries_total", "counter",
                  "Events the poller recovered (their webhook never came).");
    out += "hookrx_poller_recoveries_total{kind=\"document\"} " + std::to_string(p.documents_recovered) + "\n";
    out += "hookrx_poller_recoveries_total{kind=\"job\"} " + std::to_string(p.jobs_recovered) + "\n";
    render_scalar(out, "hookrx_poller_errors_total", "counter", "Failed API calls or store operations of the poller.",
                  std::to_string(p.errors));
  }
  const std::uint64_t enrich_ok = enrich_ok_.load(std::memory_order_relaxed);
  const std::uint64_t enrich_failed = enrich_failed_.load(std::memory_order_relaxed);
  if (enrich_ok + enrich_failed > 0) {
    render_header(out, "hookrx_enrich_calls_total", "counter", "Document fetches of --enrich by outcome.");
    out += "hookrx_enrich_calls_total{outcome=\"ok\"} " + std::to_string(enrich_ok) + "\n";
    out += "hookrx_enrich_calls_total{outcome=\"failed\"} " + std::to_string(enrich_failed) + "\n";
  }
  render_header(out, "hookrx_build_info", "gauge", "The running build.");
  out += "hookrx_build_info{version=\"";
  out += version();
  out += "\"} 1\n";
  return out;
}

}  // namespace hookrx::cli
