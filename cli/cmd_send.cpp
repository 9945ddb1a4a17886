// `hookrx send`: a realistic, signed delivery of one event to any receiver, as the vendor sends it.
#include <httplib.h>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "config.hpp"
#include "event_builder.hpp"
#include "hookrx/events.hpp"
#include "signing.hpp"
#include "toolbox.hpp"

namespace hookrx::cli {
namespace {

struct send_args {
  std::string url;
  std::string event;
  std::string body_file;
  std::string provider_name;
  std::string extraction_id;
  std::string document_id;
  std::vector<std::string> headers;
  double timeout_seconds = 10;  // the vendors wait 10 s
  bool live = false;
  bool unsigned_ = false;
  bool list = false;
};

struct split_url {
  std::string origin;  // scheme://host[:port]
  std::string target;  // /path?query
};

std::optional<split_url> parse_url(const std::string& url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  const std::size_t host_start = scheme_end + 3;
  const std::size_t path_start = url.find('/', host_start);
  split_url out;
  out.origin = url.substr(0, path_start);
  out.target = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (out.origin.size() == host_start) return std::nullopt;
  return out;
}

int usage(const std::string& message) {
  std::cerr << "hookrx send: " << message << '\n';
  return exit_config;
}

void print_names() {
  std::cout << "perfectparser:\n";
  for (std::string_view n : event_names(provider::perfectparser)) std::cout << "  " << n << '\n';
  std::cout << "parashift:\n";
  for (std::string_view n : event_names(provider::parashift)) std::cout << "  " << n << '\n';
}

int run_send(const send_args& a, const config_loader& loader) {
  if (a.list) {
    print_names();
    return 0;
  }
  if (a.url.empty()) return usage("URL: missing (e.g. http://127.0.0.1:8080/webhooks/perfectparser)");
  const std::optional<split_url> url = parse_url(a.url);
  if (!url) return usage("URL: '" + a.url + "' is not an http:// or https:// URL");
  if (a.event.empty() && a.body_file.empty()) return usage("--event: give an event name or topic, or --body FILE");
  if (!(a.timeout_seconds > 0 && a.timeout_seconds <= 3600)) return usage("--timeout: must be within 0..3600 s");

  // The provider: as given, else the one whose event this is, else the one that parses the body.
  std::optional<provider> source;
  if (a.provider_name == "perfectparser") source = provider::perfectparser;
  if (a.provider_name == "parashift") source = provider::parashift;
  if (!a.provider_name.empty() && !source)
    return usage("--provider: '" + a.provider_name + "' is neither perfectparser nor parashift");
  if (!source && !a.event.empty()) source = provider_of_event(a.event);

  std::string body;
  if (!a.body_file.empty()) {
    if (a.body_file == "-") {
      body = read_all(std::cin);
    } else {
      std::ifstream in(a.body_file, std::ios::binary);
      if (!in) return usage("--body: cannot read " + a.body_file);
      body = read_all(in);
    }
    if (!source) {
      result<event> ps = parse_event(provider::parashift, body);
      const bool parashift_topic_known =
          ps && ps->is<document_event>() && ps->get_if<document_event>()->topic != parashift_topic::unknown;
      source = parashift_topic_known ? provider::parashift : provider::perfectparser;
    }
  } else {
    if (!source) {
      return usage("--event: '" + a.event +
                   "' is neither a PerfectParser event nor a Parashift topic (hookrx send --list shows them)");
    }
    event_spec spec;
    spec.source = *source;
    spec.name = a.event;
    spec.test = !a.live;
    spec.extraction_id = a.extraction_id;
    spec.document_id = a.document_id;
    result<std::string> built = build_event_body(spec);
    if (!built) return usage(built.error().detail());
    body = std::move(*built);
  }

  result<options> opts = loader.load();
  if (!opts) return usage(opts.error().detail());

  httplib::Headers headers = {{"User-Agent", "hookrx-send/" + std::string(version())}};
  for (const std::string& h : a.headers) {
    const std::size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) return usage("--header: '" + h + "' is not 'Name: value'");
    std::size_t value_start = h.find_first_not_of(" \t", colon + 1);
    headers.emplace(h.substr(0, colon), value_start == std::string::npos ? "" : h.substr(value_start));
  }
  if (!a.unsigned_) {
    if (*source == provider::perfectparser) {
      if (opts->pp_signing_secrets.empty() && opts->pp_static_secret.empty()) {
        return usage(
            "no PerfectParser credential to send with: set HOOKRX_PP_SIGNING_SECRETS (or "
            "HOOKRX_PP_SIGNING_SECRETS_FILE) and/or HOOKRX_PP_STATIC_SECRET (or its _FILE), or pass --unsigned");
      }
      if (!opts->pp_signing_secrets.empty()) {
        result<std::string> sig = perfectparser_signature(opts->pp_signing_secrets.front(), body);
        if (!sig) return usage(sig.error().message());
        headers.emplace("X-PerfectParser-Signature", *sig);
      }
      if (!opts->pp_static_secret.empty()) headers.emplace("X-Webhook-Secret", opts->pp_static_secret);
    } else {
      if (opts->parashift_tokens.empty()) {
        return usage(
            "no Parashift token to send with: set HOOKRX_PARASHIFT_TOKENS (or HOOKRX_PARASHIFT_TOKENS_FILE), "
            "or pass --unsigned");
      }
      const std::string& token = opts->parashift_tokens.front();
      if (opts->parashift_header.empty()) {
        headers.emplace("Authorization", "Bearer " + token);
      } else {
        headers.emplace(opts->parashift_header, token);
      }
    }
  }

