#include "hookrx/response.hpp"

#include <cstdio>

namespace hookrx {
namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Processing failures say no more than their code: their detail (a handler's exception text, a
// store's error) is for the receiver's own logs, not for whoever sent the request.
bool detail_is_private(errc code) noexcept {
  return code == errc::handler_failed || code == errc::store_unavailable || code == errc::in_progress;
}

}  // namespace

std::string_view to_string(disposition d) noexcept {
  switch (d) {
    case disposition::processed: return "processed";
    case disposition::queued: return "queued";
    case disposition::duplicate: return "duplicate";
    case disposition::test_delivery: return "test_delivery";
  }
  return "processed";
}

int http_status(errc code) noexcept {
  switch (code) {
    case errc::body_too_large: return 413;
    case errc::unsupported_content_encoding: return 415;
    case errc::missing_signature:
    case errc::malformed_signature:
    case errc::signature_mismatch:
    case errc::missing_static_secret:
    case errc::static_secret_mismatch:
    case errc::missing_credentials:
    case errc::credentials_mismatch: return 401;
    case errc::source_not_allowed: return 403;
    case errc::invalid_json:
    case errc::missing_field:
    case errc::wrong_type: return 400;
    case errc::in_progress: return 409;
    case errc::handler_failed:
    case errc::invalid_config: return 500;
    case errc::store_unavailable: return 503;
  }
  return 500;
}

response make_response(const result<disposition>& outcome) {
  response r;
  if (outcome) {
    r.status = *outcome == disposition::queued ? 202 : 200;
    r.body.reserve(32);
    r.body += "{\"status\":\"";
    r.body += to_string(*outcome);
    r.body += "\"}";
    return r;
  }
  const error& e = outcome.error();
  r.status = http_status(e.code());
  r.body.reserve(128);
  r.body += "{\"error\":{\"code\":";
  append_json_string(r.body, to_string(e.code()));
  r.body += ",\"message\":";
  append_json_string(r.body, detail_is_private(e.code()) ? std::string(default_message(e.code())) : e.message());
  r.body += "}}";
  return r;
}

}  // namespace hookrx
