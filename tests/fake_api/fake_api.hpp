// tests/fake_api/fake_api.hpp: a fake PerfectParser and Parashift REST API on a real loopback HTTP
// server, for tests of the API clients, the poller and the hookrx binary.
//
// It serves the documented shapes (shared/spec: REST sections) from a programmable dataset, sends
// X-RateLimit-Limit/Remaining/Reset and Date on every answer, enforces 150 requests per window and
// key (20 for POST /v1/extractions), and can be told to misbehave: 429s with a Reset, 5xx, slow
// answers, dropped connections, a seeded fraction of failing calls. It records every request (what,
// when, answered how), so a test can check "never more than N in any sliding 60 s window".
//
//   auto api = hookrx::testing::fake_api::start({});           // 127.0.0.1, a free port
//   api->put_extraction(hookrx::testing::make_extraction("ext_1", 3));
//   hookrx::perfectparser_client_options o;
//   o.base_url = api->base_url();  o.api_key = api->options().api_key;
//   ...                                                        // api->count("get_document") == 3
//
// The standalone `hookrx_fake_api` executable (fake_api_main.cpp) serves the same, for tests that
// start processes; it also answers control calls under /_fake/ (see fake_api_main.cpp), which are
// neither counted nor rate-limited.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hookrx::testing {

using sys_time = std::chrono::system_clock::time_point;

/// A PerfectParser document as the fake serves it (GET .../documents/{doc} and /results).
struct fake_document {
  std::string document_id;
  std::string status = "completed";  ///< queued|pending|processing|completed|failed
  std::string filename = "invoice.pdf";
  std::string file_type = "application/pdf";
  std::int64_t file_size = 1024;
  std::int64_t page_count = 1;
  std::int64_t credits_used = 1;
  double confidence = 0.97;
  std::int64_t processing_time_ms = 1200;
  std::string extracted_data = R"({"total":"42.00"})";  ///< raw JSON; empty: null
  std::string error_message;                            ///< empty: null
  std::string created_at;                               ///< ISO-8601; empty: the extraction's
  std::string updated_at;                               ///< ISO-8601; empty: the extraction's
};

/// A PerfectParser extraction (batch) with its documents.
struct fake_extraction {
  std::string extraction_id;
  std::string parser_id = "prs_invoices";
  std::string parser_name = "Invoices";
  std::string status = "completed";  ///< queued|pending|processing|completed|failed|partial
  std::string created_at;            ///< ISO-8601
  std::string updated_at;            ///< ISO-8601; `since` filters on it
  std::string completed_at;          ///< empty: null
  std::vector<fake_document> documents;
};

/// A Parashift document (GET /v2/documents/{id}).
struct fake_parashift_document {
  std::string id;               ///< numeric string
  std::string status = "done";  ///< pending|in_progress|done|failed
  std::int64_t tenant_id = 1385;
  std::string external_id;  ///< empty: absent
  std::vector<std::pair<std::string, std::string>> custom_fields;
  std::string created_at;
  std::string updated_at;
  std::string document_fields_json =
      R"([{"type":"document_fields","id":"1","attributes":{"identifier":"total","value":"42.00"}}])";
};

/// Misbehaviour applied to API calls (not to /_fake/ control calls). Fractions are of all calls,
/// drawn from a generator seeded with `seed`, so a run is repeatable.
struct fake_faults {
  double fraction_429 = 0.0;   ///< answered 429 RATE_LIMITED (Reset: the current window's end)
  double fraction_5xx = 0.0;   ///< answered 500/502/503
  double fraction_drop = 0.0;  ///< connection closed without an answer
  double fraction_slow = 0.0;  ///< answered after `slow`
  std::chrono::milliseconds slow{0};
  std::uint64_t seed = 1;
  /// Reset of the injected 429s: a transient refusal, not the end of a spent window (which would
  /// make every injected 429 cost a client up to a whole window of waiting).
  std::chrono::seconds reset_after{1};
};

/// A scripted answer for the next matching calls, before the fractions apply.
struct fake_script {
  int times = 1;                               ///< how many calls it answers
  std::string path_prefix;                     ///< only calls whose path starts with this; empty: any
  int status = 503;                            ///< the status to answer; 0: drop the connection
  std::string vendor_code;                     ///< error code in the body; empty: the usual one for the status
  std::optional<std::int64_t> reset_unix;      ///< X-RateLimit-Reset to send (429); absent: window end
  std::chrono::milliseconds delay{0};          ///< answer (or drop) after this
  std::string body;                            ///< the body to send instead of the usual error body (e.g. a broken 200)
  std::map<std::string, std::string> headers;  ///< extra headers (e.g. Idempotent-Replayed)
};

