#include "http.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>

#include "parse_api.hpp"

namespace hookrx::detail::api {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

api_error make_error(api_errc code, std::string detail, int status = 0) {
  return api_error{code, status, {}, std::move(detail), 0};
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::int64_t> header_int(const httplib::Response& res, const char* name) {
  if (!res.has_header(name)) return std::nullopt;
  const std::string text = res.get_header_value(name);  // returned by value: keep it alive
  std::string_view v = text;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return n;
}

// Cut to `max` bytes, control characters replaced: details end up in logs.
std::string printable(std::string_view s, std::size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  if (s.size() > max) out += "...";
  return out;
}

api_outcome outcome_of(int status) noexcept {
  if (status >= 500) return api_outcome::s5xx;
  if (status >= 400) return api_outcome::s4xx;
  if (status >= 300) return api_outcome::s3xx;
  return api_outcome::s2xx;
}

bool retryable_status(int status) noexcept { return status == 429 || status >= 500; }

}  // namespace

api_result<base_url> parse_base_url(std::string_view url) {
  base_url out;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
    out.https = false;
  } else {
    return make_error(api_errc::invalid_argument,
                      "base_url: must start with https:// (or http:// for a local test server)");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  const bool bad_char = std::any_of(url.begin(), url.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '?' || c == '#' || c == '@' || c == '\\';
  });
  if (authority.empty() || bad_char) {
    return make_error(api_errc::invalid_argument,
                      "base_url: expected scheme://host[:port][/path] without user info, query or fragment");
  }
  // The port, when given, is digits only and within range.
  const std::size_t colon = authority.rfind(':');
  const std::size_t bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    const std::string_view port = authority.substr(colon + 1);
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535) {
      return make_error(api_errc::invalid_argument, "base_url: the port is not a number from 1 to 65535");
    }
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.origin.assign(url.substr(0, url.size() - rest.size() + authority.size()));
  out.prefix.assign(path);
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

api_error error_for_status(int status, std::string_view body) {
  const error_body eb = parse_error_body(body);
  api_errc code = api_errc::http_status;
  switch (status) {
    case 400: code = api_errc::invalid_request; break;
    case 401:
    case 403: code = api_errc::unauthorized; break;
    case 402: code = api_errc::insufficient_credits; break;
    case 404: code = api_errc::not_found; break;
    case 409: code = api_errc::conflict; break;
    case 429: code = api_errc::rate_limited; break;
    default:
      if (status >= 500) code = api_errc::server_error;
  }
  // A documented vendor code says more than the status.
  if (eb.code == "UNAUTHORIZED") code = api_errc::unauthorized;
  if (eb.code == "INSUFFICIENT_CREDITS") code = api_errc::insufficient_credits;
  if (eb.code == "RESOURCE_NOT_FOUND") code = api_errc::not_found;
  if (eb.code == "INVALID_PAYLOAD") code = api_errc::invalid_request;
  if (eb.code == "CONFLICT") code = api_errc::conflict;
  if (eb.code == "RATE_LIMITED") code = api_errc::rate_limited;
  api_error e{code, status, printable(eb.code, 64), {}, 0};
  e.detail = !eb.message.empty() ? printable(eb.message) : printable(body, 200);
  return e;
}

struct caller::state {
  api_client_options o;
  base_url url;
  std::string url_text;
  auth a;
  std::shared_ptr<rate_budget> budget;
  std::shared_ptr<api_counters> counters;
  std::shared_ptr<const clock> time;
  random_source random;
  wait_function wait;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<httplib::Client>> idle;

