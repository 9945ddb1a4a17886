// cli/toolbox_api.hpp: the API clients `check` and `submit` use, built from serve's options (keys
// from HOOKRX_PP_API_KEY / HOOKRX_PARASHIFT_API_KEY or their _FILE, --pp-api-base,
// --parashift-api-base, --api-rate-limit) and the command's --timeout.
//
//   hookrx::cli::api_flags flags;
//   hookrx::cli::add_api_flags(*sub, flags);                          // --timeout
//   auto pp = hookrx::cli::make_perfectparser_client(opts, flags);   // error names the variable
#pragma once

#include <string>

#include "config.hpp"
#include "hookrx/api.hpp"

namespace CLI {
class App;
}

namespace hookrx::cli {

struct api_flags {
  double timeout_seconds = 30;  ///< per call, retries included
};

void add_api_flags(CLI::App& app, api_flags& flags);

/// invalid_argument (message names the flag or variable) for a missing key or a bad base URL.
[[nodiscard]] api_result<perfectparser_client> make_perfectparser_client(const options& opts, const api_flags& flags);
[[nodiscard]] api_result<parashift_client> make_parashift_client(const options& opts, const api_flags& flags);

/// "the key in HOOKRX_PP_API_KEY was refused (HTTP 401 UNAUTHORIZED)", "cannot reach
/// https://...: ...": an api_error worded for an operator, naming where the key came from.
[[nodiscard]] std::string describe(const api_error& e, const options& opts, std::string_view key_setting,
                                   const std::string& base_url);

}  // namespace hookrx::cli
