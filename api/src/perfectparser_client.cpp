#include <random>
#include <set>
#include <string>

#include "hookrx/api.hpp"
#include "http.hpp"
#include "parse_api.hpp"

namespace hookrx {

using detail::api::caller;
using detail::api::http_request;
using detail::api::url_encode;

namespace {

api_error bad(std::string detail) { return api_error{api_errc::invalid_argument, 0, {}, std::move(detail), 0}; }

// Ids go into the path: refuse what could leave their segment even after encoding would keep it.
api_result<void> check_id(std::string_view id, std::string_view name) {
  if (id.empty()) return bad(std::string(name) + ": empty");
  if (id.size() > 512) return bad(std::string(name) + ": longer than 512 characters");
  return {};
}

// A multipart boundary that occurs in none of the contents.
std::string boundary_for(const submission& s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device rd;
  for (;;) {
    std::string b = "hookrx-boundary-";
    for (int i = 0; i < 32; ++i) b += hex[rd() & 15U];
    bool clash = s.parser_id.find(b) != std::string::npos;
    for (const auto& f : s.files) clash = clash || f.content.find(b) != std::string::npos;
    if (!clash) return b;
  }
}

// A filename as a quoted-string parameter: quotes, backslashes and line breaks cannot close it.
std::string safe_filename(std::string_view name) {
  std::string out;
  for (char c : name) out += (c == '"' || c == '\\' || c == '\r' || c == '\n') ? '_' : c;
  return out;
}

std::string multipart_body(const submission& s, const std::string& boundary) {
  std::string body;
  std::size_t size = s.parser_id.size() + 256;
  for (const auto& f : s.files) size += f.content.size() + f.filename.size() + 256;
  body.reserve(size);
  body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"parser_id\"\r\n\r\n" + s.parser_id + "\r\n";
  for (const auto& f : s.files) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" +
            safe_filename(f.filename) + "\"\r\nContent-Type: " + safe_filename(f.content_type) + "\r\n\r\n";
    body += f.content;
    body += "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return body;
}

}  // namespace

struct perfectparser_client::impl {
  std::unique_ptr<caller> http;