  std::unique_ptr<httplib::Client> take() {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    auto c = std::make_unique<httplib::Client>(url.origin);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);  // STYLE.md: without it small requests wait for delayed ACKs
    c->set_follow_location(false);
    if (url.https) {
      c->enable_server_certificate_verification(o.verify_tls);
      if (!o.ca_cert_file.empty()) c->set_ca_cert_path(o.ca_cert_file);
    }
    return c;
  }

  void give_back(std::unique_ptr<httplib::Client> c) {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (idle.size() < 16) idle.push_back(std::move(c));
  }

  // The key must never reach a message: anything the server echoes is scrubbed.
  void scrub(std::string& s) const {
    if (o.api_key.size() < 4) return;
    for (std::size_t at = s.find(o.api_key); at != std::string::npos; at = s.find(o.api_key, at)) {
      s.replace(at, o.api_key.size(), "[redacted]");
    }
  }

  bool wait_for(milliseconds d) {
    if (d.count() <= 0) return true;
    counters->count_wait(d);
    return wait(d);
  }
};

caller::caller(std::unique_ptr<state> s) : s_(std::move(s)) {}
caller::~caller() = default;

api_result<std::unique_ptr<caller>> caller::create(const api_client_options& options, std::string_view url, auth a) {
  if (options.api_key.empty()) return make_error(api_errc::invalid_argument, "api_key: empty");
  if (std::any_of(options.api_key.begin(), options.api_key.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x21 || c == 0x7f; })) {
    return make_error(api_errc::invalid_argument, "api_key: contains spaces or control characters");
  }
  if (options.deadline.count() <= 0) return make_error(api_errc::invalid_argument, "deadline: must be positive");
  if (options.connect_timeout.count() <= 0 || options.read_timeout.count() <= 0) {
    return make_error(api_errc::invalid_argument, "connect_timeout/read_timeout: must be positive");
  }
  if (options.retry.max_attempts < 1) return make_error(api_errc::invalid_argument, "retry.max_attempts: at least 1");
  if (!options.budget && (options.rate.requests_per_minute < 1 || options.rate.submissions_per_minute < 1)) {
    return make_error(api_errc::invalid_argument, "rate.requests_per_minute/submissions_per_minute: at least 1");
  }
  auto parsed = parse_base_url(url);
  if (!parsed) return std::move(parsed).error();
  auto s = std::make_unique<state>();
  s->o = options;
  s->url = std::move(*parsed);
  s->url_text.assign(url);
  s->a = std::move(a);
  s->budget = options.budget ? options.budget : rate_budget::shared_for(options.api_key, options.rate);
  s->counters = options.counters ? options.counters : std::make_shared<api_counters>();
  const rate_budget_options& bo = s->budget->options();
  s->time = options.rate.time ? options.rate.time : bo.time;
  s->random = options.rate.random ? options.rate.random : bo.random;
  s->wait = options.rate.wait ? options.rate.wait : bo.wait;
  if (!s->time) s->time = system_clock();
  if (!s->random) s->random = default_random();
  if (!s->wait) s->wait = sleeping_wait();
  return std::unique_ptr<caller>(new caller(std::move(s)));
}

rate_budget& caller::budget() noexcept { return *s_->budget; }
api_counters& caller::counters() noexcept { return *s_->counters; }
const std::string& caller::url() const noexcept { return s_->url_text; }

