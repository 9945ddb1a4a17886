#include "fake_api.hpp"

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "hookrx/api.hpp"

namespace hookrx::testing {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// --- JSON writing -----------------------------------------------------------------------------

class obj {
 public:
  obj() : s_("{") {}
  obj& str(std::string_view k, std::string_view v) { return raw(k, json_quote(v)); }
  obj& str_or_null(std::string_view k, std::string_view v) { return raw(k, v.empty() ? "null" : json_quote(v)); }
  obj& num(std::string_view k, std::int64_t v) { return raw(k, std::to_string(v)); }
  obj& dbl(std::string_view k, double v) {
    std::array<char, 32> b{};
    const int n = std::snprintf(b.data(), b.size(), "%.6g", v);
    return raw(k, std::string_view(b.data(), static_cast<std::size_t>(std::max(n, 0))));
  }
  obj& boolean(std::string_view k, bool v) { return raw(k, v ? "true" : "false"); }
  obj& raw(std::string_view k, std::string_view json) {
    if (s_.size() > 1) s_ += ',';
    s_ += json_quote(k);
    s_ += ':';
    s_ += json.empty() ? std::string_view("null") : json;
    return *this;
  }
  std::string done() {
    s_ += '}';
    return std::move(s_);
  }

 private:
  std::string s_;
};

std::string array_of(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& i : items) {
    if (out.size() > 1) out += ',';
    out += i;
  }
  return out + ']';
}

std::string error_json(std::string_view code, std::string_view message) {
  return obj().raw("error", obj().str("code", code).str("message", message).done()).done();
}

std::string http_date(sys_time t) {
  static constexpr std::array<const char*, 7> days = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  const std::string iso = to_iso8601(t);  // 2026-06-20T10:00:45.000Z
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto secs = duration_cast<seconds>(t.time_since_epoch()).count();
  const auto day_index = static_cast<std::size_t>(((secs / 86400) % 7 + 7) % 7);
  const int month = std::stoi(iso.substr(5, 2));
  return std::string(days[day_index]) + ", " + iso.substr(8, 2) + ' ' + months[static_cast<std::size_t>(month - 1)] +
         ' ' + iso.substr(0, 4) + ' ' + iso.substr(11, 8) + " GMT";
}

sys_time parse_time_or(std::string_view s, sys_time fallback) {
  if (auto t = parse_iso8601(s)) return *t;
  return fallback;
}

std::string hex_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    out += hex[static_cast<unsigned char>(c) >> 4];
    out += hex[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int v = 0;
    for (std::size_t j = 0; j < 2; ++j) {
      const char c = s[i + j];
      v *= 16;
      if (c >= '0' && c <= '9') {
        v += c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v += c - 'a' + 10;
      } else {
        return std::nullopt;
      }
    }
    out += static_cast<char>(v);
  }
  return out;
}

std::string endpoint_of(const std::string& method, const std::string& path) {
  if (path.rfind("/v2/documents/", 0) == 0) return "parashift_document";
  if (path == "/v1/me") return "me";
  if (path == "/v1/extractions") return method == "POST" ? "submit" : "list_extractions";
  if (path.rfind("/v1/extractions/", 0) == 0) {
    if (path.find("/documents/") != std::string::npos) return "get_document";
    if (path.size() > 8 && path.compare(path.size() - 8, 8, "/results") == 0) return "get_results";
    return "get_extraction";
  }
  return "other";
}

const fake_document* find_doc(const fake_extraction& e, std::string_view id) {
  for (const auto& d : e.documents) {
    if (d.document_id == id) return &d;
  }
  return nullptr;
}

std::string document_json(const fake_extraction& e, const fake_document& d) {
  return obj()
      .str("document_id", d.document_id)
      .str("extraction_id", e.extraction_id)
      .str("parser_id", e.parser_id)
      .str("parser_name", e.parser_name)
      .str("filename", d.filename)
      .str("file_type", d.file_type)
      .num("file_size", d.file_size)
      .str("status", d.status)
      .num("page_count", d.page_count)
      .num("credits_used", d.credits_used)
      .dbl("confidence", d.confidence)
      .num("processing_time_ms", d.processing_time_ms)
      .raw("extracted_data", d.status == "completed" ? d.extracted_data : std::string())
      .str_or_null("error_message", d.error_message)
      .str("created_at", d.created_at.empty() ? e.created_at : d.created_at)
      .str("updated_at", d.updated_at.empty() ? e.updated_at : d.updated_at)
      .done();
}

