#include <string>

#include "hookrx/api.hpp"

namespace hookrx {

std::string_view to_string(api_errc code) noexcept {
  switch (code) {
    case api_errc::unauthorized: return "unauthorized";
    case api_errc::insufficient_credits: return "insufficient_credits";
    case api_errc::not_found: return "not_found";
    case api_errc::invalid_request: return "invalid_request";
    case api_errc::conflict: return "conflict";
    case api_errc::rate_limited: return "rate_limited";
    case api_errc::server_error: return "server_error";
    case api_errc::http_status: return "http_status";
    case api_errc::transport: return "transport";
    case api_errc::timeout: return "timeout";
    case api_errc::deadline_exceeded: return "deadline_exceeded";
    case api_errc::unparsable: return "unparsable";
    case api_errc::invalid_argument: return "invalid_argument";
    case api_errc::cancelled: return "cancelled";
  }
  return "unknown";
}

std::string api_error::message() const {
  std::string out(to_string(code));
  if (http_status != 0 || !vendor_code.empty()) {
    out += " (";
    if (http_status != 0) out += "HTTP " + std::to_string(http_status);
    if (http_status != 0 && !vendor_code.empty()) out += ' ';
    out += vendor_code;
    out += ')';
  }
  if (attempts > 1) out += " after " + std::to_string(attempts) + " attempts";
  if (!detail.empty()) out += ": " + detail;
  return out;
}

bool api_error::is_transient() const noexcept {
  switch (code) {
    case api_errc::rate_limited:
    case api_errc::server_error:
    case api_errc::transport:
    case api_errc::timeout:
    case api_errc::deadline_exceeded: return true;
    default: return false;
  }
}

}  // namespace hookrx
