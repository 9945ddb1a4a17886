// cli/toolbox_store.hpp: the store `serve` writes, opened by the toolbox (inbox, submit, watch)
// beside a running serve: SQLite in WAL mode and PostgreSQL both let a second process read and
// write while serve runs.
//
//   hookrx::result<hookrx::cli::opened_store> s = hookrx::cli::open_existing_store(opts);
//   if (!s) return fail(s.error().detail());   // names --store / HOOKRX_STORE
//   s->inbox->list(hookrx::entry_state::dead, 100);
#pragma once

#include <memory>

#include "config.hpp"
#include "hookrx/error.hpp"
#include "hookrx/store.hpp"

namespace hookrx::cli {

/// One store seen through the two roles the toolbox uses (every backend implements both).
struct opened_store {
  std::shared_ptr<inbox_store> inbox;
  std::shared_ptr<poll_store> watch;
};

/// Opens `opts.store`. errc::invalid_config (detail names the flag or variable) for `memory:`,
/// which lives inside one serve process, and for a SQLite file that does not exist (a typo would
/// otherwise create an empty store and show nothing); errc::store_unavailable when it cannot be
/// reached.
[[nodiscard]] result<opened_store> open_existing_store(const options& opts);

/// Where opts.store came from, as the user spelled it ("--store", "HOOKRX_STORE", a config key).
[[nodiscard]] std::string store_origin(const options& opts);

}  // namespace hookrx::cli