std::string extraction_json(const fake_extraction& e, bool with_documents, bool with_summary) {
  obj o;
  std::int64_t pages = 0;
  std::int64_t credits = 0;
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  std::vector<std::string> docs;
  for (const auto& d : e.documents) {
    pages += d.page_count;
    credits += d.credits_used;
    completed += d.status == "completed" ? 1 : 0;
    failed += d.status == "failed" ? 1 : 0;
    docs.push_back(obj()
                       .str("document_id", d.document_id)
                       .str("filename", d.filename)
                       .str("status", d.status)
                       .num("page_count", d.page_count)
                       .num("credits_used", d.credits_used)
                       .str_or_null("error_message", d.error_message)
                       .str("created_at", d.created_at.empty() ? e.created_at : d.created_at)
                       .str("updated_at", d.updated_at.empty() ? e.updated_at : d.updated_at)
                       .done());
  }
  const auto total = static_cast<std::int64_t>(e.documents.size());
  o.str("extraction_id", e.extraction_id)
      .str("parser_id", e.parser_id)
      .str("parser_name", e.parser_name)
      .str("status", e.status)
      .num("file_count", total)
      .num("page_count", pages)
      .num("credits_used", credits)
      .str("created_at", e.created_at)
      .str("updated_at", e.updated_at)
      .str_or_null("completed_at", e.completed_at);
  if (with_summary) {
    o.raw("document_summary", obj()
                                  .num("total", total)
                                  .num("completed", completed)
                                  .num("failed", failed)
                                  .num("processing", total - completed - failed)
                                  .done());
  }
  if (with_documents) o.raw("documents", array_of(docs));
  return o.done();
}

std::string parashift_attributes(const fake_parashift_document& d) {
  obj a;
  a.str("status", d.status).num("tenant_id", d.tenant_id).raw("sla_deadline", "null");
  if (!d.custom_fields.empty()) {
    obj cf;
    for (const auto& [k, v] : d.custom_fields) cf.str(k, v);
    a.raw("custom_fields", cf.done());
  }
  if (!d.external_id.empty()) a.str("external_id", d.external_id);
  a.str("created_at", d.created_at).str("updated_at", d.updated_at);
  std::int64_t numeric = 0;
  for (char c : d.id) numeric = (c >= '0' && c <= '9') ? numeric * 10 + (c - '0') : numeric;
  a.num("document_id", numeric);
  return a.done();
}

bool is_terminal(std::string_view s) { return s == "completed" || s == "failed" || s == "partial"; }

}  // namespace

std::string json_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + '"';
}

struct fake_api::impl {
  fake_api_options o;
  httplib::Server server;
  std::thread thread;
  int port = 0;

  mutable std::mutex mu;
  std::map<std::string, fake_extraction, std::less<>> extractions;
  std::map<std::string, fake_parashift_document, std::less<>> parashift;
  fake_faults faults;
  std::mt19937_64 rng{1};
  std::deque<fake_script> scripts;
  std::vector<fake_request> log;
  std::int64_t window_start = -1;
  int window_count = 0;
  int window_submits = 0;
  std::int64_t credits = 0;
  std::size_t created = 0;
  std::uint64_t next_id = 1;
  struct replay {
    std::string fingerprint;
    std::string body;
  };
  std::map<std::string, replay> idempotency;

  [[nodiscard]] sys_time server_now() const { return std::chrono::system_clock::now() + o.clock_offset; }

