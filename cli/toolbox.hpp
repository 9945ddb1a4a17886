// cli/toolbox.hpp: the operator's subcommands of `hookrx` beside `serve`, each in its own file.
//
//   hookrx send URL --event NAME     a signed, realistic delivery to any receiver (cmd_send.cpp)
//   hookrx sign < body               the X-PerfectParser-Signature of stdin (cmd_sign.cpp)
//   hookrx inbox list|show|replay|dead   what the store holds, and dead letters re-queued (cmd_inbox.cpp)
//   hookrx check                     the API keys work, and their credits (cmd_check.cpp)
//   hookrx submit / watch            idempotent submission onto the poller's watch list (cmd_submit.cpp)
//
// They share serve's configuration (flags, environment, *_FILE secrets, --config) and its exit
// codes: 0 success, 1 the operation failed, 2 usage or configuration error (exit_config).
//
//   std::vector<hookrx::cli::command> commands;
//   hookrx::cli::add_toolbox(app, commands);
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"

namespace hookrx::cli {

/// Exit code of an operation that failed (non-2xx answer, unreachable server, store error).
inline constexpr int exit_failure = 1;

void add_send(CLI::App& app, std::vector<command>& commands);
void add_sign(CLI::App& app, std::vector<command>& commands);
void add_inbox(CLI::App& app, std::vector<command>& commands);
void add_check(CLI::App& app, std::vector<command>& commands);
void add_submit(CLI::App& app, std::vector<command>& commands);
void add_watch(CLI::App& app, std::vector<command>& commands);

/// Every toolbox subcommand, in the order `hookrx --help` lists them.
void add_toolbox(CLI::App& app, std::vector<command>& commands);

/// For config_loader::add_flags(): no setting has this key, so only `--config FILE` is added.
inline const std::vector<std::string_view> config_file_only = {"config"};

/// All of `in` (binary-safe), e.g. std::cin for `sign`.
[[nodiscard]] std::string read_all(std::istream& in);

}  // namespace hookrx::cli