struct fake_api_options {
  std::string host = "127.0.0.1";                      ///< loopback only
  int port = 0;                                        ///< 0: a free port (port() tells which)
  std::string api_key = "pp_test_0123456789";          ///< X-API-Key accepted; others: 401
  std::string parashift_token = "ps_test_0123456789";  ///< Bearer token accepted; others: 401
  int limit_per_window = 150;                          ///< all endpoints
  int submit_limit_per_window = 20;                    ///< POST /v1/extractions
  /// The rate window; the vendor's is 60 s (fixed windows; Reset is the current one's end).
  std::chrono::seconds window{60};
  std::int64_t credits = 1000;  ///< POST /v1/extractions charges 1 per page (1 page per file)
  /// Added to the fake's clock in Date and X-RateLimit-Reset: a server whose clock is off.
  std::chrono::seconds clock_offset{0};
  fake_faults faults;
  int threads = 16;  ///< server threads (httplib serves one keep-alive connection per thread)
};

/// One request the fake received.
struct fake_request {
  std::string method;
  std::string path;  ///< without the query
  std::string
      endpoint;       ///< get_document|get_extraction|get_results|list_extractions|me|submit|parashift_document|other
  std::string query;  ///< the raw query string
  sys_time at;        ///< real time of arrival
  int status = 0;     ///< answered status; 0 when dropped
};

class fake_api {
 public:
  /// Starts listening; nullptr when the port cannot be bound.
  [[nodiscard]] static std::unique_ptr<fake_api> start(fake_api_options options);
  ~fake_api();  ///< stops the server
  fake_api(const fake_api&) = delete;
  fake_api& operator=(const fake_api&) = delete;

  [[nodiscard]] int port() const noexcept;
  /// "http://127.0.0.1:<port>".
  [[nodiscard]] std::string base_url() const;
  [[nodiscard]] const fake_api_options& options() const noexcept;

  // --- Dataset ---
  /// Inserts or replaces an extraction (by id).
  void put_extraction(fake_extraction ext);
  /// Changes one document's status (and updated_at, and the extraction's status/updated_at when
  /// every document is terminal). False when there is no such document.
  bool set_document_status(std::string_view extraction_id, std::string_view document_id, std::string_view status,
                           std::string_view updated_at);
  [[nodiscard]] std::optional<fake_extraction> extraction(std::string_view id) const;
  [[nodiscard]] std::vector<std::string> extraction_ids() const;
  void put_parashift_document(fake_parashift_document doc);
  /// Loads {"extractions":[...], "parashift_documents":[...]} in the API's own shapes (dataset
  /// files of the executable). False with `error` set when the text does not parse.
  bool load_json(std::string_view json, std::string& error);

  // --- Faults ---
  void set_faults(const fake_faults& faults);
  /// Queues a scripted answer (scripts apply in order, each for its `times` calls).
  void script(fake_script s);
  void clear_scripts();

  // --- What it was asked ---
  [[nodiscard]] std::vector<fake_request> requests() const;
  /// Requests to one endpoint (names as in fake_request::endpoint); "" counts all.
  [[nodiscard]] std::size_t count(std::string_view endpoint = {}) const;
  /// Requests to `endpoint` that were answered `status`.
  [[nodiscard]] std::size_t count_status(std::string_view endpoint, int status) const;
  /// The most requests ("" for all endpoints, else one) that arrived within any `window`
  /// (sliding, real time).
  [[nodiscard]] std::size_t max_in_window(std::chrono::milliseconds window = std::chrono::seconds(60),
                                          std::string_view endpoint = {}) const;
  void reset_requests();
  [[nodiscard]] std::int64_t credits() const;
  /// Submissions that created an extraction (replays not included).
  [[nodiscard]] std::size_t submissions_created() const;

  struct impl;

 private:
  explicit fake_api(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// --- Dataset helpers ---

/// An extraction `id` with `documents` documents "<id>_doc_<i>", all `status` (the extraction's
/// status follows: completed, failed, or partial when `failed_every` > 0 makes every n-th failed),
/// updated at `updated_at` (ISO-8601).
[[nodiscard]] fake_extraction make_extraction(std::string id, int documents, std::string status = "completed",
                                              std::string updated_at = "2026-06-20T10:00:45.000Z",
                                              int failed_every = 0);

/// The `extraction.document_completed` webhook body the vendor would send for this document.
[[nodiscard]] std::string document_webhook_body(const fake_extraction& ext, const fake_document& doc);
/// The `extraction.job_completed` webhook body for this extraction.
[[nodiscard]] std::string job_webhook_body(const fake_extraction& ext);
/// The Parashift webhook body for this document and topic.
[[nodiscard]] std::string parashift_webhook_body(const fake_parashift_document& doc, std::string_view topic);

/// JSON string literal of `s` (quotes included), for building bodies.
[[nodiscard]] std::string json_quote(std::string_view s);

}  // namespace hookrx::testing