  // What to do with this call before anything else: a script, a seeded fault, or nothing.
  struct fault {
    int status = -1;  // -1: none; 0: drop
    std::string code;
    std::optional<std::int64_t> reset;
    milliseconds delay{0};
    std::string body;
    std::map<std::string, std::string> headers;
  };
  fault pick_fault(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = scripts.begin(); it != scripts.end(); ++it) {
      if (!it->path_prefix.empty() && path.rfind(it->path_prefix, 0) != 0) continue;
      fault f{it->status, it->vendor_code, it->reset_unix, it->delay, it->body, it->headers};
      if (--it->times <= 0) scripts.erase(it);
      return f;
    }
    const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const double p429 = faults.fraction_429;
    const double p5xx = p429 + faults.fraction_5xx;
    const double pdrop = p5xx + faults.fraction_drop;
    const double pslow = pdrop + faults.fraction_slow;
    if (r < p429) {
      const auto now_s = duration_cast<seconds>(server_now().time_since_epoch()).count();
      return {429, "", now_s + faults.reset_after.count(), milliseconds(0), {}, {}};
    }
    if (r < p5xx) {
      static constexpr std::array<int, 3> statuses = {500, 502, 503};
      return {statuses[static_cast<std::size_t>(rng() % 3)], "", std::nullopt, milliseconds(0), {}, {}};
    }
    if (r < pdrop) return {0, "", std::nullopt, milliseconds(0), {}, {}};
    if (r < pslow) return {-1, "", std::nullopt, faults.slow, {}, {}};
    return {};
  }

  // Counts the call in the current fixed window; false when over a limit.
  struct window_state {
    bool allowed = true;
    int remaining = 0;
    std::int64_t reset = 0;
  };
  window_state take_window(bool submit) {
    std::lock_guard<std::mutex> lock(mu);
    const std::int64_t now = duration_cast<seconds>(server_now().time_since_epoch()).count();
    const std::int64_t w = std::max<std::int64_t>(1, o.window.count());
    const std::int64_t start = now / w * w;
    if (start != window_start) {
      window_start = start;
      window_count = 0;
      window_submits = 0;
    }
    window_state s;
    s.reset = start + w;
    if (window_count >= o.limit_per_window || (submit && window_submits >= o.submit_limit_per_window)) {
      s.allowed = false;
    } else {
      ++window_count;
      if (submit) ++window_submits;
    }
    s.remaining = std::max(0, o.limit_per_window - window_count);
    return s;
  }
  window_state peek_window() {
    std::lock_guard<std::mutex> lock(mu);
    const std::int64_t now = duration_cast<seconds>(server_now().time_since_epoch()).count();
    const std::int64_t w = std::max<std::int64_t>(1, o.window.count());
    const std::int64_t start = now / w * w;
    window_state s;
    s.reset = start + w;
    s.remaining = start == window_start ? std::max(0, o.limit_per_window - window_count) : o.limit_per_window;
    return s;
  }

  void record(const httplib::Request& req, sys_time at, int status) {
    std::lock_guard<std::mutex> lock(mu);
    std::string query;
    for (const auto& [k, v] : req.params) query += (query.empty() ? "" : "&") + k + '=' + v;
    log.push_back({req.method, req.path, endpoint_of(req.method, req.path), std::move(query), at, status});
  }

  void set_rate_headers(httplib::Response& res, const window_state& w) const {
    res.set_header("X-RateLimit-Limit", std::to_string(o.limit_per_window));
    res.set_header("X-RateLimit-Remaining", std::to_string(w.remaining));
    res.set_header("X-RateLimit-Reset", std::to_string(w.reset));
    res.set_header("Date", http_date(server_now()));
  }

  static void drop(httplib::Response& res) {
    // Headers go out, then the body is abandoned: the client sees the connection close mid-answer.
    res.set_content_provider(64, "application/json",
                             [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
  }

  using handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Every API route: faults, authentication, the rate window, then the handler.
  handler api(bool is_parashift, bool is_submit, handler h) {
    return [this, is_parashift, is_submit, h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
      const sys_time at = std::chrono::system_clock::now();
      const fault f = pick_fault(req.path);
      if (f.delay.count() > 0) std::this_thread::sleep_for(f.delay);
      if (f.status == 0) {
        record(req, at, 0);
        drop(res);
        return;
      }
      if (f.status > 0) {
        window_state w = peek_window();
        if (f.reset) w.reset = *f.reset;
        if (f.status == 429) w.remaining = 0;
        set_rate_headers(res, w);
        res.status = f.status;
        std::string code = f.code;
        if (code.empty()) code = f.status == 429 ? "RATE_LIMITED" : f.status >= 500 ? "INTERNAL_ERROR" : "ERROR";
        for (const auto& [name, value] : f.headers) res.set_header(name, value);
        res.set_content(f.body.empty() ? error_json(code, "injected by the fake API") : f.body, "application/json");
        record(req, at, f.status);
        return;
      }
      const bool authorized = is_parashift ? req.get_header_value("Authorization") == "Bearer " + o.parashift_token
                                           : req.get_header_value("X-API-Key") == o.api_key;
      if (!authorized) {
        set_rate_headers(res, peek_window());
        res.status = 401;
        res.set_content(error_json("UNAUTHORIZED", "invalid API key"), "application/json");
        record(req, at, 401);
        return;
      }
      const window_state w = take_window(is_submit);
      set_rate_headers(res, w);
      if (!w.allowed) {
        res.status = 429;
        res.set_content(error_json("RATE_LIMITED", "rate limit exceeded"), "application/json");
        record(req, at, 429);
        return;
      }
      h(req, res);
      // httplib answers 200 for a handler that left the status unset (-1), after the handler.
      record(req, at, res.status == -1 ? 200 : res.status);
    };
  }

  static void not_found(httplib::Response& res, std::string_view what) {
    res.status = 404;
    res.set_content(error_json("RESOURCE_NOT_FOUND", std::string(what) + " not found"), "application/json");
  }
  static void invalid(httplib::Response& res, std::string_view what) {
    res.status = 400;
    res.set_content(error_json("INVALID_PAYLOAD", what), "application/json");
  }

  void get_document(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = extractions.find(req.matches[1].str());
    const fake_document* d = it == extractions.end() ? nullptr : find_doc(it->second, req.matches[2].str());
    if (d == nullptr) return not_found(res, "document");
    res.set_content(obj().raw("document", document_json(it->second, *d)).done(), "application/json");
  }

  void get_extraction(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = extractions.find(req.matches[1].str());
    if (it == extractions.end()) return not_found(res, "extraction");
    res.set_content(obj().raw("extraction", extraction_json(it->second, true, false)).done(), "application/json");
  }

  void get_results(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = extractions.find(req.matches[1].str());
    if (it == extractions.end()) return not_found(res, "extraction");
    std::vector<std::string> docs;
    for (const auto& d : it->second.documents) docs.push_back(document_json(it->second, d));
    res.set_content(obj()
                        .str("extraction_id", it->second.extraction_id)
                        .str("status", it->second.status)
                        .raw("documents", array_of(docs))
                        .done(),
                    "application/json");
  }

  void list(const httplib::Request& req, httplib::Response& res) {
    static constexpr std::array<std::string_view, 6> statuses = {"queued",    "pending", "processing",
                                                                 "completed", "failed",  "partial"};
    const std::string status = req.get_param_value("status");
    if (!status.empty() && std::find(statuses.begin(), statuses.end(), status) == statuses.end()) {
      return invalid(res, "status: unknown value");
    }
    std::optional<sys_time> since;
    if (req.has_param("since")) {
      since = parse_iso8601(req.get_param_value("since"));
      if (!since) return invalid(res, "since: not an ISO-8601 time");
    }
    long limit = 50;
    if (req.has_param("limit")) {
      const std::string l = req.get_param_value("limit");
      char* end = nullptr;
      limit = std::strtol(l.c_str(), &end, 10);
      if (l.empty() || *end != '\0' || limit < 1) return invalid(res, "limit: not a positive number");
      limit = std::min(limit, 100L);
    }
    std::optional<std::pair<sys_time, std::string>> after;
    if (req.has_param("cursor")) {
      const auto raw = hex_decode(req.get_param_value("cursor"));
      const std::size_t bar = raw ? raw->find('|') : std::string::npos;
      if (bar == std::string::npos) return invalid(res, "cursor: unknown");
      after.emplace(parse_time_or(raw->substr(0, bar), sys_time{}), raw->substr(bar + 1));
    }
    const std::string parser_id = req.get_param_value("parser_id");
    std::vector<std::pair<std::pair<sys_time, std::string>, std::string>> rows;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [id, e] : extractions) {
        if (!status.empty() && e.status != status) continue;
        if (!parser_id.empty() && e.parser_id != parser_id) continue;
        const sys_time updated = parse_time_or(e.updated_at, sys_time{});
        if (since && updated < *since) continue;
        std::pair<sys_time, std::string> k{updated, id};
        if (after && !(*after < k)) continue;
        rows.emplace_back(std::move(k), extraction_json(e, false, true));
      }
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const bool more = rows.size() > static_cast<std::size_t>(limit);
    if (more) rows.resize(static_cast<std::size_t>(limit));
    std::vector<std::string> items;
    for (auto& r : rows) items.push_back(std::move(r.second));
    std::string cursor;
    if (more) cursor = hex_encode(to_iso8601(rows.back().first.first) + '|' + rows.back().first.second);
    res.set_content(obj()
                        .raw("extractions", array_of(items))
                        .raw("pagination", obj()
                                               .num("limit", limit)
                                               .boolean("has_next_page", more)
                                               .raw("next_cursor", more ? json_quote(cursor) : "null")
                                               .done())
                        .done(),
                    "application/json");
  }

  void me(const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    res.set_content(obj()
                        .raw("user", obj()
                                         .str("user_id", "usr_fake")
                                         .str("email", "dev@example.com")
                                         .str("name", "Fake User")
                                         .num("credits_available", credits)
                                         .str("key_name", "test key")
                                         .raw("key_expires_at", "null")
                                         .str("member_since", "2025-01-01T00:00:00.000Z")
                                         .done())
                        .done(),
                    "application/json");
  }

  void submit(const httplib::Request& req, httplib::Response& res) {
    if (!req.is_multipart_form_data() || !req.has_file("parser_id")) return invalid(res, "parser_id: missing");
    const std::string parser_id = req.get_file_value("parser_id").content;
    std::vector<httplib::MultipartFormData> files;
    const auto range = req.files.equal_range("files");
    for (auto it = range.first; it != range.second; ++it) files.push_back(it->second);
    if (parser_id.empty() || files.empty()) return invalid(res, "parser_id and files are required");
    std::string fingerprint = parser_id;
    for (const auto& f : files) fingerprint += '\0' + std::to_string(f.content.size()) + ':' + f.content;
    const std::string key = req.get_header_value("Idempotency-Key");
    std::lock_guard<std::mutex> lock(mu);
    if (!key.empty()) {
      auto it = idempotency.find(key);
      if (it != idempotency.end()) {
        if (it->second.fingerprint != fingerprint) {
          res.status = 409;
          res.set_content(error_json("CONFLICT", "idempotency key reused with other content"), "application/json");
          return;
        }
        res.status = 202;
        res.set_header("Idempotent-Replayed", "true");
        res.set_content(it->second.body, "application/json");
        return;
      }
    }
    const auto pages = static_cast<std::int64_t>(files.size());
    if (credits < pages) {
      res.status = 402;
      res.set_content(error_json("INSUFFICIENT_CREDITS", "not enough credits"), "application/json");
      return;
    }
    credits -= pages;
    ++created;
    fake_extraction e;
    e.extraction_id = "ext_sub_" + std::to_string(next_id++);
    e.parser_id = parser_id;
    e.status = "queued";
    e.created_at = e.updated_at = to_iso8601(server_now());
    int i = 0;
    for (const auto& f : files) {
      fake_document d;
      d.document_id = e.extraction_id + "_doc_" + std::to_string(i++);
      d.filename = f.filename;
      d.status = "queued";
      d.file_size = static_cast<std::int64_t>(f.content.size());
      e.documents.push_back(std::move(d));
    }
    const std::string body = obj().raw("extraction", extraction_json(e, true, false)).done();
    extractions[e.extraction_id] = std::move(e);
    if (!key.empty()) idempotency[key] = {fingerprint, body};
    res.status = 202;
    res.set_content(body, "application/json");
  }

  void parashift_get(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = parashift.find(req.matches[1].str());
    if (it == parashift.end()) {
      res.status = 404;
      res.set_content(R"({"errors":[{"status":"404","title":"Not Found"}]})", "application/vnd.api+json");
      return;
    }
    const fake_parashift_document& d = it->second;
    obj body;
    body.raw("data", obj().str("id", d.id).str("type", "documents").raw("attributes", parashift_attributes(d)).done());
    if (req.get_param_value("include") == "document_fields") body.raw("included", d.document_fields_json);
    res.set_content(body.done(), "application/vnd.api+json");
  }

  void routes();
  void control_routes();
  fake_api* self = nullptr;
};

