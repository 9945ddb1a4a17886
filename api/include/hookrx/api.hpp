// hookrx/api.hpp: typed clients for the PerfectParser and Parashift REST APIs, and the one rate
// budget every call of the process shares.
//
// What a fallback poller needs when a webhook never came: fetch a document, an extraction, its
// results, list extractions updated since a time (all pages), check a key, and submit files with an
// idempotency key so that a retried submit is never charged twice. Every call goes through the
// shared per-key `rate_budget` (120/min of the vendor's 150 by default, corrected from the
// X-RateLimit-* headers of every answer), retries 5xx and network errors with `retry_policy` within a
// per-call deadline, waits for X-RateLimit-Reset after a 429, and fails with a typed `api_error`:
// never an exception, never the key in a message.
//
//   hookrx::perfectparser_client_options o;
//   o.api_key = key_from_your_secret_store();            // sent as X-API-Key, never logged
//   auto pp = hookrx::perfectparser_client::create(o);
//   if (!pp) return std::cerr << pp.error().message() << '\n', 1;
//   auto doc = pp->get_document("ext_123", "doc_456");
//   if (doc) std::cout << doc->status << ' ' << doc->extracted_data << '\n';
//   else if (doc.error().code == hookrx::api_errc::not_found) std::cout << "no such document\n";
//
// Link `hookrx::api`. This header includes neither httplib, simdjson nor OpenSSL.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hookrx/clock.hpp"
#include "hookrx/events.hpp"
#include "hookrx/retry.hpp"

namespace hookrx {

// --- Errors ------------------------------------------------------------------------------------

/// What went wrong with an API call. Documented vendor codes have their own value, so a caller can
/// switch on them (402 INSUFFICIENT_CREDITS is not a 404).
enum class api_errc : std::uint8_t {
  unauthorized,          ///< 401 UNAUTHORIZED: the key is wrong, revoked or expired
  insufficient_credits,  ///< 402 INSUFFICIENT_CREDITS: a submit the account cannot pay for
  not_found,             ///< 404 RESOURCE_NOT_FOUND (e.g. the document is not in that extraction)
  invalid_request,       ///< 400 INVALID_PAYLOAD (e.g. a status filter the API does not know)
  conflict,              ///< 409 CONFLICT (e.g. an idempotency key reused with other content)
  rate_limited,          ///< 429 RATE_LIMITED still, when the deadline or the attempts ran out
  server_error,          ///< 5xx still, when the deadline or the attempts ran out
  http_status,           ///< any other non-2xx status (see api_error::http_status)
  transport,             ///< connection refused/reset/closed, TLS handshake or certificate failure
  timeout,               ///< connect or read timed out (the last attempt's failure)
  deadline_exceeded,     ///< the per-call deadline passed, or a rate wait would end after it
  unparsable,            ///< a 2xx body that is not the documented shape (the detail says why)
  invalid_argument,      ///< a bad option or argument (empty key, bad base URL, empty id)
  cancelled,             ///< the wait function reported a shutdown (returned false)
};

/// The stable snake_case name, e.g. "insufficient_credits".
[[nodiscard]] std::string_view to_string(api_errc code) noexcept;

/// A failed API call. Never contains the API key or a bearer token.
struct api_error {
  api_errc code = api_errc::transport;
  /// The HTTP status of the last answer; 0 when there was none (transport, timeout, ...).
  int http_status = 0;
  /// The vendor's error code as sent (`code` at the top level or under `error`), e.g.
  /// "RESOURCE_NOT_FOUND"; empty when the answer had none.
  std::string vendor_code;
  /// What happened, for logs: the vendor's message, the transport error, the field that did not
  /// parse. Bodies are cut to a few hundred bytes.
  std::string detail;
  /// Attempts made (1 = no retry).
  int attempts = 0;

  /// "insufficient_credits (HTTP 402 INSUFFICIENT_CREDITS): <detail>", for logs.
  [[nodiscard]] std::string message() const;
  /// True for the failures a later call may not repeat: rate_limited, server_error, transport,
  /// timeout, deadline_exceeded. A poller retries these on its next round.
  [[nodiscard]] bool is_transient() const noexcept;
};

/// A value or an api_error, shaped like `std::expected<T, api_error>` (and like hookrx::result).
template <class T>
class [[nodiscard]] api_result {
 public:
  using value_type = T;

