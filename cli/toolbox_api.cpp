#include "toolbox_api.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>

namespace hookrx::cli {
namespace {

std::string from_env_or(const std::string& flag, const char* var, const char* fallback) {
  if (!flag.empty()) return flag;
  const char* v = std::getenv(var);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(fallback);
}

void apply_common(api_client_options& o, const api_flags& flags) {
  const auto deadline = std::chrono::milliseconds(static_cast<long long>(flags.timeout_seconds * 1000));
  o.deadline = deadline;
  o.connect_timeout = std::min(o.connect_timeout, deadline);
  o.read_timeout = std::min(o.read_timeout, deadline);
  o.user_agent = "hookrx/" + std::string(version());
}

std::string origin_of(const options& opts, std::string_view key) {
  auto it = opts.origin.find(key);
  return it == opts.origin.end() ? env_name(key) : it->second;
}

api_error invalid(std::string detail) { return api_error{api_errc::invalid_argument, 0, {}, std::move(detail), 0}; }

}  // namespace

std::string pp_base(const api_flags& flags) {
  return from_env_or(flags.pp_api_base, "HOOKRX_PP_API_BASE", "https://api.perfectparser.com");
}

std::string parashift_base(const api_flags& flags) {
  return from_env_or(flags.parashift_api_base, "HOOKRX_PARASHIFT_API_BASE", "https://api.parashift.io");
}

void add_api_flags(CLI::App& app, api_flags& flags, bool parashift) {
  app.add_option("--pp-api-base", flags.pp_api_base,
                 "PerfectParser API base URL (default https://api.perfectparser.com) [HOOKRX_PP_API_BASE]");
  if (parashift) {
    app.add_option("--parashift-api-base", flags.parashift_api_base,
                   "Parashift API base URL (default https://api.parashift.io) [HOOKRX_PARASHIFT_API_BASE]");
  }
  app.add_option("--timeout", flags.timeout_seconds, "seconds per API call, retries included (default 30)")
      ->check(CLI::Range(0.1, 600.0));
}

api_result<perfectparser_client> make_perfectparser_client(const options& opts, const api_flags& flags) {
  if (opts.pp_api_key.empty()) return invalid("no API key: set HOOKRX_PP_API_KEY (or HOOKRX_PP_API_KEY_FILE)");
  perfectparser_client_options o;
  o.api_key = opts.pp_api_key;
  o.base_url = pp_base(flags);
  apply_common(o, flags);
  api_result<perfectparser_client> c = perfectparser_client::create(std::move(o));
  if (!c) {
    return invalid((flags.pp_api_base.empty() ? "HOOKRX_PP_API_BASE" : "--pp-api-base") + std::string(": ") +
                   c.error().detail);
  }
  return c;
}

api_result<parashift_client> make_parashift_client(const options& opts, const api_flags& flags) {
  if (opts.parashift_api_key.empty()) {
    return invalid("no API key: set HOOKRX_PARASHIFT_API_KEY (or HOOKRX_PARASHIFT_API_KEY_FILE)");
  }
  parashift_client_options o;
  o.api_key = opts.parashift_api_key;
  o.base_url = parashift_base(flags);
  apply_common(o, flags);
  api_result<parashift_client> c = parashift_client::create(std::move(o));
  if (!c) {
    return invalid((flags.parashift_api_base.empty() ? "HOOKRX_PARASHIFT_API_BASE" : "--parashift-api-base") +
                   std::string(": ") + c.error().detail);
  }
  return c;
}

std::string describe(const api_error& e, const options& opts, std::string_view key_setting,
                     const std::string& base_url) {
  const std::string vendor = e.vendor_code.empty() ? std::string() : " " + e.vendor_code;
  const std::string http =
      e.http_status == 0 ? std::string() : " (HTTP " + std::to_string(e.http_status) + vendor + ")";
  switch (e.code) {
    case api_errc::unauthorized:
      return "the key in " + origin_of(opts, key_setting) + " was refused" + http + ": wrong, revoked or expired";
    case api_errc::insufficient_credits:
      return "insufficient credits" + http + ": top up the account of the key in " + origin_of(opts, key_setting);
    case api_errc::transport:
    case api_errc::timeout:
    case api_errc::deadline_exceeded: return "cannot reach " + base_url + ": " + e.message();
    default: return e.message();
  }
}

}  // namespace hookrx::cli
