// cli/commands.hpp: how a subcommand plugs into the hookrx binary.
//
// Each command adds its CLI11 subcommand (with the shared configuration flags, see config.hpp) and
// says what to run when it was chosen. main.cpp only dispatches:
//
//   std::vector<hookrx::cli::command> commands;
//   hookrx::cli::add_serve(app, commands);     // one add_<name>() per command
//   ... parse ...; for (auto& c : commands) if (c.sub->parsed()) return c.run();
#pragma once

#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace hookrx::cli {

struct command {
  CLI::App* sub = nullptr;
  std::function<int()> run;  ///< the process's exit code
};

/// `hookrx serve`: the webhook endpoint (serve.cpp).
void add_serve(CLI::App& app, std::vector<command>& commands);

}  // namespace hookrx::cli
