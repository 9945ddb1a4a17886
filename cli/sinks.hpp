// cli/sinks.hpp: where handled events go. One small interface, three implementations.
//
// Every sink sits behind the durable inbox: a sink that fails (returns an error) makes the inbox
// retry the event with backoff and, after the last attempt, dead-letter it. With several sinks an
// event counts as handled only when all of them succeeded; a retry runs all of them again, so
// each sink sees an event at least once (use the key to make side effects idempotent).
//
//   auto jsonl = hookrx::cli::make_jsonl_sink("/var/lib/hookrx/events.jsonl");
//   hookrx::status st = (*jsonl)->deliver({ev, 1, "webhook", envelope_json(ev, 1, "webhook")});
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hookrx/error.hpp"
#include "hookrx/events.hpp"

namespace hookrx::cli {

/// One event as sinks see it: the parsed event, its attempt, where it came from, and the JSON
/// every sink sends or writes (see envelope_json()).
struct sink_event {
  const event& ev;
  int attempt = 1;
  std::string_view origin;    ///< "webhook" or "poll"
  std::string_view envelope;  ///< one line of JSON, no trailing newline
};

/// {"key":…,"provider":…,"event":…,"origin":…,"attempt":N,"test":false,"payload":{…the body…}}
/// With `document` (raw JSON fetched by --enrich) it also has "document":{...}.
[[nodiscard]] std::string envelope_json(const event& ev, int attempt, std::string_view origin,
                                        std::string_view document = {});

class sink {
 public:
  virtual ~sink() = default;
  /// "exec", "forward" or "jsonl": the metrics label.
  [[nodiscard]] virtual std::string_view kind() const noexcept = 0;
  /// Hands the event on; an error means "try again later". Called from several workers at once.
  [[nodiscard]] virtual status deliver(const sink_event& e) = 0;
  /// Hands a worker's batch on: `outcomes` arrives with one success per event, and the sink sets
  /// an error on each event that failed. The default calls deliver() for each; the JSONL sink
  /// writes the whole batch with one write and one fsync.
  virtual void deliver_all(const std::vector<sink_event>& events, std::vector<status>& outcomes);
  /// Shutdown past its grace period: cut work in progress short (its events are retried later).
  virtual void cancel() {}
};

/// Runs `command` with /bin/sh -c per event: the envelope on stdin; HOOKRX_EVENT, HOOKRX_KEY,
/// HOOKRX_ATTEMPT, HOOKRX_ORIGIN and HOOKRX_PROVIDER in its environment (hookrx's own HOOKRX_*
/// variables, secrets among them, are not passed on). Exit 0 is success; another status, a
/// signal or running past `timeout` (the command's process group is then killed) is a failure.
/// At most `concurrency` commands run at once. Commands run in their own process group, so a
/// terminal's Ctrl-C or a SIGTERM to hookrx does not reach them: shutdown lets them finish.
[[nodiscard]] result<std::unique_ptr<sink>> make_exec_sink(std::string command, std::chrono::milliseconds timeout,
                                                           int concurrency);

/// POSTs the envelope to `url` (http://host[:port]/path) with Idempotency-Key (the event's key),
/// X-Hookrx-Event and X-Hookrx-Attempt. A 2xx is success; anything else or `timeout` a failure.
[[nodiscard]] result<std::unique_ptr<sink>> make_forward_sink(const std::string& url,
                                                              std::chrono::milliseconds timeout);

/// Appends the envelope and a newline to `path` (created mode 600 when missing). An event counts
/// once its line is fsynced. A batch's lines go in one write and one fsync, and concurrent
/// batches share theirs too (group commit): whoever arrives while a flush is running waits for
/// the next one, which carries all of them.
[[nodiscard]] result<std::unique_ptr<sink>> make_jsonl_sink(const std::string& path);

}  // namespace hookrx::cli
