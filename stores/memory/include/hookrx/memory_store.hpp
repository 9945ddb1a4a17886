// hookrx/memory_store.hpp: the in-memory store (target hookrx::memory): dedup and an inbox in the
// process's memory, for tests and for receivers that can afford to lose their queue on restart.
//
// Nothing survives the process: offer() answers `queued` once the entry is in memory, which is not
// durable. Use it where the sender's retries are the durability (synchronous dedup), in tests, and
// on a single instance that may drop queued work when it stops; use SQLite or PostgreSQL otherwise.
//
// Bounded: `capacity` counts every key held (inbox entries queued, leased, done or dead, and dedup
// keys claimed or done). When a new key would exceed it, done keys past their retention are
// forgotten first; then the done keys closest to the end of their retention are evicted (with one
// retention for all, the oldest). A done key only protects against duplicates, so eviction weakens
// that protection: an evicted key redelivered by the sender is processed again. When every key held
// is still queued, leased, claimed or dead, offer() and try_claim() of a new key fail with
// errc::store_unavailable (the receiver answers 503 and the sender retries): nothing is dropped.
// The poller's state (poll_store: watch list, watermarks, leader lease) is a few entries per
// watched extraction and is not counted in `capacity`.
//
// Dedup keys are held as a 128-bit digest (the first half of SHA-256), not as strings, so a done key
// costs 75-100 bytes whatever its length (depending on how full the tables are at that count). Two
// keys held at once share a digest with probability about n^2 / 2^129 for n keys (1e-27 at a
// million), and only then would one be taken for the other.
//
//   auto clock = std::make_shared<hookrx::manual_clock>();
//   auto store = hookrx::memory_store::create({}, clock);
//   auto c = store->try_claim("pp:ext_1:doc_1", std::chrono::seconds(30));   // claimed, token != 0
//   (void)store->complete("pp:ext_1:doc_1", c->token, hookrx::default_retention);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "hookrx/clock.hpp"
#include "hookrx/store.hpp"

namespace hookrx {

struct memory_store_options {
  /// Keys held at most: queued + leased + done + dead inbox entries, plus claimed and done dedup keys.
  std::size_t capacity = 1'000'000;
};

/// Both store roles in memory; thread-safe. Dedup keys are sharded by hash (16 locks); the inbox has
/// one lock, held for a few constant-time steps per offer (the entry is built before it). The two
/// roles keep separate key spaces.
class memory_store final : public dedup_store, public inbox_store, public poll_store {
 public:
  [[nodiscard]] static std::shared_ptr<memory_store> create(memory_store_options options = {},
                                                            std::shared_ptr<const clock> time = system_clock());
  ~memory_store() override;
  memory_store(const memory_store&) = delete;
  memory_store& operator=(const memory_store&) = delete;

  [[nodiscard]] result<claim> try_claim(std::string_view key, std::chrono::milliseconds lease) override;
  [[nodiscard]] status complete(std::string_view key, std::uint64_t token,
                                std::chrono::milliseconds retention) override;
  [[nodiscard]] status release(std::string_view key, std::uint64_t token) override;

  [[nodiscard]] result<offer_state> offer(inbox_record rec) override;
  [[nodiscard]] result<leased_offer> offer_leased(inbox_record rec, std::chrono::milliseconds lease) override;
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

  /// Forgets the done keys of both roles whose retention has ended; returns how many.
  [[nodiscard]] result<std::size_t> purge_expired() override;

  /// Keys held now (what `capacity` bounds), both roles together.
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] std::size_t capacity() const noexcept;

  struct impl;

 private:
  explicit memory_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace hookrx
