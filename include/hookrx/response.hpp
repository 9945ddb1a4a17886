// hookrx/response.hpp: the one place where an outcome becomes an HTTP status and body.
//
// Adapters send `status`, `body` and `content_type` as they are; nothing else in hookrx picks a
// status. Error bodies carry a stable machine-readable code and a sentence, never a secret:
//
//   {"error":{"code":"signature_mismatch","message":"X-PerfectParser-Signature does not match ..."}}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hookrx/error.hpp"

namespace hookrx {

/// How an accepted delivery was taken in. Every disposition is answered with 2xx.
enum class disposition : std::uint8_t {
  processed,      ///< handlers ran and succeeded
  queued,         ///< stored durably; workers run the handlers later
  duplicate,      ///< already processed or queued: acknowledged, not acted on again
  test_delivery,  ///< vendor test delivery: acknowledged, handlers not run (by default)
};
[[nodiscard]] std::string_view to_string(disposition d) noexcept;

struct response {
  int status = 200;
  std::string body;
  static constexpr std::string_view content_type = "application/json";
};

/// The HTTP status for an error code: 413, 415, 401, 403, 400, 409, 500 or 503.
[[nodiscard]] int http_status(errc code) noexcept;

/// The response for an outcome. Error detail is included only where it helps the sender fix the
/// request (a field name); handler and store failures say no more than their code.
[[nodiscard]] response make_response(const result<disposition>& outcome);

}  // namespace hookrx