// --- control endpoints and dataset loading (DOM: this is test tooling, not the client) ---------

namespace {

std::string dom_string(simdjson::dom::element e, std::string_view key, std::string fallback = {}) {
  std::string_view v;
  if (e[key].get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  return fallback;
}
std::int64_t dom_int(simdjson::dom::element e, std::string_view key, std::int64_t fallback) {
  std::int64_t v = 0;
  if (e[key].get_int64().get(v) == simdjson::SUCCESS) return v;
  return fallback;
}
double dom_double(simdjson::dom::element e, std::string_view key, double fallback) {
  double v = 0;
  if (e[key].get_double().get(v) == simdjson::SUCCESS) return v;
  return fallback;
}

}  // namespace

bool fake_api::load_json(std::string_view json, std::string& error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto ec = parser.parse(json.data(), json.size()).get(root)) {
    error = simdjson::error_message(ec);
    return false;
  }
  simdjson::dom::array list;
  if (root["extractions"].get_array().get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : list) {
      fake_extraction x;
      x.extraction_id = dom_string(e, "extraction_id");
      if (x.extraction_id.empty()) {
        error = "extractions[]: extraction_id missing";
        return false;
      }
      x.parser_id = dom_string(e, "parser_id", x.parser_id);
      x.parser_name = dom_string(e, "parser_name", x.parser_name);
      x.status = dom_string(e, "status", x.status);
      x.created_at = dom_string(e, "created_at", "2026-06-20T10:00:00.000Z");
      x.updated_at = dom_string(e, "updated_at", x.created_at);
      x.completed_at = dom_string(e, "completed_at");
      simdjson::dom::array docs;
      if (e["documents"].get_array().get(docs) == simdjson::SUCCESS) {
        for (simdjson::dom::element d : docs) {
          fake_document y;
          y.document_id = dom_string(d, "document_id");
          if (y.document_id.empty()) {
            error = "documents[]: document_id missing";
            return false;
          }
          y.status = dom_string(d, "status", y.status);
          y.filename = dom_string(d, "filename", y.filename);
          y.page_count = dom_int(d, "page_count", y.page_count);
          y.credits_used = dom_int(d, "credits_used", y.credits_used);
          y.confidence = dom_double(d, "confidence", y.confidence);
          y.error_message = dom_string(d, "error_message");
          y.created_at = dom_string(d, "created_at");
          y.updated_at = dom_string(d, "updated_at");
          simdjson::dom::element data;
          if (d["extracted_data"].get(data) == simdjson::SUCCESS) y.extracted_data = simdjson::minify(data);
          x.documents.push_back(std::move(y));
        }
      }
      put_extraction(std::move(x));
    }
  }
  if (root["parashift_documents"].get_array().get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : list) {
      fake_parashift_document p;
      std::int64_t numeric = 0;
      p.id = e["id"].get_int64().get(numeric) == simdjson::SUCCESS ? std::to_string(numeric) : dom_string(e, "id");
      if (p.id.empty()) {
        error = "parashift_documents[]: id missing";
        return false;
      }
      p.status = dom_string(e, "status", p.status);
      p.tenant_id = dom_int(e, "tenant_id", p.tenant_id);
      p.external_id = dom_string(e, "external_id");
      p.created_at = dom_string(e, "created_at", "2026-06-20T10:00:00.000Z");
      p.updated_at = dom_string(e, "updated_at", p.created_at);
      simdjson::dom::object cf;
      if (e["custom_fields"].get_object().get(cf) == simdjson::SUCCESS) {
        for (auto [k, v] : cf) {
          std::string_view s;
          if (v.get_string().get(s) == simdjson::SUCCESS) p.custom_fields.emplace_back(std::string(k), std::string(s));
        }
      }
      put_parashift_document(std::move(p));
    }
  }
  return true;
}

