// The hookrx binary's configuration: one table of settings, three sources, one validation pass.
#include "config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#ifndef HOOKRX_VERSION
#define HOOKRX_VERSION "0.0.0"
#endif

namespace hookrx::cli {
namespace {

const std::vector<setting_spec> all_settings = {
    {"listen", "HOST:PORT to listen on (default 127.0.0.1:8080)"},
    {"io_threads", "HTTP I/O threads (default: one per usable CPU; 32 with postgresql or --dedup)"},
    {"max_body_bytes", "largest body accepted, in bytes (default 1048576)"},
    {"read_timeout", "seconds a request's header and body may take to arrive (default 10)"},
    {"idle_timeout", "seconds a kept-alive connection may stay silent (default 30)"},
    {"grace", "seconds in-flight work may take to finish after SIGTERM (default 30)"},
    {"store", "sqlite:PATH (default sqlite:./hookrx.db), postgresql://... or memory:"},
    {"dedup", "redis://HOST:PORT[/DB]: dedup keys in Redis (optional)"},
    {"exec", "sink: run this command per event (event JSON on stdin); repeatable", true},
    {"forward", "sink: POST each event to this http:// URL with an Idempotency-Key; repeatable", true},
    {"jsonl", "sink: append one JSON line per event to this file, fsynced; repeatable", true},
    {"exec_timeout", "seconds an --exec command may run (default 30)"},
    {"exec_concurrency", "--exec commands running at once at most (default 4)"},
    {"forward_timeout", "seconds a --forward POST may take (default 10)"},
    {"max_attempts", "attempts per event before the dead letter (default 8)"},
    {"retry_initial", "seconds before the first retry, doubling with jitter (default 1)"},
    {"retry_max", "longest wait between retries, in seconds (default 300)"},
    {"workers", "sink worker threads (default 16)"},
    {"pp_signing_secrets", "PerfectParser signing secrets, comma-separated (rotation)", true, true},
    {"pp_static_secret", "PerfectParser X-Webhook-Secret value", false, true},
    {"parashift_tokens", "Parashift tokens, comma-separated", true, true},
    {"pp_api_key", "PerfectParser API key", false, true},
    {"parashift_api_key", "Parashift API key", false, true},
    {"redis_password", "password for --dedup redis://", false, true},
    {"parashift_header", "Parashift: header whose value must equal a token (default Authorization: Bearer T)"},
    {"parashift_allow_cidr", "Parashift: allowed source CIDR; repeatable; 'default' = 34.65.0.0/16", true},
    {"trusted_proxy", "CIDR of a proxy whose X-Forwarded-For is believed; repeatable", true},
    {"log_level", "debug, info, warn or error (default info)"},
    {"poll", "run the fallback poller for each provider whose API key is set", false, false, true},
    {"enrich", "fetch each event's document from the API before the sinks (needs the API key)", false, false, true},
    {"pp_api_base", "PerfectParser API base URL (default https://api.perfectparser.com)"},
    {"parashift_api_base", "Parashift API base URL (default https://api.parashift.io)"},
    {"poll_interval", "seconds between poller rounds (default 60)"},
    {"poll_grace", "seconds a terminal webhook may be late before the poller fetches it (default 600)"},
    {"api_rate_limit", "API requests per minute per key (default 120)"},
};

const setting_spec* find_setting(std::string_view key) {
  for (const setting_spec& s : all_settings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::string trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) --e;
  return std::string(s.substr(b, e - b));
}

// Splits on `seps`, trims, drops empty items.
std::vector<std::string> split(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find_first_of(seps, start);
    if (end == std::string_view::npos) end = s.size();
    std::string item = trim(s.substr(start, end - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

error bad(const std::string& where, const std::string& why) { return {errc::invalid_config, where + ": " + why}; }

// Where a value came from, as the user would spell it there.
std::string spelled(std::string_view key, std::string_view source) {
  if (source == "flag") return flag_name(key);
  if (source == "env") return env_name(key);
  return std::string(source) + " key " + std::string(key);
}

result<long long> to_integer(const std::string& where, const std::string& text, long long lo, long long hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE) {
    return bad(where, "'" + text + "' is not a whole number");
  }
  if (v < lo || v > hi) return bad(where, text + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

result<std::chrono::milliseconds> to_duration(const std::string& where, const std::string& text, double max_seconds) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
    return bad(where, "'" + text + "' is not a number of seconds");
  }
  if (v < 0.001 || v > max_seconds) {
    return bad(where, text + " s is outside 0.001.." + std::to_string(static_cast<long long>(max_seconds)) + " s");
  }
  return std::chrono::milliseconds(static_cast<long long>(std::llround(v * 1000.0)));
}

status parse_listen(const std::string& where, const std::string& text, options& o) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad(where, "'" + text + "' is not HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const result<long long> port = to_integer(where, text.substr(colon + 1), 0, 65535);
  if (!port) return port.error();
  o.listen_host = host;
  o.listen_port = static_cast<std::uint16_t>(*port);
  return {};
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// True when a URL's authority carries a password ("scheme://user:pw@host").
bool has_password(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  const std::size_t at = rest.rfind('@');
  return at != std::string_view::npos && rest.substr(0, at).find(':') != std::string_view::npos;
}

status parse_store(const std::string& where, const std::string& text, bool from_flag, options& o) {
  if (starts_with(text, "sqlite:")) {
    std::string path = text.substr(7);
    if (starts_with(path, "//")) path = path.substr(2);  // sqlite://PATH reads as sqlite:PATH
    if (path.empty()) return bad(where, "sqlite: needs a file, e.g. sqlite:./hookrx.db");
    o.store = {store_url::kind::sqlite, path};
    return {};
  }
  if (text == "memory:" || text == "memory") {
    o.store = {store_url::kind::memory, {}};
    return {};
  }
  if (starts_with(text, "postgresql://") || starts_with(text, "postgres://")) {
    if (from_flag && has_password(text)) {
      return bad(where, "a password on the command line is visible to every user: use PGPASSWORD or PGPASSFILE");
    }
    o.store = {store_url::kind::postgres, text};
    return {};
  }
  return bad(where, "unknown store (want sqlite:PATH, postgresql://..., or memory:)");
}

status check_http_url(const std::string& where, const std::string& url) {
  if (!starts_with(url, "http://") || url.size() <= 7) return bad(where, "'" + url + "' is not an http:// URL");
  return {};
}

// Applies one setting's winning values (already from the right source) to `o`.
status apply(options& o, const setting_spec& s, const std::vector<std::string>& v, const std::string& where,
             bool from_flag) {
  const std::string_view k = s.key;
  const std::string& one = v.back();  // single-valued settings: the last one given wins
  if (k == "listen") return parse_listen(where, one, o);
  if (k == "io_threads" || k == "exec_concurrency" || k == "workers") {
    const result<long long> n = to_integer(where, one, k == "io_threads" ? 0 : 1, 256);
    if (!n) return n.error();
    (k == "io_threads" ? o.io_threads : k == "workers" ? o.workers : o.exec_concurrency) = static_cast<int>(*n);
    return {};
  }
  if (k == "max_attempts") {
    const result<long long> n = to_integer(where, one, 1, 1000);
    if (!n) return n.error();
    o.max_attempts = static_cast<int>(*n);
    return {};
  }
  if (k == "max_body_bytes") {
    const result<long long> n = to_integer(where, one, 1, 64LL << 20);
    if (!n) return n.error();
    o.max_body_bytes = static_cast<std::size_t>(*n);
    return {};
  }
  struct duration_setting {
    std::string_view key;
    std::chrono::milliseconds options::*member;
    double max_seconds;
  };
  static const duration_setting durations[] = {
      {"read_timeout", &options::read_timeout, 3600},
      {"idle_timeout", &options::idle_timeout, 3600},
      {"grace", &options::grace, 3600},
      {"exec_timeout", &options::exec_timeout, 86400},
      {"forward_timeout", &options::forward_timeout, 3600},
      {"retry_initial", &options::retry_initial, 86400},
      {"retry_max", &options::retry_max, 7 * 86400},
      {"poll_interval", &options::poll_interval, 86400},
      {"poll_grace", &options::poll_grace, 7 * 86400},
  };
  for (const duration_setting& d : durations) {
    if (d.key == k) {
      const result<std::chrono::milliseconds> ms = to_duration(where, one, d.max_seconds);
      if (!ms) return ms.error();
      o.*d.member = *ms;
      return {};
    }
  }
  if (k == "store") return parse_store(where, one, from_flag, o);
  if (k == "poll" || k == "enrich") {
    bool on = false;
    if (one == "true" || one == "1" || one == "yes" || one == "on") {
      on = true;
    } else if (!(one == "false" || one == "0" || one == "no" || one == "off")) {
      return bad(where, "'" + one + "' is not true or false");
    }
    (k == "poll" ? o.poll : o.enrich) = on;
    return {};
  }
  if (k == "pp_api_base" || k == "parashift_api_base") {
    if (!starts_with(one, "https://") && !starts_with(one, "http://")) return bad(where, "'" + one + "' is not a URL");
    (k == "pp_api_base" ? o.pp_api_base : o.parashift_api_base) = one;
    return {};
  }
  if (k == "api_rate_limit") {
    const result<long long> n = to_integer(where, one, 1, 150);
    if (!n) return n.error();
    o.api_rate_limit = static_cast<int>(*n);
    return {};
  }
  if (k == "dedup") {
    if (!starts_with(one, "redis://")) return bad(where, "'" + one + "' is not a redis:// URL");
    if (has_password(one) || one.find('@') != std::string::npos) {
      return bad(where, "put the Redis password in HOOKRX_REDIS_PASSWORD or HOOKRX_REDIS_PASSWORD_FILE, not the URL");
    }
    o.dedup_url = one;
    return {};
  }
  if (k == "exec") {
    for (const std::string& c : v) {
      if (trim(c).empty()) return bad(where, "an empty command");
    }
    o.exec = v;
    return {};
  }
  if (k == "forward") {
    for (const std::string& u : v) {
      if (status st = check_http_url(where, u); !st) return st;
    }
    o.forward = v;
    return {};
  }
  if (k == "jsonl") {
    o.jsonl = v;
    return {};
  }
  if (k == "pp_signing_secrets") return o.pp_signing_secrets = v, status{};
  if (k == "parashift_tokens") return o.parashift_tokens = v, status{};
  if (k == "pp_static_secret") return o.pp_static_secret = one, status{};
  if (k == "pp_api_key") return o.pp_api_key = one, status{};
  if (k == "parashift_api_key") return o.parashift_api_key = one, status{};
  if (k == "redis_password") return o.redis_password = one, status{};
  if (k == "parashift_header") {
    if (one.empty() || one.find_first_of(" :\r\n\t") != std::string::npos) return bad(where, "not a header name");
    o.parashift_header = one;
    return {};
  }
  if (k == "parashift_allow_cidr" || k == "trusted_proxy") {
    std::vector<std::string> cidrs;
    cidrs.reserve(v.size());
    for (const std::string& c : v) cidrs.push_back(c == "default" ? "34.65.0.0/16" : c);
    (k == "trusted_proxy" ? o.trusted_proxy : o.parashift_allow_cidr) = std::move(cidrs);
    return {};
  }
  if (k == "log_level") {
    if (one == "debug")
      o.log_level = options::level::debug;
    else if (one == "info")
      o.log_level = options::level::info;
    else if (one == "warn" || one == "warning")
      o.log_level = options::level::warn;
    else if (one == "error")
      o.log_level = options::level::error;
    else
      return bad(where, "'" + one + "' is not debug, info, warn or error");
    return {};
  }
  return bad(where, "not handled");  // a setting in the table without a rule: a bug caught by the tests
}

result<std::string> read_text_file(const std::string& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad(where, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return bad(where, "cannot read " + path);
  return ss.str();
}

// A secret's values from a file: comma- or newline-separated for lists, trimmed.
result<std::vector<std::string>> secret_from_file(const setting_spec& s, const std::string& path,
                                                  const std::string& where) {
  result<std::string> text = read_text_file(path, where);
  if (!text) return text.error();
  std::vector<std::string> values = s.repeatable ? split(*text, ",\n") : std::vector<std::string>{trim(*text)};
  if (values.empty() || values.front().empty()) return bad(where, path + " is empty");
  return values;
}

// Renders a TOML scalar as text; nullopt for tables and nested arrays.
std::optional<std::string> scalar_text(const toml::node& n) {
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* f = n.as_floating_point()) {
    std::ostringstream ss;
    ss << f->get();
    return ss.str();
  }
  if (const auto* b = n.as_boolean()) return std::string(b->get() ? "true" : "false");
  return std::nullopt;
}

}  // namespace

const std::vector<setting_spec>& settings() { return all_settings; }

std::string flag_name(std::string_view key) {
  std::string out = "--";
  for (const char c : key) out.push_back(c == '_' ? '-' : c);
  return out;
}

std::string env_name(std::string_view key) {
  std::string out = "HOOKRX_";
  for (const char c : key) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

result<raw_values> parse_config_text(std::string_view text, std::string_view origin) {
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return bad(std::string(origin) + ":" + std::to_string(where.line),
               "not valid TOML: " + std::string(e.description()));
  } catch (const std::exception& e) {
    return bad(std::string(origin), e.what());
  }
  raw_values out;
  for (const auto& [raw_key, node] : table) {
    const std::string key(raw_key.str());
    const std::string where = std::string(origin) + ":" + std::to_string(node.source().begin.line) + " key " + key;
    const std::string& name = key;
    const setting_spec* spec = find_setting(name);
    bool is_file = false;
    if (spec == nullptr && name.size() > 5 && name.compare(name.size() - 5, 5, "_file") == 0) {
      spec = find_setting(std::string_view(name).substr(0, name.size() - 5));
      is_file = spec != nullptr && spec->secret;
      if (!is_file) spec = nullptr;
    }
    if (spec == nullptr) return bad(where, "unknown setting");
    if (spec->secret && !is_file) {
      return bad(where, "secrets are never read from the config file: set " + env_name(spec->key) + ", " +
                            env_name(spec->key) + "_FILE, or the key " + key + "_file (a path)");
    }
    std::vector<std::string> values;
    if (const toml::array* arr = node.as_array(); arr != nullptr && !is_file) {
      if (!spec->repeatable) return bad(where, "takes one value, not an array");
      for (const toml::node& item : *arr) {
        std::optional<std::string> s = scalar_text(item);
        if (!s) return bad(where, "array items must be strings or numbers");
        values.push_back(std::move(*s));
      }
      if (values.empty()) return bad(where, "an empty array");
    } else {
      std::optional<std::string> s = scalar_text(node);
      if (!s) return bad(where, "must be a string or a number");
      values.push_back(std::move(*s));
    }
    out[name] = std::move(values);
  }
  return out;
}

config_loader::config_loader(env_lookup env) : env_(std::move(env)) {
  if (!env_) env_ = [](const char* name) -> const char* { return std::getenv(name); };  // NOLINT(concurrency-mt-unsafe)
}

void config_loader::add_flags(CLI::App& app, const std::vector<std::string_view>& keys) {
  app.add_option("--config", config_file_, "TOML config file (keys as the flags, with '_': max_attempts = 8)");
  for (const setting_spec& s : all_settings) {
    if (s.secret) continue;
    if (!keys.empty() && std::find(keys.begin(), keys.end(), s.key) == keys.end()) continue;
    const std::string key(s.key);
    if (s.flag) {
      app.add_flag_function(
          flag_name(s.key), [this, key](std::int64_t /*count*/) { flags_[key] = {"true"}; },
          std::string(s.help) + " [" + env_name(s.key) + "=true]");
      continue;
    }
    CLI::Option* opt = app.add_option(
        flag_name(s.key),
        [this, key](const CLI::results_t& r) {
          flags_[key] = r;
          return true;
        },
        std::string(s.help) + " [" + env_name(s.key) + "]");
    if (s.repeatable) {
      opt->type_size(1)->expected(1, 1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    } else {
      opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
}

result<options> config_loader::load() const {
  options o;

  // The file: --config wins over HOOKRX_CONFIG.
  raw_values file;
  std::string file_name = config_file_;
  if (file_name.empty()) {
    if (const char* e = env_("HOOKRX_CONFIG"); e != nullptr) file_name = e;
  }
  if (!file_name.empty()) {
    result<std::string> text = read_text_file(file_name, config_file_.empty() ? "HOOKRX_CONFIG" : "--config");
    if (!text) return text.error();
    result<raw_values> parsed = parse_config_text(*text, file_name);
    if (!parsed) return parsed.error();
    file = std::move(*parsed);
  }

  for (const setting_spec& s : all_settings) {
    const std::string key(s.key);
    std::vector<std::string> values;
    std::string where;
    bool from_flag = false;
    if (auto f = flags_.find(key); f != flags_.end() && !s.secret) {
      values = f->second;
      where = flag_name(s.key);
      from_flag = true;
    }
    if (values.empty() && s.secret) {
      const std::string var = env_name(s.key);
      const std::string var_file = var + "_FILE";
      const char* direct = env_(var.c_str());
      const char* path = env_(var_file.c_str());
      if (direct != nullptr && *direct != '\0' && path != nullptr && *path != '\0') {
        std::string why = "set either ";
        why.append(var).append(" or ").append(var_file).append(", not both");
        return bad(var, why);
      }
      if (direct != nullptr && *direct != '\0') {
        values = s.repeatable ? split(direct, ",") : std::vector<std::string>{trim(direct)};
        if (values.empty() || values.front().empty()) return bad(var, "empty");
        where = var;
      } else if (path != nullptr && *path != '\0') {
        result<std::vector<std::string>> v = secret_from_file(s, path, var_file);
        if (!v) return v.error();
        values = std::move(*v);
        where = var_file;
      } else if (auto f = file.find(key + "_file"); f != file.end()) {
        where = file_name;
        where.append(" key ").append(key).append("_file");
        result<std::vector<std::string>> v = secret_from_file(s, f->second.front(), where);
        if (!v) return v.error();
        values = std::move(*v);
      }
    } else if (values.empty()) {
      const std::string var = env_name(s.key);
      if (const char* e = env_(var.c_str()); e != nullptr && *e != '\0') {
        values = (s.repeatable && s.key != "exec") ? split(e, ",") : std::vector<std::string>{e};
        where = var;
      } else if (auto f = file.find(key); f != file.end()) {
        values = f->second;
        where = spelled(s.key, file_name);
      }
    }
    if (values.empty()) continue;
    if (status st = apply(o, s, values, where, from_flag); !st) return st.error();
    o.origin[key] = where;
  }

  if (o.retry_max < o.retry_initial) {
    return bad(o.origin.count("retry_max") != 0 ? o.origin["retry_max"] : "--retry-max",
               "shorter than --retry-initial");
  }
  return o;
}

std::optional<std::string> secret_flag_used(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    for (const setting_spec& s : all_settings) {
      if (!s.secret) continue;
      const std::string flag = flag_name(s.key);
      if (arg == flag || (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag && arg[flag.size()] == '=')) {
        return flag + ": secrets are never read from the command line (every user can see it): set " + env_name(s.key) +
               " or " + env_name(s.key) + "_FILE";
      }
    }
  }
  return std::nullopt;
}

status validate_for_serve(const options& o) {
  if (!o.perfectparser_enabled() && !o.parashift_enabled()) {
    return error(errc::invalid_config,
                 "no provider credentials: set HOOKRX_PP_SIGNING_SECRETS (or HOOKRX_PP_SIGNING_SECRETS_FILE, "
                 "HOOKRX_PP_STATIC_SECRET, HOOKRX_PP_STATIC_SECRET_FILE) for PerfectParser, or "
                 "HOOKRX_PARASHIFT_TOKENS (or HOOKRX_PARASHIFT_TOKENS_FILE) for Parashift");
  }
  if (o.exec.empty() && o.forward.empty() && o.jsonl.empty()) {
    return error(errc::invalid_config,
                 "no sink: give at least one of --exec CMD, --forward URL, --jsonl PATH "
                 "(or HOOKRX_EXEC, HOOKRX_FORWARD, HOOKRX_JSONL)");
  }
  if ((o.poll || o.enrich) && o.pp_api_key.empty() && o.parashift_api_key.empty()) {
    return error(errc::invalid_config, std::string(o.poll ? "--poll" : "--enrich") +
                                           ": set HOOKRX_PP_API_KEY (or HOOKRX_PP_API_KEY_FILE) or "
                                           "HOOKRX_PARASHIFT_API_KEY (or HOOKRX_PARASHIFT_API_KEY_FILE)");
  }
  if (!o.parashift_enabled() && (!o.parashift_allow_cidr.empty() || !o.parashift_header.empty())) {
    const std::string what = !o.parashift_header.empty() ? "--parashift-header" : "--parashift-allow-cidr";
    return error(errc::invalid_config, what + ": set HOOKRX_PARASHIFT_TOKENS too (the Parashift route needs a token)");
  }
  return {};
}

std::string_view version() noexcept { return HOOKRX_VERSION; }

}  // namespace hookrx::cli
