// `hookrx check`: a pre-flight for CI and deploys. Do the configured API keys work, who are they,
// when do they expire, how many credits are left. Non-zero on a refused key.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "config.hpp"
#include "event_builder.hpp"
#include "toolbox.hpp"
#include "toolbox_api.hpp"

namespace hookrx::cli {
namespace {

struct check_args {
  api_flags api;
  std::optional<std::int64_t> min_credits;
  bool json = false;
};

std::string opt_json(const std::optional<std::string>& v) { return v ? json_string(*v) : std::string("null"); }

int run_check(const check_args& a, const config_loader& loader) {
  result<options> opts = loader.load();
  if (!opts) {
    std::cerr << "hookrx check: " << opts.error().detail() << '\n';
    return exit_config;
  }
  if (opts->pp_api_key.empty() && opts->parashift_api_key.empty()) {
    std::cerr << "hookrx check: no API key to check: set HOOKRX_PP_API_KEY (or HOOKRX_PP_API_KEY_FILE) and/or "
                 "HOOKRX_PARASHIFT_API_KEY (or HOOKRX_PARASHIFT_API_KEY_FILE)\n";
    return exit_config;
  }
  int exit_code = 0;
  std::string json = "{";

  if (!opts->pp_api_key.empty()) {
    api_result<perfectparser_client> pp = make_perfectparser_client(*opts, a.api);
    if (!pp) {
      std::cerr << "hookrx check: " << pp.error().detail << '\n';
      return exit_config;
    }
    api_result<pp_user> me = pp->me();
    if (!me) {
      const std::string why = describe(me.error(), *opts, "pp_api_key", pp->base_url());
      std::cerr << "hookrx check: perfectparser: " << why << '\n';
      json += R"("perfectparser":{"ok":false,"error":)" + json_string(to_string(me.error().code)) +
              ",\"message\":" + json_string(why) + "}";
      exit_code = exit_failure;
    } else {
      bool enough = true;
      if (a.min_credits && (!me->credits_available || *me->credits_available < *a.min_credits)) enough = false;
      const std::string credits = me->credits_available ? std::to_string(*me->credits_available) : "unknown";
      if (!a.json) {
        std::cout << "perfectparser: ok: key " << me->key_name.value_or("(unnamed)") << " of "
                  << me->email.value_or(me->name.value_or("(unknown user)")) << ", expires "
                  << me->key_expires_at.value_or("never") << ", " << credits << " credits available\n";
      }
      if (!enough) {
        std::cerr << "hookrx check: perfectparser: " << credits << " credits available, fewer than --min-credits "
                  << *a.min_credits << '\n';
        exit_code = exit_failure;
      }
      json += R"("perfectparser":{"ok":)" + std::string(enough ? "true" : "false") +
              ",\"key_name\":" + opt_json(me->key_name) + ",\"email\":" + opt_json(me->email) +
              ",\"key_expires_at\":" + opt_json(me->key_expires_at) +
              ",\"credits_available\":" + (me->credits_available ? std::to_string(*me->credits_available) : "null") +
              "}";
    }
  }

  if (!opts->parashift_api_key.empty()) {
    api_result<parashift_client> ps = make_parashift_client(*opts, a.api);
    if (!ps) {
      std::cerr << "hookrx check: " << ps.error().detail << '\n';
      return exit_config;
    }
    // Parashift documents no "who am I" call: a document that cannot exist (id 0) is answered 404
    // to a valid key and 401 to a refused one, and costs no credit.
    api_result<parashift_document> probe = ps->get_document("0");
    const bool ok = probe || probe.error().code == api_errc::not_found;
    if (json.size() > 1) json += ",";
    if (ok) {
      if (!a.json) std::cout << "parashift: ok: key accepted (the API reports no name, expiry or credits)\n";
      json += R"("parashift":{"ok":true})";
    } else {
      const std::string why = describe(probe.error(), *opts, "parashift_api_key", opts->parashift_api_base);
      std::cerr << "hookrx check: parashift: " << why << '\n';
      json += R"("parashift":{"ok":false,"error":)" + json_string(to_string(probe.error().code)) +
              ",\"message\":" + json_string(why) + "}";
      exit_code = exit_failure;
    }
  }
  if (a.json) std::cout << json << "}\n";
  return exit_code;
}

}  // namespace

void add_check(CLI::App& app, std::vector<command>& commands) {
  CLI::App* sub = app.add_subcommand("check", "check the API keys: name, expiry, credits; non-zero when refused");
  sub->footer(
      "Example (a CI pre-flight):\n"
      "  HOOKRX_PP_API_KEY_FILE=/run/secrets/pp_api_key hookrx check --min-credits 100\n"
      "Checks HOOKRX_PP_API_KEY with GET /v1/me and, when set, HOOKRX_PARASHIFT_API_KEY.\n"
      "Exit 0 when every configured key works, 1 when one is refused or unreachable, 2 for a usage error.");
  auto args = std::make_shared<check_args>();
  auto loader = std::make_shared<config_loader>();
  add_api_flags(*sub, args->api);
  sub->add_option("--min-credits", args->min_credits, "fail when fewer PerfectParser credits are left");
  sub->add_flag("--json", args->json, "machine-readable output");
  loader->add_flags(*sub, {"pp_api_base", "parashift_api_base", "api_rate_limit"});
  commands.push_back({sub, [args, loader]() { return run_check(*args, *loader); }});
}

}  // namespace hookrx::cli