void fake_api::impl::routes() {
  server.Get(R"(/v1/me)", api(false, false, [this](const auto& q, auto& r) { me(q, r); }));
  server.Get(R"(/v1/extractions)", api(false, false, [this](const auto& q, auto& r) { list(q, r); }));
  server.Post(R"(/v1/extractions)", api(false, true, [this](const auto& q, auto& r) { submit(q, r); }));
  server.Get(R"(/v1/extractions/([^/]+)/documents/([^/]+))",
             api(false, false, [this](const auto& q, auto& r) { get_document(q, r); }));
  server.Get(R"(/v1/extractions/([^/]+)/results)",
             api(false, false, [this](const auto& q, auto& r) { get_results(q, r); }));
  server.Get(R"(/v1/extractions/([^/]+))", api(false, false, [this](const auto& q, auto& r) { get_extraction(q, r); }));
  server.Get(R"(/v2/documents/([^/]+))", api(true, false, [this](const auto& q, auto& r) { parashift_get(q, r); }));
}

// Control calls for tests that run the fake as a process: neither counted nor rate-limited.
void fake_api::impl::control_routes() {
  const auto ok = [](httplib::Response& res) { res.set_content(R"({"ok":true})", "application/json"); };
  const auto bad = [](httplib::Response& res, std::string_view why) {
    res.status = 400;
    res.set_content(error_json("INVALID_PAYLOAD", why), "application/json");
  };
  server.Get("/_fake/stats", [this](const httplib::Request&, httplib::Response& res) {
    static constexpr std::array<const char*, 8> endpoints = {
        "get_document", "get_extraction", "get_results",        "list_extractions",
        "me",           "submit",         "parashift_document", "other"};
    obj by_endpoint;
    for (const char* e : endpoints) by_endpoint.num(e, static_cast<std::int64_t>(self->count(e)));
    obj by_status;
    std::map<int, std::int64_t> statuses;
    for (const auto& r : self->requests()) ++statuses[r.status];
    for (const auto& [st, n] : statuses) by_status.num(std::to_string(st), n);
    res.set_content(obj()
                        .num("requests", static_cast<std::int64_t>(self->count()))
                        .raw("by_endpoint", by_endpoint.done())
                        .raw("by_status", by_status.done())
                        .num("max_in_60s", static_cast<std::int64_t>(self->max_in_window(seconds(60))))
                        .num("submit_max_in_60s", static_cast<std::int64_t>(self->max_in_window(seconds(60), "submit")))
                        .num("credits", self->credits())
                        .num("submissions_created", static_cast<std::int64_t>(self->submissions_created()))
                        .done(),
                    "application/json");
  });
  server.Get("/_fake/requests", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<std::string> items;
    for (const auto& r : self->requests()) {
      items.push_back(obj()
                          .str("method", r.method)
                          .str("path", r.path)
                          .str("endpoint", r.endpoint)
                          .str("query", r.query)
                          .str("at", to_iso8601(r.at))
                          .num("status", r.status)
                          .done());
    }
    res.set_content(array_of(items), "application/json");
  });
  server.Post("/_fake/dataset", [this, ok, bad](const httplib::Request& req, httplib::Response& res) {
    std::string error;
    if (!self->load_json(req.body, error)) return bad(res, error);
    ok(res);
  });
  server.Post("/_fake/faults", [this, ok, bad](const httplib::Request& req, httplib::Response& res) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    if (parser.parse(req.body).get(e) != simdjson::SUCCESS) return bad(res, "not JSON");
    fake_faults f;
    f.fraction_429 = dom_double(e, "fraction_429", 0);
    f.fraction_5xx = dom_double(e, "fraction_5xx", 0);
    f.fraction_drop = dom_double(e, "fraction_drop", 0);
    f.fraction_slow = dom_double(e, "fraction_slow", 0);
    f.slow = milliseconds(dom_int(e, "slow_ms", 0));
    f.seed = static_cast<std::uint64_t>(dom_int(e, "seed", 1));
    f.reset_after = seconds(dom_int(e, "reset_after_s", 1));
    self->set_faults(f);
    ok(res);
  });
  server.Post("/_fake/script", [this, ok, bad](const httplib::Request& req, httplib::Response& res) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    if (parser.parse(req.body).get(e) != simdjson::SUCCESS) return bad(res, "not JSON");
    fake_script s;
    s.times = static_cast<int>(dom_int(e, "times", 1));
    s.path_prefix = dom_string(e, "path_prefix");
    s.status = static_cast<int>(dom_int(e, "status", 503));
    s.vendor_code = dom_string(e, "vendor_code");
    std::int64_t reset = 0;
    if (e["reset_unix"].get_int64().get(reset) == simdjson::SUCCESS) s.reset_unix = reset;
    s.delay = milliseconds(dom_int(e, "delay_ms", 0));
    s.body = dom_string(e, "body");
    self->script(std::move(s));
    ok(res);
  });
  server.Post("/_fake/document_status", [this, ok, bad](const httplib::Request& req, httplib::Response& res) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    if (parser.parse(req.body).get(e) != simdjson::SUCCESS) return bad(res, "not JSON");
    if (!self->set_document_status(dom_string(e, "extraction_id"), dom_string(e, "document_id"),
                                   dom_string(e, "status"), dom_string(e, "updated_at", to_iso8601(server_now())))) {
      res.status = 404;
      res.set_content(error_json("RESOURCE_NOT_FOUND", "no such document"), "application/json");
      return;
    }
    ok(res);
  });
  server.Post("/_fake/reset_requests", [this, ok](const httplib::Request&, httplib::Response& res) {
    self->reset_requests();
    ok(res);
  });
}

