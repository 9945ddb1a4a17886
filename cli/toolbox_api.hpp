// cli/toolbox_api.hpp: the API clients `check` and `submit` use, built from the shared options
// (keys from HOOKRX_PP_API_KEY / HOOKRX_PARASHIFT_API_KEY or their _FILE) and the base URL flags.
//
//   hookrx::cli::api_flags flags;
//   hookrx::cli::add_api_flags(*sub, flags);            // --pp-api-base, --parashift-api-base, --timeout
//   auto pp = hookrx::cli::make_perfectparser_client(opts, flags);   // error names the flag/variable
#pragma once

#include <string>

#include "config.hpp"
#include "hookrx/api.hpp"

namespace CLI {
class App;
}

namespace hookrx::cli {

struct api_flags {
  std::string pp_api_base;         ///< --pp-api-base, else HOOKRX_PP_API_BASE, else the vendor's
  std::string parashift_api_base;  ///< --parashift-api-base, else HOOKRX_PARASHIFT_API_BASE
  double timeout_seconds = 30;     ///< per call, retries included
};

void add_api_flags(CLI::App& app, api_flags& flags, bool parashift);

/// invalid_argument (message names the flag or variable) for a missing key or a bad base URL.
[[nodiscard]] api_result<perfectparser_client> make_perfectparser_client(const options& opts, const api_flags& flags);
[[nodiscard]] api_result<parashift_client> make_parashift_client(const options& opts, const api_flags& flags);

/// "the key in HOOKRX_PP_API_KEY was refused (HTTP 401 UNAUTHORIZED)", "cannot reach
/// https://...: ...": an api_error worded for an operator, naming where the key came from.
[[nodiscard]] std::string describe(const api_error& e, const options& opts, std::string_view key_setting,
                                   const std::string& base_url);

/// The base URL in effect (flag, variable, default).
[[nodiscard]] std::string pp_base(const api_flags& flags);
[[nodiscard]] std::string parashift_base(const api_flags& flags);

}  // namespace hookrx::cli
