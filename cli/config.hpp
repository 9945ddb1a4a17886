// cli/config.hpp: the hookrx binary's options, from flags, the environment, *_FILE secrets and an
// optional TOML file, merged into one struct and validated once.
//
// Precedence: a flag wins over its environment variable, which wins over the config file, which
// wins over the default. Every setting has one name in three spellings: the TOML key `max_attempts`,
// the flag `--max-attempts`, the variable `HOOKRX_MAX_ATTEMPTS`. Secrets (signing secrets, tokens,
// API keys) come only from the environment or from files (`HOOKRX_PP_SIGNING_SECRETS_FILE`, or the
// TOML key `pp_signing_secrets_file`), never from a flag, so they never show in `ps`.
//
//   CLI::App& sub = *app.add_subcommand("serve", "...");
//   auto loader = std::make_shared<hookrx::cli::config_loader>();
//   loader->add_flags(sub);                               // every setting, plus --config FILE
//   ... after parsing:
//   hookrx::result<hookrx::cli::options> opts = loader->load();
//   if (!opts) { std::cerr << opts.error().detail() << '\n'; return 2; }   // names the flag/variable
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hookrx/error.hpp"

namespace CLI {
class App;
}

namespace hookrx::cli {

/// The exit code for a configuration the binary refuses (bad flag, missing credentials).
inline constexpr int exit_config = 2;

/// Where the store lives: `sqlite:PATH`, `postgresql://...` (or `postgres://...`), `memory:`.
struct store_url {
  enum class kind : std::uint8_t { sqlite, postgres, memory };
  kind type = kind::sqlite;
  std::string location;  ///< the file for sqlite, the whole conninfo URL for postgres, empty for memory
};

/// Everything the commands read. Durations are whole milliseconds.
struct options {
  // Listening.
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  /// HTTP I/O threads; the receivers run on them and wait there for the store's commit, so a
  /// durable store needs many for its group commit to batch. 0: 32 for sqlite/postgres, else the cores.
  int io_threads = 0;
  std::size_t max_body_bytes = std::size_t{1} << 20;
  std::chrono::milliseconds read_timeout{10'000};  ///< a request's header and body must arrive within it
  std::chrono::milliseconds idle_timeout{30'000};  ///< a kept-alive connection silent this long is closed
  std::chrono::milliseconds grace{30'000};         ///< SIGTERM: in-flight work may finish within this

  // Storage.
  store_url store{store_url::kind::sqlite, "./hookrx.db"};
  std::string dedup_url;  ///< redis://host:port[/db]; empty: the store dedups

  // Sinks.
  std::vector<std::string> exec;     ///< commands, run with /bin/sh -c
  std::vector<std::string> forward;  ///< http:// URLs
  std::vector<std::string> jsonl;    ///< file paths
  std::chrono::milliseconds exec_timeout{30'000};
  int exec_concurrency = 4;
  std::chrono::milliseconds forward_timeout{10'000};

  // Retries (the inbox's policy).
  int max_attempts = 8;
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{300'000};
  int workers = 16;  ///< inbox workers: concurrent sink calls (and so events per shared JSONL fsync)

  // Credentials: from the environment or files only.
  std::vector<std::string> pp_signing_secrets;
  std::string pp_static_secret;
  std::vector<std::string> parashift_tokens;
  std::string pp_api_key;
  std::string parashift_api_key;
  std::string redis_password;

  // Parashift authentication.
  std::string parashift_header;                   ///< empty: `Authorization: Bearer T`
  std::vector<std::string> parashift_allow_cidr;  ///< "default" expanded to 34.65.0.0/16
  std::vector<std::string> trusted_proxy;

  // The fallback poller and enrichment (hookrx::api), for providers whose API key is set.
  bool poll = false;    ///< --poll: recover documents whose webhook never came
  bool enrich = false;  ///< --enrich: fetch the document before the sinks
  std::string pp_api_base = "https://api.perfectparser.com";
  std::string parashift_api_base = "https://api.parashift.io";
  std::chrono::milliseconds poll_interval{60'000};
  std::chrono::milliseconds poll_grace{600'000};
  int api_rate_limit = 120;  ///< requests per minute per API key

  // Logging.
  enum class level : std::uint8_t { debug, info, warn, error };
  level log_level = level::info;

  // Where each value came from, for messages: setting key -> "--workers", "HOOKRX_WORKERS", ...
  std::map<std::string, std::string, std::less<>> origin;

  [[nodiscard]] bool perfectparser_enabled() const noexcept {
    return !pp_signing_secrets.empty() || !pp_static_secret.empty();
  }
  [[nodiscard]] bool parashift_enabled() const noexcept { return !parashift_tokens.empty(); }
};

/// How a setting is read: its key (TOML), flag (--key-with-dashes) and variable (HOOKRX_KEY).
struct setting_spec {
  std::string_view key;
  std::string_view help;
  bool repeatable = false;  ///< a list: repeat the flag, comma-separate the variable, TOML array
  bool secret = false;      ///< environment or file only
  bool flag = false;        ///< a switch without a value (--poll)
};

/// All settings, in the order `--help` shows them.
[[nodiscard]] const std::vector<setting_spec>& settings();

/// A setting's flag and variable spellings.
[[nodiscard]] std::string flag_name(std::string_view key);
[[nodiscard]] std::string env_name(std::string_view key);

/// Values of a TOML config file: setting key -> its values as text. Secrets may appear only as
/// `<secret>_file` keys (a path). Errors (errc::invalid_config) name the key and the line.
using raw_values = std::map<std::string, std::vector<std::string>, std::less<>>;
[[nodiscard]] result<raw_values> parse_config_text(std::string_view text, std::string_view origin = "config");

/// Reads a variable: nullptr when unset. Injected so that tests need not touch the real environment.
using env_lookup = std::function<const char*(const char*)>;

/// Collects flags on one or more subcommands, then merges them with the environment and the file.
class config_loader {
 public:
  explicit config_loader(env_lookup env = nullptr);

  /// Adds --config FILE and the flags of `keys` (every non-secret setting when empty) to `app`.
  void add_flags(CLI::App& app, const std::vector<std::string_view>& keys = {});

  /// Merges defaults < file < environment < flags and validates. errc::invalid_config whose
  /// detail names the flag, variable or file key at fault (never a secret's value).
  [[nodiscard]] result<options> load() const;

 private:
  env_lookup env_;
  std::string config_file_;
  raw_values flags_;
};

/// The message for a secret's setting given as a flag (`--pp-signing-secrets ...`, also `--x=...`),
/// which names the variables to use instead and never repeats the value; nullopt when none is.
[[nodiscard]] std::optional<std::string> secret_flag_used(int argc, const char* const* argv);

/// serve's own rule: at least one provider's credentials, at least one sink. Names the variables.
[[nodiscard]] status validate_for_serve(const options& opts);

/// "0.1.0" (the project version).
[[nodiscard]] std::string_view version() noexcept;

}  // namespace hookrx::cli