fake_api::fake_api(std::unique_ptr<impl> p) : impl_(std::move(p)) { impl_->self = this; }

fake_api::~fake_api() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::unique_ptr<fake_api> fake_api::start(fake_api_options options) {
  auto p = std::make_unique<impl>();
  p->o = std::move(options);
  p->faults = p->o.faults;
  p->rng.seed(p->o.faults.seed);
  p->credits = p->o.credits;
  const auto threads = static_cast<std::size_t>(std::max(1, p->o.threads));
  p->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  p->server.set_tcp_nodelay(true);
  p->server.set_payload_max_length(std::size_t{64} << 20);
  p->server.set_keep_alive_max_count(1000);
  p->routes();
  p->control_routes();
  p->port = p->o.port == 0 ? p->server.bind_to_any_port(p->o.host) : p->o.port;
  if (p->o.port != 0 && !p->server.bind_to_port(p->o.host, p->o.port)) return nullptr;
  if (p->port <= 0) return nullptr;
  impl* raw = p.get();
  std::unique_ptr<fake_api> api(new fake_api(std::move(p)));
  raw->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  while (!raw->server.is_running()) std::this_thread::sleep_for(milliseconds(1));
  return api;
}

int fake_api::port() const noexcept { return impl_->port; }
std::string fake_api::base_url() const {
  const bool v6 = impl_->o.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + impl_->o.host + "]" : impl_->o.host) + ':' + std::to_string(impl_->port);
}
const fake_api_options& fake_api::options() const noexcept { return impl_->o; }