  api_result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  api_result(api_error err) : v_(std::in_place_index<1>, std::move(err)) {}  // NOLINT(google-explicit-constructor)
  api_result(api_errc code) : v_(std::in_place_index<1>, api_error{code, 0, {}, {}, 0}) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  // Precondition: has_value() (value) / !has_value() (error), as with std::expected.
  [[nodiscard]] T& value() & { return *std::get_if<0>(&v_); }
  [[nodiscard]] const T& value() const& { return *std::get_if<0>(&v_); }
  [[nodiscard]] T&& value() && { return std::move(*std::get_if<0>(&v_)); }
  [[nodiscard]] const api_error& error() const& { return *std::get_if<1>(&v_); }
  [[nodiscard]] api_error&& error() && { return std::move(*std::get_if<1>(&v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(value()); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, api_error> v_;
};

/// Success or an api_error.
template <>
class [[nodiscard]] api_result<void> {
 public:
  api_result() = default;
  api_result(api_error err) : err_(std::move(err)) {}                 // NOLINT(google-explicit-constructor)
  api_result(api_errc code) : err_(api_error{code, 0, {}, {}, 0}) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool has_value() const noexcept { return !err_; }
  explicit operator bool() const noexcept { return has_value(); }
  [[nodiscard]] const api_error& error() const& { return *err_; }

 private:
  std::optional<api_error> err_;
};

// --- PerfectParser resources (owned; unknown fields ignored, raw JSON kept) ---------------------

/// `GET /v1/extractions/{id}/documents/{doc}` (`document`), and each item of `/results`. The fields
/// match `document_completed`, so a recovered document becomes the webhook's event (to_event).
struct pp_document {
  std::string document_id;
  std::string extraction_id;  ///< filled from the call's id when the body leaves it out
  std::string status;         ///< "queued", "pending", "processing", "completed", "failed"
  std::optional<std::string> parser_id;
  std::optional<std::string> parser_name;
  std::optional<std::string> filename;
  std::optional<std::string> file_type;
  std::optional<std::int64_t> file_size;
  std::optional<std::int64_t> page_count;
  std::optional<std::int64_t> credits_used;
  std::optional<double> confidence;
  std::optional<std::int64_t> processing_time_ms;
  std::string extracted_data;  ///< raw JSON of `extracted_data`; empty when absent or null
  std::optional<std::string> error_message;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::string raw_json;  ///< the document object's JSON text
};

/// An item of an extraction's `documents` list (no extracted data).
struct pp_extraction_document {
  std::string document_id;
  std::string status;
  std::optional<std::string> filename;
  std::optional<std::int64_t> page_count;
  std::optional<std::int64_t> credits_used;
  std::optional<std::string> error_message;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
};

/// `GET /v1/extractions/{id}` (`extraction`).
struct pp_extraction {
  std::string extraction_id;
  std::string status;  ///< terminal: "completed", "failed", "partial"
  std::optional<std::string> parser_id;
  std::optional<std::string> parser_name;
  std::optional<std::int64_t> file_count;
  std::optional<std::int64_t> page_count;
  std::optional<std::int64_t> credits_used;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::optional<std::string> completed_at;
  std::vector<pp_extraction_document> documents;
  std::string raw_json;  ///< the extraction object's JSON text
};

/// An item of `GET /v1/extractions` (carries `document_summary`, not the documents).
struct pp_extraction_summary {
  std::string extraction_id;
  std::string status;
  std::optional<std::string> parser_id;
  std::optional<std::string> parser_name;
  std::optional<std::int64_t> file_count;
  std::optional<std::int64_t> page_count;
  std::optional<std::int64_t> credits_used;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::optional<std::string> completed_at;
  std::optional<document_summary> summary;  ///< `document_summary`
  std::string raw_json;
};

/// One page of `GET /v1/extractions`.
struct pp_extraction_page {
  std::vector<pp_extraction_summary> extractions;
  bool has_next_page = false;
  std::string next_cursor;  ///< empty on the last page
  std::optional<std::int64_t> limit;
};

/// `GET /v1/extractions/{id}/results`: the documents with `extracted_data` (partial while running).
/// The envelope is not published: `documents` or `results` at the top level or under `extraction`
/// / `results`, and an extraction status when the body carries one.
struct pp_results {
  std::string extraction_id;
  std::optional<std::string> status;
  std::vector<pp_document> documents;
  std::string raw_json;
};

/// `GET /v1/me` (`user`).
struct pp_user {
  std::optional<std::string> user_id;
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::int64_t> credits_available;
  std::optional<std::string> key_name;
  std::optional<std::string> key_expires_at;
  std::optional<std::string> member_since;
};

/// The 202 answer to `POST /v1/extractions` (`extraction`, or the fields at the top level).
struct pp_submission {
  std::string extraction_id;
  std::optional<std::string> status;
  std::optional<std::string> parser_id;
  std::optional<std::int64_t> file_count;
  std::optional<std::int64_t> page_count;
  std::optional<std::int64_t> credits_used;
  std::optional<std::string> created_at;
  std::vector<pp_extraction_document> documents;
  std::string idempotency_key;  ///< the key sent (the caller's or the derived one)
  bool replayed = false;        ///< `Idempotent-Replayed: true`: an earlier submit's answer, not charged again
  std::string raw_json;
};

/// `GET /v1/extractions` filters. Empty/absent ones are not sent.
struct list_extractions_query {
  std::string since;   ///< ISO-8601 UTC (to_iso8601); matches the update time
  std::string status;  ///< queued|pending|processing|completed|failed|partial (another: 400)
  std::string parser_id;
  int limit = 100;  ///< 1..100 (the API's maximum; fewer pages, fewer requests)
};

/// One file of a submission. `content` holds the bytes; from_path() reads a file.
struct submission_file {
  std::string filename;  ///< the multipart filename (no directory)
  std::string content;
  std::string content_type = "application/octet-stream";

  /// Reads `path`; filename is its last component, content type guessed from the extension
  /// (pdf, png, jpg/jpeg, tif/tiff, txt, else octet-stream). invalid_argument names the path.
  [[nodiscard]] static api_result<submission_file> from_path(const std::string& path);
};

struct submission {
  std::string parser_id;
  std::vector<submission_file> files;
  /// Sent as Idempotency-Key. Absent: derive_idempotency_key(parser_id, files), so submitting the
  /// same files to the same parser again (a retry, a restarted script) is the same submission.
  std::optional<std::string> idempotency_key;
};

/// "hookrx-" + lowercase hex SHA-256 over the parser id and the SHA-256 of each file's content, in
/// order (each length-prefixed, so no two inputs collide by concatenation). Filenames do not count:
/// the same bytes renamed are the same submission.
[[nodiscard]] std::string derive_idempotency_key(std::string_view parser_id, const std::vector<submission_file>& files);

// --- Parashift resources --------------------------------------------------------------------------

/// `GET /v2/documents/{id}`: the JSON:API `data` object.
struct parashift_document {
  std::string id;                     ///< data.id (a string in JSON:API)
  std::string type;                   ///< data.type, "documents"
  std::optional<std::string> status;  ///< "pending", "in_progress", "done", "failed"
  std::optional<std::int64_t> document_id;
  std::optional<std::int64_t> tenant_id;
  std::optional<std::string> sla_deadline;
  std::optional<std::string> external_id;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::vector<std::pair<std::string, std::string>> custom_fields;
  std::string attributes_json;  ///< data.attributes as sent
  std::string included_json;    ///< top-level `included` array (with ?include=document_fields); may be empty
  std::string raw_json;         ///< the whole body
};

// --- Events from what the API returned -------------------------------------------------------------

/// The `extraction.document_completed` event its webhook would have carried: same key
/// (`perfectparser:extraction.document_completed:<ext>:<doc>`), same fields, `raw_json` the
/// document object. invalid_argument when the document is not terminal (completed/failed).
[[nodiscard]] api_result<event> to_event(const pp_document& doc);
/// The `extraction.job_completed` event (key `perfectparser:extraction.job_completed:<ext>`);
/// invalid_argument when the extraction is not terminal (completed/failed/partial).
[[nodiscard]] api_result<event> to_event(const pp_extraction& ext);
/// The `batch.<status>` event of a dashboard subscription (key `perfectparser:batch.<status>:<ext>`).
[[nodiscard]] api_result<event> to_batch_event(const pp_extraction& ext);
/// `done` -> `processing-finished`, `failed` -> `processing-failed`, with the document's id and
/// updated_at (key `parashift:<topic>:<id>:<updated_at>`); invalid_argument for other statuses.
[[nodiscard]] api_result<event> to_event(const parashift_document& doc);

/// True for "completed", "failed" (documents) and "partial" (extractions).
[[nodiscard]] bool is_terminal_status(std::string_view status) noexcept;

// --- Time helpers ----------------------------------------------------------------------------------

/// "2026-06-20T10:00:45.000Z" (UTC, milliseconds), the API's timestamp format.
[[nodiscard]] std::string to_iso8601(time_point t);
/// Parses ISO-8601 UTC ("...Z" or "+00:00", optional fraction); nullopt when malformed.
[[nodiscard]] std::optional<time_point> parse_iso8601(std::string_view text) noexcept;
/// Parses an HTTP Date header (IMF-fixdate, "Thu, 03 Dec 2026 08:13:40 GMT"); nullopt otherwise.
[[nodiscard]] std::optional<time_point> parse_http_date(std::string_view text) noexcept;

// --- Rate budget ---------------------------------------------------------------------------------

/// Waits `duration` (of the budget's clock). Returns false to abandon the wait (shutdown): the call
/// then fails with api_errc::cancelled. Tests pass one that advances a manual_clock and never sleeps.
using wait_function = std::function<bool(std::chrono::milliseconds duration)>;

/// std::this_thread::sleep_for; always true.
[[nodiscard]] wait_function sleeping_wait();

/// Which bucket a call draws from: every call from `all`, POST /v1/extractions also from `submit`.
enum class call_kind : std::uint8_t { read, submit };

struct rate_budget_options {
  /// Our share of the vendor's per-key limit (150/min): the rest stays for the customer's scripts.
  int requests_per_minute = 120;
  /// POST /v1/extractions, inside requests_per_minute (the vendor allows 20/min).
  int submissions_per_minute = 20;
  /// When X-RateLimit-Remaining minus the vendor's headroom (Limit - requests_per_minute) drops to
  /// this (at most a quarter of requests_per_minute) or below, calls are spread evenly until Reset
  /// instead of running into a 429.
  int slow_down_below = 10;
  /// A wait for Reset (after a 429, or a Remaining of 0) adds a uniform jitter in [0, max] so that
  /// several waiting threads and instances do not all go at the same second.
  std::chrono::milliseconds reset_jitter{1000};
  std::shared_ptr<const clock> time = system_clock();
  random_source random;  ///< null: default_random()
  wait_function wait;    ///< null: sleeping_wait()
};

/// What the answer's rate headers said; absent headers are nullopt.
struct rate_observation {
  int http_status = 0;
  std::optional<std::int64_t> limit;       ///< X-RateLimit-Limit
  std::optional<std::int64_t> remaining;   ///< X-RateLimit-Remaining
  std::optional<std::int64_t> reset_unix;  ///< X-RateLimit-Reset (absolute Unix seconds)
  std::optional<time_point> server_date;   ///< Date (for the skew between the server's and our clock)
  time_point received_at;                  ///< our clock when the answer arrived
};

/// The one client-side budget for an API key. Counts every request (retries included) in a sliding
/// 60 s window of the budget's clock, so no 60 s window ever holds more than requests_per_minute of
/// them; and follows the server: Reset (moved onto our clock by the Date skew) after a 429 or a
/// Remaining of 0, even spacing until Reset when Remaining runs low. Thread-safe.
class rate_budget {
 public:
  [[nodiscard]] static std::shared_ptr<rate_budget> create(rate_budget_options options);
  /// The process-wide budget of `api_key` (keyed by its SHA-256, the key itself is not kept): every
  /// client of that key in the process shares it. The first caller's options make it; later
  /// callers get the same budget, whatever options they pass.
  [[nodiscard]] static std::shared_ptr<rate_budget> shared_for(std::string_view api_key, rate_budget_options options);

  virtual ~rate_budget() = default;

  /// Blocks (through the wait function) until one more call of `kind` may go, and counts it.
  /// Returns how long it waited; deadline_exceeded without waiting when the wait would end after
  /// `deadline`; cancelled when the wait function returned false.
  [[nodiscard]] virtual api_result<std::chrono::milliseconds> acquire(call_kind kind, time_point deadline) = 0;
  /// Feeds one answer's headers in (every answer, successes included).
  virtual void observe(const rate_observation& answer) = 0;

  struct state {
    int used_in_window = 0;     ///< requests in the last 60 s
    int submits_in_window = 0;  ///< of which POST /v1/extractions
    std::optional<std::int64_t> server_remaining;
    std::optional<time_point> server_reset;  ///< on our clock
    time_point blocked_until;                ///< no call before this (429 / Remaining 0)
    std::chrono::milliseconds skew{0};       ///< our clock minus the server's (from Date)
  };
  [[nodiscard]] virtual state snapshot() const = 0;
  [[nodiscard]] virtual const rate_budget_options& options() const noexcept = 0;
};

// --- Counters ------------------------------------------------------------------------------------

/// The calls a client makes, for api_counters.
enum class api_endpoint : std::uint8_t {
  get_document,        ///< GET /v1/extractions/{id}/documents/{doc}
  get_extraction,      ///< GET /v1/extractions/{id}
  get_results,         ///< GET /v1/extractions/{id}/results
  list_extractions,    ///< GET /v1/extractions
  me,                  ///< GET /v1/me
  submit,              ///< POST /v1/extractions
  parashift_document,  ///< Parashift GET /v2/documents/{id}
};
inline constexpr std::size_t api_endpoint_count = 7;
/// "get_document", ...
[[nodiscard]] std::string_view to_string(api_endpoint e) noexcept;

/// What an attempt ended with: a status class, or no answer at all.
enum class api_outcome : std::uint8_t { s2xx, s3xx, s4xx, s5xx, transport, timeout };
inline constexpr std::size_t api_outcome_count = 6;
/// "2xx", "3xx", "4xx", "5xx", "transport", "timeout"
[[nodiscard]] std::string_view to_string(api_outcome o) noexcept;

/// A plain copy of the counters, for a metrics endpoint.
struct api_counters_snapshot {
  /// Attempts (every HTTP request, retries included) by endpoint and outcome.
  std::array<std::array<std::uint64_t, api_outcome_count>, api_endpoint_count> requests{};
  std::uint64_t rate_limited = 0;  ///< 429 answers
  std::uint64_t retries = 0;       ///< attempts after the first
  std::uint64_t waits = 0;         ///< budget waits that actually waited
  std::uint64_t wait_ms = 0;       ///< their total duration
  std::uint64_t calls_failed = 0;  ///< calls that returned an api_error

  [[nodiscard]] std::uint64_t total_requests() const noexcept;
  [[nodiscard]] std::uint64_t requests_to(api_endpoint e) const noexcept;
  /// Prometheus text format, metric names prefixed with `prefix` (e.g. "hookrx_api_").
  [[nodiscard]] std::string to_prometheus(std::string_view prefix = "hookrx_api_") const;
};

/// Lock-free counters, shareable between clients (pass the same shared_ptr in their options).
class api_counters {
 public:
  void count_request(api_endpoint e, api_outcome o) noexcept;
  void count_rate_limited() noexcept { rate_limited_.fetch_add(1, std::memory_order_relaxed); }
  void count_retry() noexcept { retries_.fetch_add(1, std::memory_order_relaxed); }
  void count_wait(std::chrono::milliseconds d) noexcept;
  void count_failure() noexcept { failed_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] api_counters_snapshot snapshot() const noexcept;

 private:
  std::array<std::array<std::atomic<std::uint64_t>, api_outcome_count>, api_endpoint_count> requests_{};
  std::atomic<std::uint64_t> rate_limited_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> waits_{0};
  std::atomic<std::uint64_t> wait_ms_{0};
  std::atomic<std::uint64_t> failed_{0};
};

// --- Clients ---------------------------------------------------------------------------------------

/// The transport and retry settings both clients share.
struct api_client_options {
  std::string api_key;  ///< required; sent as X-API-Key (PerfectParser) / Bearer (Parashift)
  /// Per call, retries and rate waits included; a wait that would end later fails the call at once.
  std::chrono::milliseconds deadline{std::chrono::seconds(90)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  /// 5xx, 429 and network errors: exponential backoff with jitter (a 429 never before Reset).
  /// Other 4xx are never retried.
  retry_policy retry{5, std::chrono::milliseconds(500), 2.0, std::chrono::milliseconds(15000), 0.2};
  /// TLS certificate and host name verification (https base URLs). Off only for tests.
  bool verify_tls = true;
  std::string ca_cert_file;  ///< extra CA bundle (PEM); empty: the system's
  /// Budget settings; `budget` null means rate_budget::shared_for(api_key, rate): shared by every
  /// client of the same key in the process (the first one's settings win, so tests that each want
  /// their own clock pass their own `budget`). rate.time/random/wait are also the client's (for
  /// backoff waits); when unset, the budget's are used.
  rate_budget_options rate;
  std::shared_ptr<rate_budget> budget;
  std::shared_ptr<api_counters> counters;  ///< null: the client's own
  std::string user_agent = "hookrx/0.1";
};

struct perfectparser_client_options : api_client_options {
  /// "https://host[:port][/prefix]"; "http://" only when said so (tests against a local fake).
  std::string base_url = "https://api.perfectparser.com";
};

/// PerfectParser REST client. Thread-safe: calls from several threads each use a kept-alive
/// connection of a small pool. Movable, not copyable.
class perfectparser_client {
 public:
  /// invalid_argument for an empty key, a base URL that is not http(s)://host[:port][/path], or
  /// non-positive limits; the message names the option.
  [[nodiscard]] static api_result<perfectparser_client> create(const perfectparser_client_options& options);

  perfectparser_client(perfectparser_client&&) noexcept;
  perfectparser_client& operator=(perfectparser_client&&) noexcept;
  perfectparser_client(const perfectparser_client&) = delete;
  perfectparser_client& operator=(const perfectparser_client&) = delete;
  ~perfectparser_client();

  /// GET /v1/extractions/{extraction_id}/documents/{document_id}.
  [[nodiscard]] api_result<pp_document> get_document(std::string_view extraction_id, std::string_view document_id);
  /// GET /v1/extractions/{extraction_id}.
  [[nodiscard]] api_result<pp_extraction> get_extraction(std::string_view extraction_id);
  /// GET /v1/extractions/{extraction_id}/results.
  [[nodiscard]] api_result<pp_results> get_results(std::string_view extraction_id);
  /// One page of GET /v1/extractions; `cursor` empty for the first page. A caller that persists
  /// progress between pages (a sweep that survives a restart) keeps next_cursor.
  [[nodiscard]] api_result<pp_extraction_page> list_extractions_page(const list_extractions_query& query,
                                                                     std::string_view cursor = {});
  /// Every page, cursor followed to the end. A cursor the API repeats ends the walk with unparsable
  /// (rather than looping).
  [[nodiscard]] api_result<std::vector<pp_extraction_summary>> list_extractions(const list_extractions_query& query);
  /// The same, page by page: `on_page` returns false to stop early (the result is then success).
  [[nodiscard]] api_result<void> for_each_extraction_page(const list_extractions_query& query,
                                                          const std::function<bool(const pp_extraction_page&)>& on_page,
                                                          std::string_view start_cursor = {});
  /// GET /v1/me: checks the key and shows the credits left.
  [[nodiscard]] api_result<pp_user> me();
  /// POST /v1/extractions (multipart `parser_id` + `files`) with an Idempotency-Key. Retried
  /// safely on 5xx/network errors (same key); draws from the submit bucket too.
  [[nodiscard]] api_result<pp_submission> submit(const submission& request);

  [[nodiscard]] rate_budget& budget() noexcept;
  [[nodiscard]] api_counters& counters() noexcept;
  [[nodiscard]] const std::string& base_url() const noexcept;

  struct impl;

 private:
  explicit perfectparser_client(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

struct parashift_client_options : api_client_options {
  std::string base_url = "https://api.parashift.io";
};

/// Parashift REST client: GET /v2/documents/{id} with `Authorization: Bearer <key>` and
/// `Accept: application/vnd.api+json`. Thread-safe, like perfectparser_client. Its budget is its
/// own key's (Parashift publishes no limit; 120/min by default).
class parashift_client {
 public:
  [[nodiscard]] static api_result<parashift_client> create(const parashift_client_options& options);

  parashift_client(parashift_client&&) noexcept;
  parashift_client& operator=(parashift_client&&) noexcept;
  parashift_client(const parashift_client&) = delete;
  parashift_client& operator=(const parashift_client&) = delete;
  ~parashift_client();

  /// GET /v2/documents/{id}; with include_fields, `?include=document_fields` (in included_json).
  [[nodiscard]] api_result<parashift_document> get_document(std::string_view id, bool include_fields = false);
  /// The document a webhook was about (its `id`, else attributes.document_id), with its fields:
  /// Parashift payloads carry no extracted values. invalid_argument when the event has neither.
  [[nodiscard]] api_result<parashift_document> fetch(const document_event& ev, bool include_fields = true);

  [[nodiscard]] rate_budget& budget() noexcept;
  [[nodiscard]] api_counters& counters() noexcept;

  struct impl;

 private:
  explicit parashift_client(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace hookrx
