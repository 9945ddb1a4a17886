// The hookrx binary: subcommand dispatch. Each command lives in its own file (see commands.hpp).
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "config.hpp"
#include "toolbox.hpp"

int main(int argc, char** argv) {
  try {
    CLI::App app{"hookrx: verify, deduplicate, store and hand on webhook deliveries (PerfectParser, Parashift)"};
    app.set_version_flag("--version", "hookrx " + std::string(hookrx::cli::version()));
    app.require_subcommand(1);
    std::vector<hookrx::cli::command> commands;
    hookrx::cli::add_serve(app, commands);
    hookrx::cli::add_toolbox(app, commands);
    if (std::optional<std::string> why = hookrx::cli::secret_flag_used(argc, argv)) {
      std::cerr << "hookrx: " << *why << '\n';
      return hookrx::cli::exit_config;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e);
      return code == 0 ? 0 : hookrx::cli::exit_config;
    }
    for (const hookrx::cli::command& c : commands) {
      if (c.sub->parsed()) return c.run();
    }
    return hookrx::cli::exit_config;
  } catch (const std::exception& e) {
    // Nothing a user gives should get here; a failure to allocate or start a thread might.
    std::cerr << "hookrx: " << e.what() << '\n';
    return 1;
  }
}