void fake_api::put_extraction(fake_extraction ext) {
  if (ext.created_at.empty()) ext.created_at = "2026-06-20T10:00:00.000Z";
  if (ext.updated_at.empty()) ext.updated_at = ext.created_at;
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->extractions[ext.extraction_id] = std::move(ext);
}

bool fake_api::set_document_status(std::string_view extraction_id, std::string_view document_id,
                                   std::string_view status, std::string_view updated_at) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->extractions.find(extraction_id);
  if (it == impl_->extractions.end()) return false;
  fake_extraction& e = it->second;
  for (auto& d : e.documents) {
    if (d.document_id != document_id) continue;
    d.status.assign(status);
    d.updated_at.assign(updated_at);
    e.updated_at.assign(updated_at);
    bool all_terminal = true;
    bool any_failed = false;
    bool any_completed = false;
    for (const auto& x : e.documents) {
      all_terminal = all_terminal && (x.status == "completed" || x.status == "failed");
      any_failed = any_failed || x.status == "failed";
      any_completed = any_completed || x.status == "completed";
    }
    if (all_terminal) {
      e.status = any_failed ? (any_completed ? "partial" : "failed") : "completed";
      e.completed_at.assign(updated_at);
    } else {
      e.status = "processing";
    }
    return true;
  }
  return false;
}

