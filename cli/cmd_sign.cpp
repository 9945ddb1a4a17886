// `hookrx sign`: the X-PerfectParser-Signature value of the bytes on stdin.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "config.hpp"
#include "signing.hpp"
#include "toolbox.hpp"

namespace hookrx::cli {
namespace {

struct sign_args {
  std::string secret_env;
};

// The secret in variable `name` (or the file named by `name`_FILE), as-is but for a file's
// trailing line break. Empty with a message in `why` when neither is set.
std::string secret_from_env(const std::string& name, std::string& why) {
  const char* direct = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read before any thread starts
  const std::string file_var = name + "_FILE";
  const char* path = std::getenv(file_var.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (direct != nullptr && *direct != '\0') return direct;
  if (path != nullptr && *path != '\0') {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      why = file_var + ": cannot read " + std::string(path);
      return {};
    }
    std::string s = read_all(in);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty()) why = file_var + ": the file " + std::string(path) + " is empty";
    return s;
  }
  why = "--secret-env: " + name + " is not set (nor " + file_var + ")";
  return {};
}

int run_sign(const sign_args& args, const config_loader& loader) {
  std::string secret;
  if (!args.secret_env.empty()) {
    std::string why;
    secret = secret_from_env(args.secret_env, why);
    if (secret.empty()) {
      std::cerr << "hookrx sign: " << why << '\n';
      return exit_config;
    }
  } else {
    result<options> opts = loader.load();
    if (!opts) {
      std::cerr << "hookrx sign: " << opts.error().detail() << '\n';
      return exit_config;
    }
    if (opts->pp_signing_secrets.empty()) {
      std::cerr << "hookrx sign: no signing secret: set HOOKRX_PP_SIGNING_SECRETS (or "
                   "HOOKRX_PP_SIGNING_SECRETS_FILE), or name a variable with --secret-env\n";
      return exit_config;
    }
    secret = opts->pp_signing_secrets.front();
  }
  const std::string body = read_all(std::cin);
  result<std::string> sig = perfectparser_signature(secret, body);
  if (!sig) {
    std::cerr << "hookrx sign: " << sig.error().message() << '\n';
    return exit_failure;
  }
  std::cout << *sig << '\n';
  return std::cout.flush() ? 0 : exit_failure;
}

}  // namespace

std::string read_all(std::istream& in) {
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

void add_sign(CLI::App& app, std::vector<command>& commands) {
  CLI::App* sub = app.add_subcommand("sign", "print the X-PerfectParser-Signature of the bytes on stdin");
  sub->footer(
      "Example:\n"
      "  HOOKRX_PP_SIGNING_SECRETS=wh_sec_... hookrx sign < body.json\n"
      "  curl -H \"X-PerfectParser-Signature: $(hookrx sign < body.json)\" --data-binary @body.json URL\n"
      "The secret is the first of HOOKRX_PP_SIGNING_SECRETS (or its _FILE, or --config's "
      "pp_signing_secrets_file), or the variable named by --secret-env (or that name + _FILE).");
  auto args = std::make_shared<sign_args>();
  auto loader = std::make_shared<config_loader>();
  sub->add_option("--secret-env", args->secret_env, "the variable that holds the signing secret");
  loader->add_flags(*sub, config_file_only);
  commands.push_back({sub, [args, loader]() { return run_sign(*args, *loader); }});
}

}  // namespace hookrx::cli
