// cli/signing.hpp: the X-PerfectParser-Signature value of a body, as the vendor computes it.
//
// Lowercase hex HMAC-SHA256 of the raw body bytes, keyed with the signing secret as-is
// (shared/spec/perfectparser.md). Used by `hookrx sign` and `hookrx send`.
//
//   hookrx::result<std::string> sig = hookrx::cli::perfectparser_signature(secret, body);
#pragma once

#include <string>
#include <string_view>

#include "hookrx/error.hpp"

namespace hookrx::cli {

/// 64 lowercase hex digits. Fails (invalid_config) only when OpenSSL cannot compute the MAC.
[[nodiscard]] result<std::string> perfectparser_signature(std::string_view secret, std::string_view body);

}  // namespace hookrx::cli
