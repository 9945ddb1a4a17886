// Private: the response parsers of hookrx::api, one per documented answer, callable without HTTP
// (the fuzz target fuzz/fuzz_api_responses.cpp feeds them bytes). simdjson On-Demand into owned
// structs; unknown fields are skipped, an optional field of the wrong type is left absent, and
// anything else (not JSON, a required field missing or mistyped, nesting too deep) is
// api_errc::unparsable with the field named. Never throws.
#pragma once

#include <string>
#include <string_view>

#include "hookrx/api.hpp"

namespace hookrx::detail::api {

/// `{"document": {...}}`; `extraction_id` (the call's) fills the document's when it lacks one.
[[nodiscard]] api_result<pp_document> parse_document(std::string_view body, std::string_view extraction_id = {});
/// `{"extraction": {...}}`.
[[nodiscard]] api_result<pp_extraction> parse_extraction(std::string_view body);
/// The results of an extraction (envelope variants: see pp_results).
[[nodiscard]] api_result<pp_results> parse_results(std::string_view body, std::string_view extraction_id = {});
/// `{"extractions": [...], "pagination": {...}}`.
[[nodiscard]] api_result<pp_extraction_page> parse_extraction_page(std::string_view body);
/// `{"user": {...}}`.
[[nodiscard]] api_result<pp_user> parse_user(std::string_view body);
/// The 202 of POST /v1/extractions: `{"extraction": {...}}` or the fields at the top level.
[[nodiscard]] api_result<pp_submission> parse_submission(std::string_view body);
/// Parashift `{"data": {"id", "type", "attributes": {...}}, "included": [...]}`.
[[nodiscard]] api_result<parashift_document> parse_parashift_document(std::string_view body);

/// What an error body says: `code` and `message` at the top level or under `error` (a string
/// `error` counts as the message). Never fails: fields it cannot read stay empty.
struct error_body {
  std::string code;
  std::string message;
};
[[nodiscard]] error_body parse_error_body(std::string_view body) noexcept;

}  // namespace hookrx::detail::api
