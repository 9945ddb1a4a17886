// Private: every Parashift wire assumption in one place (shared/spec/parashift.md).
#pragma once

#include <array>
#include <string_view>

namespace hookrx::wire::parashift {

// The documented source range (34.65.0.0/16) and the suggested Authorization header are the
// defaults of hookrx::parashift_credentials (include/hookrx/verify.hpp), where users see them.
// Only believed when the direct peer is a configured trusted proxy.
inline constexpr std::string_view forwarded_for_header = "X-Forwarded-For";

// Documented topics, in the order of hookrx::parashift_topic.
inline constexpr std::array<std::string_view, 22> topics = {
    "document-received",
    "preprocessing-done",
    "automatic-separation-done",
    "ready-for-separation-first-level",
    "ready-for-separation-second-level",
    "ready-for-separation-third-level",
    "ready-for-separation-qc",
    "separation-done",
    "automatic-classification-done",
    "ready-for-classification-first-level",
    "ready-for-classification-second-level",
    "ready-for-classification-third-level",
    "ready-for-classification-qc",
    "classification-done",
    "automatic-extraction-done",
    "ready-for-extraction-first-level",
    "ready-for-extraction-second-level",
    "ready-for-extraction-third-level",
    "ready-for-extraction-qc",
    "extraction-done",
    "processing-finished",
    "processing-failed",
};

// Idempotency keys (ours): "parashift:<topic>:<id>:<attributes.updated_at>", or
// "parashift:sha256:<hex of the body>" when id or updated_at is missing.
inline constexpr std::string_view key_prefix = "parashift:";
inline constexpr std::string_view body_hash_key_prefix = "parashift:sha256:";

}  // namespace hookrx::wire::parashift
