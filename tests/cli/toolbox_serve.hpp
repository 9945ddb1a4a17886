// tests/cli/toolbox_serve.hpp: a `hookrx serve` of the built binary on a loopback port, a SQLite
// store and a --jsonl sink in a scratch directory, for tests that drive the toolbox against it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "toolbox_process.hpp"

namespace hookrx_test {

struct serve_fixture {
  std::string dir;
  int port = 0;
  env_list env;  ///< the credentials serve verifies with; pass them to send too
  std::unique_ptr<background> process;

  /// Starts serve with `extra` flags (e.g. {"--exec", "..."}); returns once it accepts connections.
  /// Throws std::runtime_error when it exits or does not listen within 30 s.
  explicit serve_fixture(const std::vector<std::string>& extra = {}, const std::string& tag = "serve");
  ~serve_fixture();
  serve_fixture(const serve_fixture&) = delete;
  serve_fixture& operator=(const serve_fixture&) = delete;

  [[nodiscard]] std::string url(const std::string& path) const;
  [[nodiscard]] std::string store() const { return "sqlite:" + dir + "/hookrx.db"; }
  [[nodiscard]] std::string jsonl_path() const { return dir + "/events.jsonl"; }
  /// The sink's lines so far.
  [[nodiscard]] std::vector<std::string> jsonl_lines() const;
};

/// Calls `done` until it returns true or `limit` passes (a readiness poll, not a timing rule).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(30));

}  // namespace hookrx_test
