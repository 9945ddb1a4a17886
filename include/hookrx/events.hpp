// hookrx/events.hpp: typed webhook events, owned and independent of the request they came from.
//
// parse_event() turns raw body bytes into one `event`: a variant over the event types below, plus
// what every event has (provider, name, idempotency key, test flag, raw JSON). Unknown fields are
// ignored by the typed view and stay in raw_json(); an unknown event name is an `unknown_event`,
// an unknown Parashift topic a `document_event` whose topic is parashift_topic::unknown.
//
//   hookrx::result<hookrx::event> ev = hookrx::parse_event(hookrx::provider::perfectparser, body);
//   if (auto* doc = ev->get_if<hookrx::document_completed>())
//     std::cout << ev->key() << ' ' << doc->status << '\n';
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "hookrx/error.hpp"

namespace hookrx {

enum class provider : std::uint8_t { perfectparser, parashift };
[[nodiscard]] std::string_view to_string(provider p) noexcept;

/// How an event reached the receiver: a webhook delivery, or the fallback poller, which fetched the
/// document from the vendor's API because its webhook was late or lost. Both carry the same key.
enum class delivery_origin : std::uint8_t { webhook, poll };
[[nodiscard]] std::string_view to_string(delivery_origin o) noexcept;

/// Counts of an extraction's documents by state.
struct document_summary {
  std::int64_t total = 0;
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  std::int64_t processing = 0;
};

/// PerfectParser `extraction.document_completed`: one document reached `completed` or `failed`.
struct document_completed {
  std::string extraction_id;
  std::string document_id;
  std::string status;  ///< "completed" or "failed"
  std::optional<std::string> parser_id;
  std::optional<std::string> parser_name;
  std::optional<std::string> filename;
  std::optional<std::string> error_message;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::optional<std::int64_t> page_count;
  std::optional<std::int64_t> credits_used;
  std::optional<std::int64_t> processing_time_ms;
  std::optional<double> confidence;
  /// Raw JSON of `extracted_data` as sent; empty when absent or null.
  std::string extracted_data;
};

/// PerfectParser `extraction.job_completed`: every document of the extraction finished.
struct job_completed {
  std::string extraction_id;
  std::optional<std::string> status;  ///< "completed", "failed" or "partial"
  std::optional<std::string> parser_id;
  std::optional<std::string> completed_at;
  std::optional<std::int64_t> file_count;
  std::optional<std::int64_t> page_count;
  std::optional<std::int64_t> credits_used;
  std::optional<document_summary> summary;  ///< from `document_summary`
  /// Raw JSON array of `documents`; empty when absent or null.
  std::string documents;
};

/// Which terminal state a `batch.*` event announces.
enum class batch_outcome : std::uint8_t { completed, failed, partial };

/// PerfectParser `batch.completed`, `batch.failed` or `batch.partial` (dashboard subscriptions).
struct batch_finished {
  batch_outcome outcome = batch_outcome::completed;
  std::string extraction_id;            ///< `extraction_id`, or `batch_id` when that is absent
  std::optional<std::string> batch_id;  ///< as sent, when sent
  std::optional<std::string> parser_id;
  std::optional<std::string> parser_name;
  std::optional<std::string> status;
  std::optional<std::string> completed_at;
  std::optional<std::int64_t> file_count;
  std::optional<document_summary> summary;
};

/// The 22 documented Parashift topics, in workflow order, and `unknown` for anything else.
enum class parashift_topic : std::uint8_t {
  document_received,
  preprocessing_done,
  automatic_separation_done,
  ready_for_separation_first_level,
  ready_for_separation_second_level,
  ready_for_separation_third_level,
  ready_for_separation_qc,
  separation_done,
  automatic_classification_done,
  ready_for_classification_first_level,
  ready_for_classification_second_level,
  ready_for_classification_third_level,
  ready_for_classification_qc,
  classification_done,
  automatic_extraction_done,
  ready_for_extraction_first_level,
  ready_for_extraction_second_level,
  ready_for_extraction_third_level,
  ready_for_extraction_qc,
  extraction_done,
  processing_finished,
  processing_failed,
  unknown,
};
/// The wire name ("document-received", ...); "unknown" for parashift_topic::unknown.
[[nodiscard]] std::string_view to_string(parashift_topic t) noexcept;
/// The topic with that wire name, or parashift_topic::unknown.
[[nodiscard]] parashift_topic parse_parashift_topic(std::string_view name) noexcept;

/// A Parashift webhook: a document entered a workflow stage (`topic`).
struct document_event {
  parashift_topic topic = parashift_topic::unknown;
  std::string topic_name;  ///< as sent, also for unknown topics
  std::optional<std::string> id;
  std::optional<std::string> type;
  std::optional<std::string> request_id;
  std::optional<std::int64_t> document_id;  ///< attributes.document_id
  std::optional<std::int64_t> tenant_id;
  std::optional<std::string> status;  ///< "pending", "in_progress", "done", "failed"
  std::optional<std::string> sla_deadline;
  std::optional<std::string> external_id;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::vector<std::pair<std::string, std::string>> custom_fields;
};

/// An event name hookrx does not model. Accepted and handed to `on_unknown` handlers.
struct unknown_event {
  std::optional<std::string> extraction_id;
  std::optional<std::string> document_id;
};

namespace detail {
struct event_builder;
}

/// One parsed delivery. Owns all its data (including a copy of the raw body).
class event {
 public:
  using payload = std::variant<unknown_event, document_completed, job_completed, batch_finished, document_event>;

