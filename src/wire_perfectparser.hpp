// Private: every PerfectParser wire assumption in one place (shared/spec/perfectparser.md).
// "Documented" items come from the vendor; the rest are our assumptions, kept here so that they
// are easy to change when the vendor says more.
#pragma once

#include <cstddef>
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
inline constexpr std::string_view event_field = "event";
inline constexpr std::string_view event_field_fallback = "type";
inline constexpr std::string_view nested_fields = "data";
inline constexpr std::string_view batch_id_fallback = "batch_id";  // for batch.* without extraction_id

// Idempotency keys (ours): "perfectparser:<event>:<extraction_id>[:<document_id>]", or
// "perfectparser:sha256:<hex of the body>" when an unknown event carries neither id.
inline constexpr std::string_view key_prefix = "perfectparser:";
inline constexpr std::string_view body_hash_key_prefix = "perfectparser:sha256:";

}  // namespace hookrx::wire::perfectparser
