// tests/cli/toolbox_process.hpp: run the built `hookrx` binary (and other programs) as a user
// would, with a chosen environment and stdin, and capture what it prints and its exit code.
//
//   auto r = hookrx_test::run({HOOKRX_BINARY, "sign"}, {{"HOOKRX_PP_SIGNING_SECRETS", "s"}}, "body");
//   CHECK(r.exit_code == 0);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hookrx_test {

using env_list = std::vector<std::pair<std::string, std::string>>;

struct run_result {
  int exit_code = -1;  ///< the exit status, or 128 + signal
  std::string out;
  std::string err;
};

/// Runs `argv` to completion with the parent's environment minus every HOOKRX_* variable, plus
/// `env`; writes `input` to its stdin. Throws std::runtime_error when it cannot be started or
/// runs longer than `limit` (it is then killed).
[[nodiscard]] run_result run(const std::vector<std::string>& argv, const env_list& env = {},
                             std::string_view input = {}, std::chrono::milliseconds limit = std::chrono::seconds(60));

/// A program left running (e.g. `hookrx serve`): stdout and stderr go to `log_path`.
class background {
 public:
  background(const std::vector<std::string>& argv, const env_list& env, std::string log_path);
  ~background();
  background(const background&) = delete;
  background& operator=(const background&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// True while the process has not exited.
  [[nodiscard]] bool running();
  /// Sends SIGTERM and waits up to `limit` (then SIGKILL); returns the exit code as run() does.
  int stop(std::chrono::milliseconds limit = std::chrono::seconds(30));
  /// What it printed so far.
  [[nodiscard]] std::string log() const;

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

/// A free TCP port on 127.0.0.1 (bound, then released: the caller binds it next).
[[nodiscard]] int free_port();

/// A fresh empty directory under the system's temporary directory; removed by remove_tree().
[[nodiscard]] std::string make_temp_dir(std::string_view tag);
void remove_tree(const std::string& path);

/// Writes `content` to `path` (mode 0600).
void write_file(const std::string& path, std::string_view content);

}  // namespace hookrx_test
