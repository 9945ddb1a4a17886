// cli/event_builder.hpp: realistic webhook bodies for `hookrx send`, one per event name and topic.
//
// The bodies carry the fields the vendors send (shared/spec: PerfectParser's five events with the
// REST objects' field names, Parashift's documented document payload for each of its 22 topics), so
// a receiver tested with them sees what it will see in production. `"test": true` is set unless
// the spec says otherwise (`live`), like the vendor's `POST /v1/webhooks/:id/test`.
//
//   hookrx::cli::event_spec spec;
//   spec.name = "extraction.document_completed";
//   spec.source = *hookrx::cli::provider_of_event(spec.name);
//   hookrx::result<std::string> body = hookrx::cli::build_event_body(spec);
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hookrx/error.hpp"
#include "hookrx/events.hpp"

namespace hookrx::cli {

/// What to build. Empty ids are filled with fresh random ones, so every send is a new event.
struct event_spec {
  provider source = provider::perfectparser;
  std::string name;  ///< PerfectParser event name or Parashift topic
  bool test = true;  ///< `"test": true` in the body; false for `--live`
  /// PerfectParser: the extraction id (`ext_...`). Unused for Parashift.
  std::string extraction_id;
  /// PerfectParser: the document id (`doc_...`). Parashift: the document id, digits only (it is both
  /// `id` and the number `attributes.document_id`).
  std::string document_id;
  /// When the event happened (`updated_at`, `completed_at`); the epoch means now.
  std::chrono::system_clock::time_point at{};
};

/// Every event name of `source` that build_event_body() knows, in the spec's order.
[[nodiscard]] std::vector<std::string_view> event_names(provider source);

/// The provider whose event name or topic this is; nullopt for a name neither documents.
[[nodiscard]] std::optional<provider> provider_of_event(std::string_view name);

/// The body of `spec`, compact JSON. Errors (invalid_config, detail naming the flag): an unknown
/// name for the provider, a Parashift document id that is not digits.
[[nodiscard]] result<std::string> build_event_body(const event_spec& spec);

/// `t` as ISO-8601 UTC with milliseconds, e.g. "2026-06-20T10:00:45.000Z" (the vendors' format).
[[nodiscard]] std::string iso8601(std::chrono::system_clock::time_point t);

/// `prefix` followed by `hex_digits` random lowercase hex digits, e.g. random_id("ext_", 24).
[[nodiscard]] std::string random_id(std::string_view prefix, std::size_t hex_digits);

/// A random decimal number of `digits` digits without a leading zero (Parashift ids).
[[nodiscard]] std::string random_number(std::size_t digits);

/// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_string(std::string_view text);

}  // namespace hookrx::cli
