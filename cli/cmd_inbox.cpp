// `hookrx inbox`: what the store holds (list, show, dead), and dead letters queued again (replay).
// Reads the store serve writes, also while serve runs.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "event_builder.hpp"
#include "toolbox.hpp"
#include "toolbox_store.hpp"

namespace hookrx::cli {
namespace {

struct inbox_args {
  std::string state;
  std::string key_or_id;
  std::size_t limit = 100;
  std::int64_t after = 0;
  bool json = false;
};

std::string when(time_point t) { return t == time_point{} ? std::string() : iso8601(t); }

// "Name: value" lines as stored.
std::vector<std::string> header_lines(const std::string& headers) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < headers.size()) {
    std::size_t end = headers.find('\n', start);
    if (end == std::string::npos) end = headers.size();
    if (end > start) out.push_back(headers.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string entry_json(const inbox_entry& e, bool with_body) {
  std::string out = "{\"id\":" + std::to_string(e.id);
  out += ",\"key\":" + json_string(e.record.key);
  out += ",\"provider\":" + json_string(to_string(e.record.source));
  out += ",\"event\":" + json_string(e.record.event_name);
  out += ",\"state\":" + json_string(to_string(e.state));
  out += ",\"origin\":" + json_string(to_string(e.record.origin));
  out += ",\"received_at\":" + json_string(when(e.record.received_at));
  out += ",\"attempts\":" + std::to_string(e.attempts);
  out += ",\"next_attempt_at\":" + (e.state == entry_state::queued ? json_string(when(e.next_attempt_at)) : "null");
  out += ",\"lease_until\":" + (e.state == entry_state::leased ? json_string(when(e.lease_until)) : "null");
  out += ",\"last_error\":" + (e.last_error.empty() ? std::string("null") : json_string(e.last_error));
  if (with_body) {
    out += ",\"headers\":[";
    bool first = true;
    for (const std::string& h : header_lines(e.record.headers)) {
      out += (first ? "" : ",") + json_string(h);
      first = false;
    }
    out += "],\"body\":" + json_string(e.record.body);
  }
  return out + "}";
}

void print_table(const std::vector<inbox_entry>& entries) {
  std::cout << "ID\tSTATE\tATTEMPTS\tRECEIVED\tEVENT\tKEY\tLAST ERROR\n";
  for (const inbox_entry& e : entries) {
    std::cout << e.id << '\t' << to_string(e.state) << '\t' << e.attempts << '\t' << when(e.record.received_at) << '\t'
              << e.record.event_name << '\t' << e.record.key << '\t' << e.last_error << '\n';
  }
}

void print_entry(const inbox_entry& e) {
  std::cout << "id:              " << e.id << '\n'
            << "key:             " << e.record.key << '\n'
            << "provider:        " << to_string(e.record.source) << '\n'
            << "event:           " << e.record.event_name << '\n'
            << "state:           " << to_string(e.state) << '\n'
            << "origin:          " << to_string(e.record.origin) << '\n'
            << "received at:     " << when(e.record.received_at) << '\n'
            << "attempts:        " << e.attempts << '\n';
  if (e.state == entry_state::queued) std::cout << "next attempt at: " << when(e.next_attempt_at) << '\n';
  if (e.state == entry_state::leased) std::cout << "leased until:    " << when(e.lease_until) << '\n';
  if (!e.last_error.empty()) std::cout << "last error:      " << e.last_error << '\n';
  std::cout << "headers:\n";
  for (const std::string& h : header_lines(e.record.headers)) std::cout << "  " << h << '\n';
  if (e.state == entry_state::done) {
    std::cout << "body:            (dropped once handled; the key is kept for dedup)\n";
  } else {
    std::cout << "body:\n" << e.record.body << '\n';
  }
}

class inbox_command {
 public:
  inbox_command(std::string name, std::shared_ptr<config_loader> loader, std::shared_ptr<inbox_args> args)
      : name_(std::move(name)), loader_(std::move(loader)), args_(std::move(args)) {}

  int operator()() const {
    result<options> opts = loader_->load();
    if (!opts) return fail(exit_config, opts.error().detail());
    result<opened_store> store = open_existing_store(*opts);
    if (!store) {
      return fail(store.error() == errc::invalid_config ? exit_config : exit_failure,
                  store.error().detail().empty() ? store.error().message() : store.error().detail());
    }
    inbox_store& box = *store->inbox;
    if (name_ == "list" || name_ == "dead") return list(box, name_ == "dead" ? "dead" : args_->state);
    result<std::optional<inbox_entry>> found = resolve(box);
    if (!found) return fail(exit_failure, found.error().message());
    if (!*found) return fail(exit_failure, "no entry with id or key '" + args_->key_or_id + "' in the store");
    const inbox_entry& e = **found;
    if (name_ == "show") {
      if (args_->json) {
        std::cout << entry_json(e, true) << '\n';
      } else {
        print_entry(e);
      }
      return 0;
    }
    // replay
    if (e.state != entry_state::dead) {
      return fail(exit_failure, "entry " + std::to_string(e.id) + " (" + e.record.key + ") is " +
                                    std::string(to_string(e.state)) + ", not dead: only dead letters are replayed");
    }
    if (status st = box.replay(e.id); !st) return fail(exit_failure, st.error().message());
    if (args_->json) {
      std::cout << "{\"replayed\":" << e.id << ",\"key\":" << json_string(e.record.key) << ",\"state\":\"queued\"}\n";
    } else {
      std::cout << "replayed " << e.id << " (" << e.record.key << "): queued again, attempts reset\n";
    }
    return 0;
  }

 private:
  int fail(int code, const std::string& message) const {
    std::cerr << "hookrx inbox " << name_ << ": " << message << '\n';
    return code;
  }

  // An all-digit argument is an id (keys always carry a provider prefix), anything else a key.
  [[nodiscard]] result<std::optional<inbox_entry>> resolve(inbox_store& box) const {
    const std::string& k = args_->key_or_id;
    const bool digits =
        !k.empty() && k.size() < 19 && std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) return box.get(std::stoll(k));
    return box.find(k);
  }

  int list(inbox_store& box, const std::string& state) const {
    std::vector<entry_state> states;
    if (state.empty()) {
      states = {entry_state::queued, entry_state::leased, entry_state::dead, entry_state::done};
    } else if (state == "queued") {
      states = {entry_state::queued};
    } else if (state == "leased") {
      states = {entry_state::leased};
    } else if (state == "done") {
      states = {entry_state::done};
    } else if (state == "dead") {
      states = {entry_state::dead};
    } else {
      return fail(exit_config, "--state: '" + state + "' is not one of queued, leased, done, dead");
    }
    std::vector<inbox_entry> entries;
    for (entry_state s : states) {
      result<std::vector<inbox_entry>> part = box.list(s, args_->limit, args_->after);
      if (!part) return fail(exit_failure, part.error().message());
      entries.insert(entries.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));
    }
    std::sort(entries.begin(), entries.end(), [](const inbox_entry& a, const inbox_entry& b) { return a.id < b.id; });
    if (entries.size() > args_->limit) entries.resize(args_->limit);
    if (args_->json) {
      std::cout << '[';
      for (std::size_t i = 0; i < entries.size(); ++i)
        std::cout << (i == 0 ? "" : ",") << entry_json(entries[i], false);
      std::cout << "]\n";
    } else {
      print_table(entries);
    }
    return 0;
  }

  std::string name_;
  std::shared_ptr<config_loader> loader_;
  std::shared_ptr<inbox_args> args_;
};

}  // namespace

