// The toolbox's registration: one line per subcommand, in the order `hookrx --help` lists them.
#include "toolbox.hpp"

namespace hookrx::cli {

void add_toolbox(CLI::App& app, std::vector<command>& commands) {
  add_send(app, commands);
  add_sign(app, commands);
  add_inbox(app, commands);
  add_check(app, commands);
  add_submit(app, commands);
  add_watch(app, commands);
}

}  // namespace hookrx::cli
