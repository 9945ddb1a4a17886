#include "toolbox_api.hpp"

#include <CLI/CLI.hpp>

#include <chrono>

#include "api_options.hpp"

namespace hookrx::cli {
namespace {

// The command's --timeout bounds each call, retries included.
void apply_timeout(api_client_options& o, const api_flags& flags) {
  const auto deadline = std::chrono::milliseconds(static_cast<long long>(flags.timeout_seconds * 1000));
  o.deadline = deadline;
  o.connect_timeout = std::min(o.connect_timeout, deadline);
  o.read_timeout = std::min(o.read_timeout, deadline);
}

std::string origin_of(const options& opts, std::string_view key) {
  auto it = opts.origin.find(key);
  return it == opts.origin.end() ? env_name(key) : it->second;
}

api_error invalid(std::string detail) { return api_error{api_errc::invalid_argument, 0, {}, std::move(detail), 0}; }

}  // namespace

void add_api_flags(CLI::App& app, api_flags& flags) {
  app.add_option("--timeout", flags.timeout_seconds, "seconds per API call, retries included (default 30)")
      ->check(CLI::Range(0.1, 600.0));
}

api_result<perfectparser_client> make_perfectparser_client(const options& opts, const api_flags& flags) {
  if (opts.pp_api_key.empty()) return invalid("no API key: set HOOKRX_PP_API_KEY (or HOOKRX_PP_API_KEY_FILE)");
  perfectparser_client_options o;
  fill_api_options(o, opts.pp_api_key, opts.pp_api_base, opts);
  apply_timeout(o, flags);
  api_result<perfectparser_client> c = perfectparser_client::create(o);
  if (!c) return invalid(origin_of(opts, "pp_api_base") + ": " + c.error().detail);
  return c;
}

api_result<parashift_client> make_parashift_client(const options& opts, const api_flags& flags) {
  if (opts.parashift_api_key.empty()) {
    return invalid("no API key: set HOOKRX_PARASHIFT_API_KEY (or HOOKRX_PARASHIFT_API_KEY_FILE)");
  }
  parashift_client_options o;
  fill_api_options(o, opts.parashift_api_key, opts.parashift_api_base, opts);
  apply_timeout(o, flags);
  api_result<parashift_client> c = parashift_client::create(o);
  if (!c) return invalid(origin_of(opts, "parashift_api_base") + ": " + c.error().detail);
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