  /// An empty PerfectParser unknown_event with no name or key; parse_event() never returns one.
  event() = default;
  event(provider source, std::string name, std::string key, bool test, std::string raw_json, payload data)
      : source_(source),
        test_(test),
        name_(std::move(name)),
        key_(std::move(key)),
        raw_json_(std::move(raw_json)),
        data_(std::move(data)) {}

  [[nodiscard]] provider source() const noexcept { return source_; }
  /// The event name (PerfectParser `event`) or topic (Parashift `topic`) as sent.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The idempotency key (shared/spec): equal for every delivery of the same event.
  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  /// A vendor test delivery (`"test": true`): acknowledged, not dispatched by default.
  [[nodiscard]] bool is_test() const noexcept { return test_; }
  /// The body as received, for fields the typed view does not model.
  [[nodiscard]] std::string_view raw_json() const noexcept { return raw_json_; }
  [[nodiscard]] const payload& data() const noexcept { return data_; }
  /// webhook for every parsed delivery; poll for an event the fallback poller built from a fetched
  /// document (parse_event() always resets it to webhook, also in a reused event).
  [[nodiscard]] delivery_origin origin() const noexcept { return origin_; }
  /// For the poller, and for the inbox restoring a stored event's origin.
  void set_origin(delivery_origin o) noexcept { origin_ = o; }

  template <class T>
  [[nodiscard]] const T* get_if() const noexcept {
    return std::get_if<T>(&data_);
  }
  template <class T>
  [[nodiscard]] bool is() const noexcept {
    return std::holds_alternative<T>(data_);
  }

 private:
  friend struct detail::event_builder;  // parsers fill an event in place
  provider source_ = provider::perfectparser;
  bool test_ = false;
  delivery_origin origin_ = delivery_origin::webhook;
  std::string name_;
  std::string key_;
  std::string raw_json_;
  payload data_;
};

/// Parses a webhook body sent by `source`. Errors: invalid_json (not a JSON object, or nested too
/// deeply), missing_field and wrong_type, whose detail names the field (e.g. "document_id").
[[nodiscard]] result<event> parse_event(provider source, std::string_view body);

/// The same, parsed into `out`, whose storage is reused: a loop that parses many bodies into one
/// event allocates only for a body larger (or a field longer) than any before it. On error, `out`
/// holds a valid but unspecified event.
[[nodiscard]] status parse_event(provider source, std::string_view body, event& out);

}  // namespace hookrx