api_result<http_answer> caller::call(const http_request& request) {
  state& s = *s_;
  const time_point deadline = s.time->now() + s.o.deadline;
  std::optional<api_error> last;
  const auto fail = [&](api_error e, int attempts) {
    e.attempts = attempts;
    s.scrub(e.detail);
    s.counters->count_failure();
    return e;
  };

  httplib::Request req;
  req.method = request.method;
  req.path = s.url.prefix + request.target;
  req.headers.emplace(s.a.header, s.a.value);
  req.headers.emplace("Accept", s.a.accept);
  req.headers.emplace("User-Agent", s.o.user_agent);
  for (const auto& [name, value] : request.headers) req.headers.emplace(name, value);
  if (!request.content_type.empty()) {
    req.headers.emplace("Content-Type", request.content_type);
  } else if (s.a.json_api) {
    req.headers.emplace("Content-Type", s.a.accept);
  }
  req.body = request.body;

  for (int attempt = 1;; ++attempt) {
    auto waited = s.budget->acquire(request.kind, deadline);
    if (!waited) {
      // Out of time while waiting for the budget: report why we were waiting, if we were.
      if (last && waited.error().code == api_errc::deadline_exceeded) {
        api_error e = *last;
        e.detail += "; then " + waited.error().detail;
        return fail(std::move(e), attempt - 1);
      }
      return fail(waited.error(), attempt - 1);
    }
    if (waited->count() > 0) s.counters->count_wait(*waited);
    if (attempt > 1) s.counters->count_retry();

    const time_point now = s.time->now();
    auto read_timeout = s.o.read_timeout;
    const auto left = duration_cast<milliseconds>(deadline - now);
    if (left.count() > 0 && left < read_timeout) read_timeout = left;

    std::unique_ptr<httplib::Client> client = s.take();
    client->set_connection_timeout(std::chrono::duration_cast<std::chrono::seconds>(s.o.connect_timeout).count(),
                                   static_cast<time_t>((s.o.connect_timeout.count() % 1000) * 1000));
    client->set_read_timeout(read_timeout);
    client->set_write_timeout(read_timeout);

    std::string body;
    bool too_large = false;
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      if (body.size() + n > max_answer_bytes) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    };
    const auto started = std::chrono::steady_clock::now();
    httplib::Result res = client->send(req);
    const auto elapsed = std::chrono::steady_clock::now() - started;

    if (!res) {
      const httplib::Error err = res.error();
      api_error e = make_error(api_errc::transport, "");
      bool timed_out = err == httplib::Error::ConnectionTimeout;
      if (err == httplib::Error::Read || err == httplib::Error::Write) {
        timed_out = elapsed + milliseconds(50) >= read_timeout;
      } else if (err == httplib::Error::Connection) {
        timed_out = elapsed + milliseconds(50) >= s.o.connect_timeout;
      }
      if (timed_out) e.code = api_errc::timeout;
      e.detail = too_large
                     ? "the answer is larger than " + std::to_string(max_answer_bytes >> 20) + " MiB"
                     : request.method + ' ' + std::string(to_string(request.endpoint)) + ": " + httplib::to_string(err);
      s.counters->count_request(request.endpoint, timed_out ? api_outcome::timeout : api_outcome::transport);
      // The connection is in an unknown state: it is not reused.
      last = e;
      if (too_large || err == httplib::Error::SSLServerVerification || err == httplib::Error::SSLLoadingCerts) {
        return fail(std::move(e), attempt);  // repeating cannot help
      }
    } else {
      s.give_back(std::move(client));
      rate_observation obs;
      obs.http_status = res->status;
      obs.limit = header_int(*res, "X-RateLimit-Limit");
      obs.remaining = header_int(*res, "X-RateLimit-Remaining");
      obs.reset_unix = header_int(*res, "X-RateLimit-Reset");
      if (res->has_header("Date")) obs.server_date = parse_http_date(res->get_header_value("Date"));
      obs.received_at = s.time->now();
      s.budget->observe(obs);
      s.counters->count_request(request.endpoint, outcome_of(res->status));
      if (res->status == 429) s.counters->count_rate_limited();
      if (res->status >= 200 && res->status < 300) {
        http_answer a;
        a.status = res->status;
        a.body = std::move(body);
        a.replayed = iequals(res->get_header_value("Idempotent-Replayed"), "true");
        return a;
      }
      api_error e = error_for_status(res->status, body);
      if (!retryable_status(res->status)) return fail(std::move(e), attempt);
      last = std::move(e);
    }

    if (!s.o.retry.should_retry(attempt)) return fail(*last, attempt);
    const milliseconds delay = s.o.retry.delay_after(attempt, s.random());
    if (s.time->now() + delay > deadline) {
      api_error e = *last;
      e.detail += "; no time left before the call's deadline for another attempt";
      return fail(std::move(e), attempt);
    }
    if (!s.wait_for(delay)) return fail(make_error(api_errc::cancelled, "retry wait abandoned"), attempt);
  }
}

}  // namespace hookrx::detail::api
