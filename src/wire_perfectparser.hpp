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
// `data` when the top level lacks them; field names as in the REST objects. `batch_id` stands in
// for `extraction_id` in batch.* events. The modelled fields, named as on the wire:
// clang-format off
#define HOOKRX_PERFECTPARSER_FIELDS(X)                                                               \
  X(event) X(type) X(data) X(extraction_id) X(batch_id) X(document_id) X(status) X(parser_id)       \
  X(parser_name) X(filename) X(error_message) X(created_at) X(updated_at) X(completed_at)           \
  X(extracted_data) X(documents) X(page_count) X(credits_used) X(processing_time_ms) X(file_count) \
  X(confidence) X(test) X(document_summary)
// clang-format on

#define HOOKRX_X_ENUM(name) name,
#define HOOKRX_X_NAME(name) #name,
enum class field : std::uint8_t {
  HOOKRX_PERFECTPARSER_FIELDS(HOOKRX_X_ENUM)  //
  unknown,                                    // not modelled: skipped, kept in the raw JSON
};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(field::unknown)> field_names = {
    HOOKRX_PERFECTPARSER_FIELDS(HOOKRX_X_NAME)};
#undef HOOKRX_X_ENUM
#undef HOOKRX_X_NAME

[[nodiscard]] constexpr std::string_view name_of(field f) { return field_names[static_cast<std::size_t>(f)]; }

// Idempotency keys (ours): "perfectparser:<event>:<extraction_id>[:<document_id>]", or
// "perfectparser:sha256:<hex of the body>" when an unknown event carries neither id.
inline constexpr std::string_view key_prefix = "perfectparser:";
inline constexpr std::string_view body_hash_key_prefix = "perfectparser:sha256:";

}  // namespace hookrx::wire::perfectparser