  template <class T, class Parse>
  api_result<T> get(api_endpoint ep, std::string target, Parse parse) {
    http_request r;
    r.endpoint = ep;
    r.target = std::move(target);
    auto a = http->call(r);
    if (!a) return std::move(a).error();
    auto parsed = parse(a->body);
    if (!parsed) {
      http->counters().count_failure();
      api_error e = std::move(parsed).error();
      e.http_status = a->status;
      e.attempts = 1;
      return e;
    }
    return std::move(*parsed);
  }
};

perfectparser_client::perfectparser_client(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
perfectparser_client::perfectparser_client(perfectparser_client&&) noexcept = default;
perfectparser_client& perfectparser_client::operator=(perfectparser_client&&) noexcept = default;
perfectparser_client::~perfectparser_client() = default;

api_result<perfectparser_client> perfectparser_client::create(const perfectparser_client_options& options) {
  caller::auth a{"X-API-Key", options.api_key, "application/json", false};
  auto http = caller::create(options, options.base_url, std::move(a));
  if (!http) return std::move(http).error();
  auto p = std::make_unique<impl>();
  p->http = std::move(*http);
  return perfectparser_client(std::move(p));
}

api_result<pp_document> perfectparser_client::get_document(std::string_view extraction_id,
                                                           std::string_view document_id) {
  if (auto st = check_id(extraction_id, "extraction_id"); !st) return st.error();
  if (auto st = check_id(document_id, "document_id"); !st) return st.error();
  return impl_->get<pp_document>(
      api_endpoint::get_document,
      "/v1/extractions/" + url_encode(extraction_id) + "/documents/" + url_encode(document_id),
      [&](std::string_view body) { return detail::api::parse_document(body, extraction_id); });
}

api_result<pp_extraction> perfectparser_client::get_extraction(std::string_view extraction_id) {
  if (auto st = check_id(extraction_id, "extraction_id"); !st) return st.error();
  return impl_->get<pp_extraction>(api_endpoint::get_extraction, "/v1/extractions/" + url_encode(extraction_id),
                                   [](std::string_view body) { return detail::api::parse_extraction(body); });
}

api_result<pp_results> perfectparser_client::get_results(std::string_view extraction_id) {
  if (auto st = check_id(extraction_id, "extraction_id"); !st) return st.error();
  return impl_->get<pp_results>(api_endpoint::get_results, "/v1/extractions/" + url_encode(extraction_id) + "/results",
                                [&](std::string_view body) { return detail::api::parse_results(body, extraction_id); });
}

api_result<pp_extraction_page> perfectparser_client::list_extractions_page(const list_extractions_query& q,
                                                                           std::string_view cursor) {
  if (q.limit < 1 || q.limit > 100) return bad("limit: must be from 1 to 100");
  static constexpr std::string_view statuses[] = {"queued", "pending", "processing", "completed", "failed", "partial"};
  if (!q.status.empty() && std::find(std::begin(statuses), std::end(statuses), q.status) == std::end(statuses)) {
    return bad("status: must be one of queued, pending, processing, completed, failed, partial");
  }
  if (!q.since.empty() && !parse_iso8601(q.since)) return bad("since: not an ISO-8601 UTC time: " + q.since);
  std::string target = "/v1/extractions?limit=" + std::to_string(q.limit);
  if (!q.since.empty()) target += "&since=" + url_encode(q.since);
  if (!q.status.empty()) target += "&status=" + url_encode(q.status);
  if (!q.parser_id.empty()) target += "&parser_id=" + url_encode(q.parser_id);
  if (!cursor.empty()) target += "&cursor=" + url_encode(cursor);
  return impl_->get<pp_extraction_page>(api_endpoint::list_extractions, std::move(target),
                                        [](std::string_view body) { return detail::api::parse_extraction_page(body); });
}

api_result<void> perfectparser_client::for_each_extraction_page(
    const list_extractions_query& q, const std::function<bool(const pp_extraction_page&)>& on_page,
    std::string_view start_cursor) {
  std::string cursor(start_cursor);
  std::set<std::string> seen;
  for (;;) {
    auto page = list_extractions_page(q, cursor);
    if (!page) return std::move(page).error();
    if (!on_page(*page) || !page->has_next_page) return {};
    if (!seen.insert(page->next_cursor).second) {
      impl_->http->counters().count_failure();
      return api_error{
          api_errc::unparsable, 200, {}, "pagination: the API returned a cursor it had returned before", 1};
    }
    cursor = std::move(page->next_cursor);
  }
}

api_result<std::vector<pp_extraction_summary>> perfectparser_client::list_extractions(const list_extractions_query& q) {
  std::vector<pp_extraction_summary> all;
  auto st = for_each_extraction_page(q, [&](const pp_extraction_page& page) {
    all.insert(all.end(), page.extractions.begin(), page.extractions.end());
    return true;
  });
  if (!st) return st.error();
  return all;
}

api_result<pp_user> perfectparser_client::me() {
  return impl_->get<pp_user>(api_endpoint::me, "/v1/me",
                             [](std::string_view body) { return detail::api::parse_user(body); });
}

api_result<pp_submission> perfectparser_client::submit(const submission& s) {
  if (s.parser_id.empty()) return bad("parser_id: empty");
  if (s.files.empty()) return bad("files: at least one file is needed");
  for (const auto& f : s.files) {
    if (f.filename.empty()) return bad("files: a file has no filename");
  }
  if (s.idempotency_key && (s.idempotency_key->empty() || s.idempotency_key->size() > 255)) {
    return bad("idempotency_key: must be 1 to 255 characters");
  }
  http_request r;
  r.endpoint = api_endpoint::submit;
  r.kind = call_kind::submit;
  r.method = "POST";
  r.target = "/v1/extractions";
  const std::string key = s.idempotency_key ? *s.idempotency_key : derive_idempotency_key(s.parser_id, s.files);
  r.headers.emplace_back("Idempotency-Key", key);
  const std::string boundary = boundary_for(s);
  r.content_type = "multipart/form-data; boundary=" + boundary;
  r.body = multipart_body(s, boundary);
  auto a = impl_->http->call(r);
  if (!a) return std::move(a).error();
  auto parsed = detail::api::parse_submission(a->body);
  if (!parsed) {
    impl_->http->counters().count_failure();
    api_error e = std::move(parsed).error();
    e.http_status = a->status;
    e.attempts = 1;
    return e;
  }
  parsed->idempotency_key = key;
  parsed->replayed = a->replayed;
  return std::move(*parsed);
}

rate_budget& perfectparser_client::budget() noexcept { return impl_->http->budget(); }
api_counters& perfectparser_client::counters() noexcept { return impl_->http->counters(); }
const std::string& perfectparser_client::base_url() const noexcept { return impl_->http->url(); }

// --- Parashift ---

struct parashift_client::impl {
  std::unique_ptr<caller> http;
};

parashift_client::parashift_client(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
parashift_client::parashift_client(parashift_client&&) noexcept = default;
parashift_client& parashift_client::operator=(parashift_client&&) noexcept = default;
parashift_client::~parashift_client() = default;

api_result<parashift_client> parashift_client::create(const parashift_client_options& options) {
  caller::auth a{"Authorization", "Bearer " + options.api_key, "application/vnd.api+json", true};
  auto http = caller::create(options, options.base_url, std::move(a));
  if (!http) return std::move(http).error();
  auto p = std::make_unique<impl>();
  p->http = std::move(*http);
  return parashift_client(std::move(p));
}

api_result<parashift_document> parashift_client::get_document(std::string_view id, bool include_fields) {
  if (auto st = check_id(id, "id"); !st) return st.error();
  http_request r;
  r.endpoint = api_endpoint::parashift_document;
  r.target = "/v2/documents/" + url_encode(id) + (include_fields ? "?include=document_fields" : "");
  auto a = impl_->http->call(r);
  if (!a) return std::move(a).error();
  auto parsed = detail::api::parse_parashift_document(a->body);
  if (!parsed) {
    impl_->http->counters().count_failure();
    api_error e = std::move(parsed).error();
    e.http_status = a->status;
    e.attempts = 1;
    return e;
  }
  return std::move(*parsed);
}

api_result<parashift_document> parashift_client::fetch(const document_event& ev, bool include_fields) {
  if (ev.id && !ev.id->empty()) return get_document(*ev.id, include_fields);
  if (ev.document_id) return get_document(std::to_string(*ev.document_id), include_fields);
  return bad("event: neither id nor attributes.document_id");
}

rate_budget& parashift_client::budget() noexcept { return impl_->http->budget(); }
api_counters& parashift_client::counters() noexcept { return impl_->http->counters(); }

}  // namespace hookrx
