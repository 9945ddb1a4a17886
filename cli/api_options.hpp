// cli/api_options.hpp: what every API client hookrx makes takes from the options, in one place for
// serve (--poll, --enrich) and the toolbox (check, submit, watch): the key, the base URL, the
// User-Agent, and the per-key budget scaled from --api-rate-limit.
//
//   hookrx::perfectparser_client_options co;
//   hookrx::cli::fill_api_options(co, opts.pp_api_key, opts.pp_api_base, opts);
#pragma once

#include <algorithm>
#include <string>

#include "config.hpp"

namespace hookrx::cli {

template <class ClientOptions>
void fill_api_options(ClientOptions& co, const std::string& key, const std::string& base, const options& o) {
  co.api_key = key;
  co.base_url = base;
  co.user_agent = "hookrx/" + std::string(version());
  // The vendor's submit bucket (20 a minute) lives inside the overall one, and the client starts
  // spacing calls out when a twelfth of the minute's budget is left (10 of the default 120).
  co.rate.requests_per_minute = o.api_rate_limit;
  co.rate.submissions_per_minute = std::min(20, o.api_rate_limit);
  co.rate.slow_down_below = std::max(1, o.api_rate_limit / 12);
}

}  // namespace hookrx::cli
