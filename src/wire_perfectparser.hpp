// Private: every PerfectParser wire assumption in one place (shared/spec/perfectparser.md).
// "Documented" items come from the vendor; the rest are our assumptions, kept here so that they
// are easy to change when the vendor says more.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hookrx::wire::perfectparser {

// Documented headers.
inline constexpr std::string_view signature_header = "X-PerfectParser-Signature";
inline constexpr std::string_view static_secret_header = "X-Webhook-Secret";
// Documented: the vendor requires static secrets of at least this length.
inline constexpr std::size_t min_static_secret_size = 8;

// Documented event names.
inline constexpr std::string_view document_completed = "extraction.document_completed";
inline constexpr std::string_view job_completed = "extraction.job_completed";
inline constexpr std::string_view batch_completed = "batch.completed";
inline constexpr std::string_view batch_failed = "batch.failed";
inline constexpr std::string_view batch_partial = "batch.partial";

// Assumed payload shape: the name in `event` (else `type`); fields at the top level, or inside
// `data` when the top level lacks them; field names as in the REST objects.
// The modelled fields. `type` is the fallback for `event`; `data` may hold the others; `batch_id`
// stands in for `extraction_id` in batch.* events.
enum class field : std::uint8_t {
  event, type, data, extraction_id, batch_id, document_id, status, parser_id, parser_name, filename,
  error_message, created_at, updated_at, completed_at, extracted_data, documents, page_count,
  credits_used, processing_time_ms, file_count, confidence, test, document_summary,
  unknown,  // not modelled: skipped, kept in the raw JSON
};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(field::unknown)> field_names = {
    "event", "type", "data", "extraction_id", "batch_id", "document_id", "status", "parser_id",
    "parser_name", "filename", "error_message", "created_at", "updated_at", "completed_at",
    "extracted_data", "documents", "page_count", "credits_used", "processing_time_ms", "file_count",
    "confidence", "test", "document_summary",
};
[[nodiscard]] constexpr std::string_view name_of(field f) { return field_names[static_cast<std::size_t>(f)]; }

// Idempotency keys (ours): "perfectparser:<event>:<extraction_id>[:<document_id>]", or
// "perfectparser:sha256:<hex of the body>" when an unknown event carries neither id.
inline constexpr std::string_view key_prefix = "perfectparser:";
inline constexpr std::string_view body_hash_key_prefix = "perfectparser:sha256:";

}  // namespace hookrx::wire::perfectparser