void add_inbox(CLI::App& app, std::vector<command>& commands) {
  CLI::App* inbox = app.add_subcommand("inbox", "what the store holds: list, show, replay dead letters");
  inbox->require_subcommand(1);
  inbox->footer(
      "Examples:\n"
      "  hookrx inbox list --store sqlite:/var/lib/hookrx/hookrx.db --state dead\n"
      "  hookrx inbox show perfectparser:extraction.document_completed:ext_1:doc_1 --json\n"
      "  hookrx inbox replay 42\n"
      "Reads the store serve writes (--store, HOOKRX_STORE or --config), also while serve runs.");
  struct spec {
    const char* name;
    const char* help;
    const char* example;
  };
  const spec subs[] = {
      {"list", "entries by id: what arrived, when, its state, attempts and last error",
       "Example: hookrx inbox list --state queued --json"},
      {"show", "one entry by id or idempotency key, with its headers and body",
       "Example: hookrx inbox show 42   |   hookrx inbox show parashift:processing-finished:107786:2026-..."},
      {"replay", "queue a dead-lettered entry again, due now, attempts reset",
       "Example: hookrx inbox replay 42   (serve's workers pick it up at once)"},
      {"dead", "the dead letters (list --state dead)", "Example: hookrx inbox dead --json"},
  };
  for (const spec& s : subs) {
    CLI::App* sub = inbox->add_subcommand(s.name, s.help);
    sub->footer(std::string(s.example) + "\nStore: --store, HOOKRX_STORE or the --config file's store key.");
    auto args = std::make_shared<inbox_args>();
    auto loader = std::make_shared<config_loader>();
    const std::string name = s.name;
    if (name == "show" || name == "replay") {
      sub->add_option("key_or_id", args->key_or_id, "the entry's id or its idempotency key")->required();
    }
    if (name == "list") {
      sub->add_option("--state", args->state, "only entries in this state: queued, leased, done or dead");
    }
    if (name == "list" || name == "dead") {
      sub->add_option("--limit", args->limit, "at most this many entries (default 100)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
      sub->add_option("--after", args->after, "only ids after this one (the next page)");
    }
    sub->add_flag("--json", args->json, "machine-readable output");
    loader->add_flags(*sub, {"store"});
    commands.push_back({sub, inbox_command(name, loader, args)});
  }
}

}  // namespace hookrx::cli
