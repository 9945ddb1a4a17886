#include "toolbox_store.hpp"

#include <sys/stat.h>

#include <chrono>

#include "hookrx/sqlite_store.hpp"
#ifdef HOOKRX_CLI_HAVE_POSTGRES
#include "hookrx/postgres_store.hpp"
#endif

namespace hookrx::cli {

std::string store_origin(const options& opts) {
  auto it = opts.origin.find("store");
  return it == opts.origin.end() ? std::string("--store (default sqlite:./hookrx.db)") : it->second;
}

result<opened_store> open_existing_store(const options& opts) {
  const std::string where = store_origin(opts);
  switch (opts.store.type) {
    case store_url::kind::memory:
      return error(errc::invalid_config,
                   where +
                       ": memory: lives inside one serve process; give the sqlite: file or postgresql:// "
                       "URL serve uses");
    case store_url::kind::sqlite: {
      struct stat st {};
      if (stat(opts.store.location.c_str(), &st) != 0) {
        return error(errc::invalid_config,
                     where + ": no SQLite store at " + opts.store.location + " (serve creates it; give its --store)");
      }
      sqlite_options so;
      so.path = opts.store.location;
      result<std::shared_ptr<sqlite_store>> s = sqlite_store::open(so);
      if (!s) return s.error();
      return opened_store{*s, *s};
    }
    case store_url::kind::postgres: {
#ifdef HOOKRX_CLI_HAVE_POSTGRES
      postgres_options po;
      po.conninfo = opts.store.location;
      po.pool_size = 1;
      po.timeout = std::chrono::milliseconds(5000);
      result<std::shared_ptr<postgres_store>> s = postgres_store::open(po);
      if (!s) return s.error();
      return opened_store{*s, *s};
#else
      return error(errc::invalid_config, where + ": this hookrx was built without PostgreSQL support");
#endif
    }
  }
  return error(errc::invalid_config, where + ": unknown store kind");
}

}  // namespace hookrx::cli