std::optional<fake_extraction> fake_api::extraction(std::string_view id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->extractions.find(id);
  if (it == impl_->extractions.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> fake_api::extraction_ids() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> ids;
  for (const auto& [id, e] : impl_->extractions) ids.push_back(id);
  return ids;
}

void fake_api::put_parashift_document(fake_parashift_document doc) {
  if (doc.created_at.empty()) doc.created_at = "2026-06-20T10:00:00.000Z";
  if (doc.updated_at.empty()) doc.updated_at = doc.created_at;
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->parashift[doc.id] = std::move(doc);
}

void fake_api::set_faults(const fake_faults& faults) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults = faults;
  impl_->rng.seed(faults.seed);
}

void fake_api::script(fake_script s) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->scripts.push_back(std::move(s));
}

void fake_api::clear_scripts() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->scripts.clear();
}

std::vector<fake_request> fake_api::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log;
}

std::size_t fake_api::count(std::string_view endpoint) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return static_cast<std::size_t>(std::count_if(impl_->log.begin(), impl_->log.end(), [&](const fake_request& r) {
    return endpoint.empty() || r.endpoint == endpoint;
  }));
}

std::size_t fake_api::count_status(std::string_view endpoint, int status) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return static_cast<std::size_t>(std::count_if(impl_->log.begin(), impl_->log.end(), [&](const fake_request& r) {
    return (endpoint.empty() || r.endpoint == endpoint) && r.status == status;
  }));
}

std::size_t fake_api::max_in_window(std::chrono::milliseconds window, std::string_view endpoint) const {
  std::vector<sys_time> times;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& r : impl_->log) {
      if (endpoint.empty() || r.endpoint == endpoint) times.push_back(r.at);
    }
  }
  std::sort(times.begin(), times.end());
  std::size_t best = 0;
  std::size_t lo = 0;
  for (std::size_t hi = 0; hi < times.size(); ++hi) {
    while (times[hi] - times[lo] >= window) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}

void fake_api::reset_requests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->log.clear();
}

std::int64_t fake_api::credits() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->credits;
}

std::size_t fake_api::submissions_created() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->created;
}

// --- dataset helpers ---

fake_extraction make_extraction(std::string id, int documents, std::string status, std::string updated_at,
                                int failed_every) {
  fake_extraction e;
  e.extraction_id = std::move(id);
  e.created_at = updated_at;
  e.updated_at = std::move(updated_at);
  bool any_failed = false;
  bool any_completed = false;
  for (int i = 0; i < documents; ++i) {
    fake_document d;
    d.document_id = e.extraction_id + "_doc_" + std::to_string(i);
    d.filename = "file_" + std::to_string(i) + ".pdf";
    d.status = status;
    if (failed_every > 0 && (i + 1) % failed_every == 0 && is_terminal(status)) {
      d.status = "failed";
      d.error_message = "unreadable scan";
      d.extracted_data.clear();
    }
    any_failed = any_failed || d.status == "failed";
    any_completed = any_completed || d.status == "completed";
    d.extracted_data = d.status == "completed" ? R"({"total":")" + std::to_string(100 + i) + R"(.00"})" : "";
    e.documents.push_back(std::move(d));
  }
  if (is_terminal(status)) {
    e.status = any_failed ? (any_completed ? "partial" : "failed") : "completed";
    e.completed_at = e.updated_at;
  } else {
    e.status = status;
  }
  return e;
}

std::string document_webhook_body(const fake_extraction& ext, const fake_document& doc) {
  std::string d = document_json(ext, doc);
  return R"({"event":"extraction.document_completed",)" + d.substr(1);
}

std::string job_webhook_body(const fake_extraction& ext) {
  std::string e = extraction_json(ext, true, true);
  return R"({"event":"extraction.job_completed",)" + e.substr(1);
}

std::string parashift_webhook_body(const fake_parashift_document& doc, std::string_view topic) {
  return obj()
      .str("id", doc.id)
      .str("type", "documents")
      .raw("attributes", parashift_attributes(doc))
      .str("request_id", "req_" + doc.id)
      .str("topic", topic)
      .done();
}

}  // namespace hookrx::testing
