#include <string>

#include "hookrx/api.hpp"

namespace hookrx {

std::string_view to_string(api_endpoint e) noexcept {
  switch (e) {
    case api_endpoint::get_document: return "get_document";
    case api_endpoint::get_extraction: return "get_extraction";
    case api_endpoint::get_results: return "get_results";
    case api_endpoint::list_extractions: return "list_extractions";
    case api_endpoint::me: return "me";
    case api_endpoint::submit: return "submit";
    case api_endpoint::parashift_document: return "parashift_document";
  }
  return "unknown";
}

std::string_view to_string(api_outcome o) noexcept {
  switch (o) {
    case api_outcome::s2xx: return "2xx";
    case api_outcome::s3xx: return "3xx";
    case api_outcome::s4xx: return "4xx";
    case api_outcome::s5xx: return "5xx";
    case api_outcome::transport: return "transport";
    case api_outcome::timeout: return "timeout";
  }
  return "unknown";
}

void api_counters::count_request(api_endpoint e, api_outcome o) noexcept {
  requests_[static_cast<std::size_t>(e)][static_cast<std::size_t>(o)].fetch_add(1, std::memory_order_relaxed);
}

void api_counters::count_wait(std::chrono::milliseconds d) noexcept {
  waits_.fetch_add(1, std::memory_order_relaxed);
  wait_ms_.fetch_add(static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0), std::memory_order_relaxed);
}

api_counters_snapshot api_counters::snapshot() const noexcept {
  api_counters_snapshot s;
  for (std::size_t e = 0; e < api_endpoint_count; ++e) {
    for (std::size_t o = 0; o < api_outcome_count; ++o)
      s.requests[e][o] = requests_[e][o].load(std::memory_order_relaxed);
  }
  s.rate_limited = rate_limited_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  s.waits = waits_.load(std::memory_order_relaxed);
  s.wait_ms = wait_ms_.load(std::memory_order_relaxed);
  s.calls_failed = failed_.load(std::memory_order_relaxed);
  return s;
}

std::uint64_t api_counters_snapshot::requests_to(api_endpoint e) const noexcept {
  std::uint64_t n = 0;
  for (std::uint64_t v : requests[static_cast<std::size_t>(e)]) n += v;
  return n;
}

std::uint64_t api_counters_snapshot::total_requests() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t e = 0; e < api_endpoint_count; ++e) n += requests_to(static_cast<api_endpoint>(e));
  return n;
}

std::string api_counters_snapshot::to_prometheus(std::string_view prefix) const {
  std::string out;
  const std::string p(prefix);
  out += "# TYPE " + p + "requests_total counter\n";
  for (std::size_t e = 0; e < api_endpoint_count; ++e) {
    for (std::size_t o = 0; o < api_outcome_count; ++o) {
      if (requests[e][o] == 0) continue;
      out += p + "requests_total{endpoint=\"";
      out += to_string(static_cast<api_endpoint>(e));
      out += "\",outcome=\"";
      out += to_string(static_cast<api_outcome>(o));
      out += "\"} " + std::to_string(requests[e][o]) + '\n';
    }
  }
  const auto line = [&](const char* name, const char* type, std::uint64_t v) {
    out += "# TYPE " + p + name + ' ' + type + '\n' + p + name + ' ' + std::to_string(v) + '\n';
  };
  line("rate_limited_total", "counter", rate_limited);
  line("retries_total", "counter", retries);
  line("waits_total", "counter", waits);
  // Prometheus counts time in seconds (base units), so the milliseconds kept are converted here.
  out += "# TYPE " + p + "wait_seconds_total counter\n" + p + "wait_seconds_total " +
         std::to_string(static_cast<double>(wait_ms) / 1000.0) + '\n';
  line("calls_failed_total", "counter", calls_failed);
  return out;
}

}  // namespace hookrx
