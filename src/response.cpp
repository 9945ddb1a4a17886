#include "hookrx/response.hpp"

#include <cstdio>

namespace hookrx {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view s) noexcept {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) return 0;
    return 4;
  }
  return 0;
}

// Appends `s` as a JSON string. Bytes that are not valid UTF-8 become U+FFFD, so the body stays
// valid JSON whatever a detail contains.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const std::size_t n = utf8_sequence(s.substr(i));
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          (void)std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
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
    case errc::not_found: return 404;
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
    r.body += R"({"status":")";
    r.body += to_string(*outcome);
    r.body += "\"}";
    return r;
  }
  const error& e = outcome.error();
  r.status = http_status(e.code());
  r.body.reserve(128);
  r.body += R"({"error":{"code":)";
  append_json_string(r.body, to_string(e.code()));
  r.body += R"(,"message":)";
  append_json_string(r.body, detail_is_private(e.code()) ? std::string(default_message(e.code())) : e.message());
  r.body += "}}";
  return r;
}

}  // namespace hookrx
