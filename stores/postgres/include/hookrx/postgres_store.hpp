// hookrx/postgres_store.hpp: the PostgreSQL store (target hookrx::postgres), for several receiver
// instances sharing one dedup table and one inbox.
//
// Every instance opens the same database (and schema and table prefix); open() creates the tables
// when they are missing (and adds columns added since to tables of an older version), safely when
// several instances start at once. A key is claimed by
// exactly one caller across all processes (one INSERT ... ON CONFLICT statement), and leasing uses
// FOR UPDATE SKIP LOCKED, so workers in different processes never lease the same entry. Time comes
// from the injected clock and is stored as milliseconds since the epoch: instances agree on leases
// and retention as long as their clocks do.
//
// Calls borrow one of `pool_size` connections. No call takes longer than `timeout` (waiting for a
// free connection, reconnecting and the statement together); while the server is down every call
// fails fast with errc::store_unavailable, and the store reconnects by itself once it is back.
// (One wait libpq cannot bound: resolving a host name. Give `hostaddr` or an IP address where a
// slow DNS must not stall callers.) offer() returns once the INSERT is committed, as durable as the
// server's synchronous_commit makes it (on, the default: flushed to disk).
//
//   hookrx::postgres_options opt;
//   opt.conninfo = "host=db.internal dbname=webhooks user=hookrx";   // password: use PGPASSFILE
//   auto store = hookrx::postgres_store::open(opt);
//   if (!store) return fail(store.error());     // errc::store_unavailable: "postgres: connection refused"
//   auto box = hookrx::inbox::create(*store, rx->handlers());
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hookrx/clock.hpp"
#include "hookrx/error.hpp"
#include "hookrx/store.hpp"

namespace hookrx {

struct postgres_options {
  /// A libpq connection string ("host=... dbname=..." or "postgresql://..."). Never logged or put
  /// in an error message: it may hold a password.
  std::string conninfo;
  /// Connections kept open; each serves one call at a time.
  std::size_t pool_size = 8;
  /// The most one call may take: waiting for a connection, connecting, and the statement. The
  /// server's statement_timeout is set to it as well.
  std::chrono::milliseconds timeout{2000};
  /// An existing schema, or one open() may create. Letters, digits and '_' only.
  std::string schema = "public";
  /// Tables are <prefix>dedup, <prefix>inbox, and the poller's <prefix>watch, <prefix>watermark and
  /// <prefix>leader. Letters, digits and '_' only.
  std::string table_prefix = "hookrx_";
};

class postgres_store final : public dedup_store, public inbox_store, public poll_store {
 public:
  /// Connects and creates the tables when missing. errc::invalid_config for options that cannot
  /// work (empty or malformed conninfo, pool_size 0, a schema or prefix that is not a plain
  /// identifier); errc::store_unavailable when the server cannot be reached or the tables cannot
  /// be created.
  [[nodiscard]] static result<std::shared_ptr<postgres_store>> open(postgres_options options,
                                                                    std::shared_ptr<const clock> time = system_clock());
  ~postgres_store() override;
  postgres_store(const postgres_store&) = delete;
  postgres_store& operator=(const postgres_store&) = delete;

  [[nodiscard]] result<claim> try_claim(std::string_view key, std::chrono::milliseconds lease) override;
  [[nodiscard]] status complete(std::string_view key, std::uint64_t token,
                                std::chrono::milliseconds retention) override;
  [[nodiscard]] status release(std::string_view key, std::uint64_t token) override;

  [[nodiscard]] result<offer_state> offer(inbox_record rec) override;
  [[nodiscard]] result<std::vector<inbox_entry>> lease(std::size_t max, std::chrono::milliseconds lease) override;
  [[nodiscard]] status ack(std::int64_t id, std::uint64_t token, std::chrono::milliseconds retention) override;
  /// One UPDATE over the whole list (ids and tokens as two int8[] parameters): one round trip, one
  /// transaction, one commit. (A list of over a million entries goes in chunks of that size.)
  [[nodiscard]] result<std::size_t> ack_all(const std::vector<lease_ref>& leases,
                                            std::chrono::milliseconds retention) override;
  [[nodiscard]] status retry_at(std::int64_t id, std::uint64_t token, time_point when, std::string_view error) override;
  [[nodiscard]] status dead_letter(std::int64_t id, std::uint64_t token, std::string_view error) override;
  [[nodiscard]] status release(std::int64_t id, std::uint64_t token) override;
  [[nodiscard]] result<std::vector<inbox_entry>> list(entry_state state, std::size_t limit,
                                                      std::int64_t after_id = 0) override;
  [[nodiscard]] result<std::optional<inbox_entry>> get(std::int64_t id) override;
  [[nodiscard]] result<std::optional<inbox_entry>> find(std::string_view key) override;
  [[nodiscard]] result<std::int64_t> pending_count() override;
  [[nodiscard]] status replay(std::int64_t id) override;
  [[nodiscard]] result<bool> watch(const watch_entry& e) override;
  [[nodiscard]] status note_document(provider source, std::string_view id, time_point due_if_new) override;
  [[nodiscard]] result<std::vector<watch_entry>> due(std::size_t max) override;
  [[nodiscard]] status reschedule(provider source, std::string_view id, time_point next) override;
  [[nodiscard]] status unwatch(provider source, std::string_view id) override;
  [[nodiscard]] result<std::optional<watch_entry>> watched(provider source, std::string_view id) override;
  [[nodiscard]] result<std::optional<time_point>> watermark(std::string_view name) override;
  [[nodiscard]] status set_watermark(std::string_view name, time_point at) override;
  [[nodiscard]] result<bool> try_lead(std::string_view name, std::string_view holder,
                                      std::chrono::milliseconds lease) override;
  [[nodiscard]] status resign(std::string_view name, std::string_view holder) override;

  /// Deletes done inbox entries and dedup keys (done or abandoned claims) whose time has run out;
  /// returns how many rows went, from both tables.
  [[nodiscard]] result<std::size_t> purge_expired() override;

  struct impl;

 private:
  explicit postgres_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace hookrx
