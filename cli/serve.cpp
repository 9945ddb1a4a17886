// `hookrx serve`: the webhook endpoint.
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "config.hpp"

namespace hookrx::cli {

void add_serve(CLI::App& app, std::vector<command>& commands) {
  CLI::App* sub =
      app.add_subcommand("serve", "receive webhooks: verify, dedup, store, then hand each event to the sinks");
  auto loader = std::make_shared<config_loader>();
  loader->add_flags(*sub);
  commands.push_back({sub, [loader]() -> int {
                        result<options> opts = loader->load();
                        if (!opts) {
                          std::cerr << "hookrx serve: " << opts.error().detail() << '\n';
                          return exit_config;
                        }
                        if (status st = validate_for_serve(*opts); !st) {
                          std::cerr << "hookrx serve: " << st.error().detail() << '\n';
                          return exit_config;
                        }
                        std::cerr << "hookrx serve: not wired yet\n";
                        return 1;
                      }});
}

}  // namespace hookrx::cli
