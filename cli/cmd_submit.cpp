// `hookrx submit` and `hookrx watch`: submit files for extraction idempotently and put the
// extraction on the poller's watch list in serve's store, so that a running `serve --poll`
// recovers its documents when their webhooks never come.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "event_builder.hpp"
#include "toolbox.hpp"
#include "toolbox_api.hpp"
#include "toolbox_store.hpp"

namespace hookrx::cli {
namespace {

struct submit_args {
  api_flags api;
  std::string parser_id;
  std::vector<std::string> files;
  std::string idempotency_key;
  bool no_watch = false;
  bool json = false;
};

struct watch_args {
  std::string id;
  std::string provider_name = "perfectparser";
  std::string expected_at;
  bool json = false;
};

// Watches `id`; the message for the operator, or an error naming the store flag.
result<bool> add_watch(const options& opts, provider source, const std::string& id, time_point due,
                       std::optional<time_point> expected) {
  result<opened_store> store = open_existing_store(opts);
  if (!store) return store.error();
  watch_entry e;
  e.source = source;
  e.id = id;
  e.due_at = due;
  e.expected_at = expected;
  return store->watch->watch(e);
}

int run_submit(const submit_args& a, const config_loader& loader) {
  result<options> opts = loader.load();
  if (!opts) {
    std::cerr << "hookrx submit: " << opts.error().detail() << '\n';
    return exit_config;
  }
  if (a.parser_id.empty()) {
    std::cerr << "hookrx submit: --parser: the parser id is empty\n";
    return exit_config;
  }
  // Every file is read before anything is sent: a typo in the last path costs no credits.
  submission sub;
  sub.parser_id = a.parser_id;
  for (const std::string& path : a.files) {
    api_result<submission_file> f = submission_file::from_path(path);
    if (!f) {
      std::cerr << "hookrx submit: FILE " << path << ": " << f.error().detail << '\n';
      return exit_config;
    }
    sub.files.push_back(std::move(*f));
  }
  if (!a.idempotency_key.empty()) sub.idempotency_key = a.idempotency_key;
  // The store is opened before submitting, so that a wrong --store fails before any credit is spent.
  if (!a.no_watch) {
    result<opened_store> probe = open_existing_store(*opts);
    if (!probe) {
      std::cerr << "hookrx submit: " << probe.error().detail() << " (or pass --no-watch)\n";
      return probe.error() == errc::invalid_config ? exit_config : exit_failure;
    }
  }
  api_result<perfectparser_client> pp = make_perfectparser_client(*opts, a.api);
  if (!pp) {
    std::cerr << "hookrx submit: " << pp.error().detail << '\n';
    return exit_config;
  }
  api_result<pp_submission> done = pp->submit(sub);
  if (!done) {
    std::cerr << "hookrx submit: " << describe(done.error(), *opts, "pp_api_key", pp->base_url()) << '\n';
    return exit_failure;
  }
  bool watched = false;
  bool already_watched = false;
  std::string watch_error;
  if (!a.no_watch) {
    result<bool> w = add_watch(*opts, provider::perfectparser, done->extraction_id,
                               std::chrono::system_clock::now() + opts->poll_grace, std::nullopt);
    if (w) {
      watched = true;
      already_watched = !*w;
    } else {
      watch_error = w.error().detail().empty() ? w.error().message() : w.error().detail();
    }
  }
  if (a.json) {
    std::cout << "{\"extraction_id\":" << json_string(done->extraction_id)
              << ",\"status\":" << (done->status ? json_string(*done->status) : "null")
              << ",\"files\":" << sub.files.size() << ",\"idempotency_key\":" << json_string(done->idempotency_key)
              << ",\"replayed\":" << (done->replayed ? "true" : "false")
              << ",\"watched\":" << (watched ? "true" : "false") << "}\n";
  } else {
    std::cout << (done->replayed ? "already submitted (not charged again): " : "submitted: ") << done->extraction_id
              << " (" << sub.files.size() << " file" << (sub.files.size() == 1 ? "" : "s") << " to " << a.parser_id
              << ", status " << done->status.value_or("unknown") << ", idempotency key " << done->idempotency_key
              << ")\n";
    if (already_watched) {
      std::cout << "already on the watch list: " << done->extraction_id << '\n';
    } else if (watched) {
      std::cout << "watching " << done->extraction_id << ": `hookrx serve --poll` on this store fetches it if no "
                << "webhook comes within " << std::chrono::duration<double>(opts->poll_grace).count() << " s\n";
    }
  }
  if (!watch_error.empty()) {
    std::cerr << "hookrx submit: submitted " << done->extraction_id << " but could not watch it: " << watch_error
              << "; run: hookrx watch " << done->extraction_id << '\n';
    return exit_failure;
  }
  return 0;
}

int run_watch(const watch_args& a, const config_loader& loader) {
  result<options> opts = loader.load();
  if (!opts) {
    std::cerr << "hookrx watch: " << opts.error().detail() << '\n';
    return exit_config;
  }
  provider source = provider::perfectparser;
  if (a.provider_name == "parashift") {
    source = provider::parashift;
  } else if (a.provider_name != "perfectparser") {
    std::cerr << "hookrx watch: --provider: '" << a.provider_name << "' is neither perfectparser nor parashift\n";
    return exit_config;
  }
  if (a.id.empty()) {
    std::cerr << "hookrx watch: ID: empty\n";
    return exit_config;
  }
  std::optional<time_point> expected;
  if (!a.expected_at.empty()) {
    expected = parse_iso8601(a.expected_at);
    if (!expected) {
      std::cerr << "hookrx watch: --expected-at: '" << a.expected_at
                << "' is not an ISO-8601 UTC time (2026-06-20T10:00:45Z)\n";
      return exit_config;
    }
  }
  const time_point due = (expected ? *expected : std::chrono::system_clock::now()) + opts->poll_grace;
  result<bool> added = add_watch(*opts, source, a.id, due, expected);
  if (!added) {
    std::cerr << "hookrx watch: " << (added.error().detail().empty() ? added.error().message() : added.error().detail())
              << '\n';
    return added.error() == errc::invalid_config ? exit_config : exit_failure;
  }
  if (a.json) {
    std::cout << "{\"provider\":" << json_string(to_string(source)) << ",\"id\":" << json_string(a.id)
              << ",\"added\":" << (*added ? "true" : "false") << ",\"due_at\":" << json_string(iso8601(due)) << "}\n";
  } else if (*added) {
    std::cout << "watching " << to_string(source) << ' ' << a.id << ": polled from " << iso8601(due)
              << " unless its webhooks come first\n";
  } else {
    std::cout << "already watched: " << to_string(source) << ' ' << a.id << '\n';
  }
  return 0;
}

}  // namespace

void add_submit(CLI::App& app, std::vector<command>& commands) {
  CLI::App* sub = app.add_subcommand("submit", "submit files for extraction (idempotent) and watch the extraction");
  sub->footer(
      "Example:\n"
      "  HOOKRX_PP_API_KEY_FILE=/etc/hookrx/pp_api_key hookrx submit --parser prs_123 invoice1.pdf invoice2.pdf \\\n"
      "      --store sqlite:/var/lib/hookrx/hookrx.db\n"
      "Submitting the same files to the same parser again is the same submission (Idempotency-Key derived from\n"
      "their contents) and is not charged twice. The extraction goes on the watch list of the store, so a\n"
      "running `hookrx serve --poll` fetches its documents if their webhooks never come.");
  auto args = std::make_shared<submit_args>();
  auto loader = std::make_shared<config_loader>();
  sub->add_option("--parser", args->parser_id, "the parser id (prs_...)")->required();
  sub->add_option("files", args->files, "the files to extract (pdf, png, jpg, tiff, txt)")->required();
  sub->add_option("--idempotency-key", args->idempotency_key,
                  "send this Idempotency-Key (default: derived from the parser and the files' bytes)");
  sub->add_flag("--no-watch", args->no_watch, "do not put the extraction on the watch list");
  sub->add_flag("--json", args->json, "machine-readable output");
  add_api_flags(*sub, args->api);
  loader->add_flags(*sub, {"store", "pp_api_base", "api_rate_limit", "poll_grace"});
  commands.push_back({sub, [args, loader]() { return run_submit(*args, *loader); }});
}

void add_watch(CLI::App& app, std::vector<command>& commands) {
  CLI::App* sub =
      app.add_subcommand("watch", "put an extraction (or Parashift document) submitted elsewhere on the watch list");
  sub->footer(
      "Examples:\n"
      "  hookrx watch ext_7f3a9c --store sqlite:/var/lib/hookrx/hookrx.db\n"
      "  hookrx watch --provider parashift 107786 --expected-at 2026-06-20T10:05:00Z\n"
      "A running `hookrx serve --poll` on the same store fetches it if its webhooks do not come in time.");
  auto args = std::make_shared<watch_args>();
  auto loader = std::make_shared<config_loader>();
  sub->add_option("id", args->id, "the extraction id (PerfectParser) or document id (Parashift)")->required();
  sub->add_option("--provider", args->provider_name, "perfectparser (default) or parashift");
  sub->add_option("--expected-at", args->expected_at, "when the document should be done (ISO-8601 UTC)");
  sub->add_flag("--json", args->json, "machine-readable output");
  loader->add_flags(*sub, {"store", "poll_grace"});
  commands.push_back({sub, [args, loader]() { return run_watch(*args, *loader); }});
}

}  // namespace hookrx::cli
