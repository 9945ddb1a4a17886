// hookrx/sqlite_store.hpp: the embedded default store (target hookrx::sqlite): dedup and the
// durable inbox in one SQLite file.
//
// Durable on commit: WAL mode with synchronous=FULL by default, so nothing acknowledged is lost even
// on power failure. Group commit: every write goes to one writer thread, which runs whatever has
// queued up in one transaction and one fsync, then answers each caller; a caller still returns only
// once its own write is committed ("stored before 2xx" holds), but concurrent deliveries share the
// fsync. Several processes may open the same file (SQLite's lock serialises their writers).
//
//   auto store = hookrx::sqlite_store::open({"/var/lib/hookrx/hookrx.db"});
//   if (!store) return fail(store.error());        // errc::store_unavailable with the reason
//   auto box = hookrx::inbox::create(*store, rx->handlers());
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "hookrx/clock.hpp"
#include "hookrx/store.hpp"

namespace hookrx {

struct sqlite_options {
  std::string path = "hookrx.db";
  /// FULL (default): every commit is fsynced. NORMAL trades the last commits before a power
  /// failure (not a process crash) for fewer fsyncs; acknowledged deliveries could then be lost.
  bool synchronous_full = true;
  /// How long a write may wait for another process holding the database lock.
  std::chrono::milliseconds busy_timeout{5000};
  /// Writes committed together at most (the queue is drained in batches of this size).
  std::size_t max_batch = 512;
  /// WAL size, in pages, at which the WAL file is written from its beginning again (SQLite's own
  /// default threshold). A background thread copies the WAL into the database every few hundred
  /// new pages; if it cannot keep up, writes wait for a checkpoint at 4x this size, so the WAL stays
  /// bounded under any load (unless another connection holds a read transaction open for long).
  int checkpoint_pages = 1000;
};

class sqlite_store final : public dedup_store, public inbox_store, public poll_store {
 public:
  /// Opens (creating if needed) the database and its tables. errc::store_unavailable when the file
  /// cannot be opened or written.
  [[nodiscard]] static result<std::shared_ptr<sqlite_store>> open(sqlite_options options = {},
                                                                  std::shared_ptr<const clock> time = system_clock());
  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  [[nodiscard]] result<claim> try_claim(std::string_view key, std::chrono::milliseconds lease) override;
  [[nodiscard]] status complete(std::string_view key, std::uint64_t token,
                                std::chrono::milliseconds retention) override;
  [[nodiscard]] status release(std::string_view key, std::uint64_t token) override;
  /// The asynchronous ones queue for the writer's next commit and return; `done` runs on the
  /// writer thread.
  void try_claim_async(std::string key, std::chrono::milliseconds lease,
                       std::function<void(result<claim>)> done) override;
  void complete_async(std::string key, std::uint64_t token, std::chrono::milliseconds retention,
                      std::function<void(status)> done) override;
  void release_async(std::string key, std::uint64_t token, std::function<void(status)> done) override;

  [[nodiscard]] result<offer_state> offer(inbox_record rec) override;
  [[nodiscard]] result<leased_offer> offer_leased(inbox_record rec, std::chrono::milliseconds lease) override;
  /// Queues the offer for the writer's next commit and returns; `done` runs on the writer thread.
  void offer_async(inbox_record rec, std::optional<std::chrono::milliseconds> lease,
                   std::function<void(result<leased_offer>)> done) override;
  void wait_async() override;
  [[nodiscard]] result<std::vector<inbox_entry>> lease(std::size_t max, std::chrono::milliseconds lease) override;
  [[nodiscard]] status ack(std::int64_t id, std::uint64_t token, std::chrono::milliseconds retention) override;
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
  void watch_async(watch_entry e, std::function<void(result<bool>)> done) override;
  [[nodiscard]] status note_document(provider source, std::string_view id, time_point due_if_new) override;
  /// Queues the note for the writer's next commit and returns; `done` runs on the writer thread.
  void note_document_async(provider source, std::string id, time_point due_if_new,
                           std::function<void(status)> done) override;
  [[nodiscard]] result<std::vector<watch_entry>> due(std::size_t max) override;
  [[nodiscard]] status reschedule(provider source, std::string_view id, time_point next) override;
  [[nodiscard]] status unwatch(provider source, std::string_view id) override;
  void unwatch_async(provider source, std::string id, std::function<void(status)> done) override;
  [[nodiscard]] result<std::optional<watch_entry>> watched(provider source, std::string_view id) override;
  [[nodiscard]] result<std::optional<time_point>> watermark(std::string_view name) override;
  [[nodiscard]] status set_watermark(std::string_view name, time_point at) override;
  [[nodiscard]] result<bool> try_lead(std::string_view name, std::string_view holder,
                                      std::chrono::milliseconds lease) override;
  [[nodiscard]] status resign(std::string_view name, std::string_view holder) override;

  [[nodiscard]] result<std::size_t> purge_expired() override;

  /// Commits so far, and writes they carried: their ratio is the group-commit batching.
  struct commit_stats {
    std::uint64_t commits = 0;
    std::uint64_t writes = 0;
    /// Times the WAL was written from its beginning again after a checkpoint.
    std::uint64_t wal_restarts = 0;
  };
  [[nodiscard]] commit_stats stats() const;

  struct impl;

 private:
  explicit sqlite_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace hookrx