  // The key the receiver should file it under, so that the operator can look it up (inbox show).
  std::string key;
  if (result<event> ev = parse_event(*source, body); ev) key = ev->key();

  httplib::Client client(url->origin);
  if (!client.is_valid()) return usage("URL: '" + a.url + "' has no usable host and port");
  client.set_tcp_nodelay(true);  // small POSTs otherwise wait for delayed ACKs (STYLE.md)
  const auto timeout = std::chrono::milliseconds(static_cast<long long>(a.timeout_seconds * 1000));
  client.set_connection_timeout(std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                                static_cast<time_t>((timeout.count() % 1000) * 1000));
  client.set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                          static_cast<time_t>((timeout.count() % 1000) * 1000));
  client.set_write_timeout(std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                           static_cast<time_t>((timeout.count() % 1000) * 1000));

  std::cerr << "hookrx send: POST " << a.url << " (" << to_string(*source) << (key.empty() ? "" : ", key " + key)
            << ")\n";
  httplib::Result res = client.Post(url->target, headers, body, "application/json");
  if (!res) {
    std::cerr << "hookrx send: no answer from " << a.url << ": " << httplib::to_string(res.error()) << '\n';
    return exit_failure;
  }
  std::cout << res->status << (res->reason.empty() ? "" : " " + res->reason) << '\n' << res->body;
  if (!res->body.empty() && res->body.back() != '\n') std::cout << '\n';
  std::cout.flush();
  return res->status >= 200 && res->status < 300 ? 0 : exit_failure;
}

}  // namespace

void add_send(CLI::App& app, std::vector<command>& commands) {
  CLI::App* sub = app.add_subcommand("send", "POST a realistic, signed event to a receiver, as the vendor would");
  sub->footer(
      "Examples:\n"
      "  HOOKRX_PP_SIGNING_SECRETS=wh_sec_... hookrx send http://127.0.0.1:8080/webhooks/perfectparser \\\n"
      "      --event extraction.document_completed\n"
      "  HOOKRX_PARASHIFT_TOKENS=tok hookrx send http://127.0.0.1:8080/webhooks/parashift --event processing-finished\n"
      "  hookrx send URL --body captured.json --provider perfectparser\n"
      "  hookrx send --list\n"
      "Signs with the first of HOOKRX_PP_SIGNING_SECRETS and sends HOOKRX_PP_STATIC_SECRET as X-Webhook-Secret;\n"
      "Parashift: Authorization: Bearer <first of HOOKRX_PARASHIFT_TOKENS>, or the --parashift-header.\n"
      "Prints the status and the answer; exit 0 on a 2xx, 1 otherwise, 2 for a usage error.");
  auto args = std::make_shared<send_args>();
  auto loader = std::make_shared<config_loader>();
  sub->add_option("url", args->url, "the receiver's URL");
  sub->add_option("--event,-e", args->event, "event name or Parashift topic (see --list)");
  sub->add_option("--body", args->body_file, "send this file's bytes as they are ('-': stdin)");
  sub->add_option("--provider", args->provider_name, "perfectparser or parashift (default: from --event)");
  sub->add_flag("--live", args->live, "leave \"test\": true out, so the receiver handles it as a real event");
  sub->add_option("--extraction-id", args->extraction_id, "PerfectParser extraction id (default: a fresh one)");
  sub->add_option("--document-id", args->document_id,
                  "document id (PerfectParser doc_..., Parashift a number; default: a fresh one)");
  sub->add_option("--header,-H", args->headers, "an extra header 'Name: value'; repeatable");
  sub->add_option("--timeout", args->timeout_seconds, "seconds to wait for the answer (default 10)");
  sub->add_flag("--unsigned", args->unsigned_, "send without signature or token (to see the receiver refuse it)");
  sub->add_flag("--list", args->list, "print every event name and topic, then exit");
  loader->add_flags(*sub, {"parashift_header"});
  commands.push_back({sub, [args, loader]() { return run_send(*args, *loader); }});
}

}  // namespace hookrx::cli
