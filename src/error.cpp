#include "hookrx/error.hpp"

namespace hookrx {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::body_too_large: return "body_too_large";
    case errc::unsupported_content_encoding: return "unsupported_content_encoding";
    case errc::missing_signature: return "missing_signature";
    case errc::malformed_signature: return "malformed_signature";
    case errc::signature_mismatch: return "signature_mismatch";
    case errc::missing_static_secret: return "missing_static_secret";
    case errc::static_secret_mismatch: return "static_secret_mismatch";
    case errc::missing_credentials: return "missing_credentials";
    case errc::credentials_mismatch: return "credentials_mismatch";
    case errc::source_not_allowed: return "source_not_allowed";
    case errc::invalid_json: return "invalid_json";
    case errc::missing_field: return "missing_field";
    case errc::wrong_type: return "wrong_type";
    case errc::handler_failed: return "handler_failed";
    case errc::store_unavailable: return "store_unavailable";
    case errc::in_progress: return "in_progress";
    case errc::not_found: return "not_found";
    case errc::invalid_config: return "invalid_config";
  }
  return "unknown_error";
}

std::string_view default_message(errc code) noexcept {
  switch (code) {
    case errc::body_too_large: return "the request body is larger than this endpoint accepts";
    case errc::unsupported_content_encoding:
      return "the request body is content-encoded; send it unencoded so its signature can be verified";
    case errc::missing_signature: return "the X-PerfectParser-Signature header is missing";
    case errc::malformed_signature: return "the X-PerfectParser-Signature header is not 64 hexadecimal digits";
    case errc::signature_mismatch:
      return "X-PerfectParser-Signature does not match the body under any configured signing secret";
    case errc::missing_static_secret: return "the X-Webhook-Secret header is missing";
    case errc::static_secret_mismatch: return "the X-Webhook-Secret header does not match";
    case errc::missing_credentials: return "a required credential header is missing";
    case errc::credentials_mismatch: return "a credential header does not match any accepted value";
    case errc::source_not_allowed: return "the client address is not in the allowed source ranges";
    case errc::invalid_json: return "the body is not a valid JSON object";
    case errc::missing_field: return "a required field is missing";
    case errc::wrong_type: return "a field has the wrong type";
    case errc::handler_failed: return "processing failed; retry later";
    case errc::store_unavailable: return "the event store is unavailable; retry later";
    case errc::in_progress: return "this event is being processed right now; retry later";
    case errc::not_found: return "no such entry";
    case errc::invalid_config: return "the configuration is invalid";
  }
  return "unknown error";
}

std::string error::message() const {
  std::string out(to_string(code_));
  out += ": ";
  out += default_message(code_);
  if (!detail_.empty()) {
    out += " (";
    out += detail_;
    out += ')';
  }
  return out;
}

}  // namespace hookrx
