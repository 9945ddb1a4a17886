// hookrx/redis_store.hpp: a dedup store on Redis (target hookrx::redis), for receivers that keep
// their own queue and want several instances to agree on which deliveries were handled.
//
// Redis is dedup-only in hookrx: there is no Redis inbox. Each key lives at <key_prefix><key> as a
// small string holding its state (claimed or done), the claim's token and its expiry in
// milliseconds of the injected clock. Every call runs one Lua script (EVALSHA, EVAL when the
// server has forgotten it), so a claim is atomic across threads, processes and hosts, and expiry
// is decided against the `now` this process passes in, never against the server's clock: a test
// moves a manual_clock instead of sleeping, and instances agree as long as their clocks do.
// Each key also gets a real Redis TTL (its logical expiry plus an hour) so that Redis drops old
// keys by itself; the logical expiry alone decides the answers.
//
//   hookrx::redis_options opt;
//   opt.host = "127.0.0.1";
//   opt.password = read_secret_file();           // never logged, never in an error message
//   auto store = hookrx::redis_store::open(opt);
//   if (!store) return fail(store.error());       // errc::store_unavailable: "redis: connection refused"
//   auto claim = (*store)->try_claim(ev.key(), std::chrono::seconds(30));
//
// Calls borrow one of `pool_size` connections. No call takes much longer than `timeout` (waiting
// for a free connection, reconnecting and the command together). A failed command drops its
// connection; the next call reconnects, so the store recovers by itself when the server is back.
// While the server is down every call returns errc::store_unavailable within `timeout` (at once
// for a quarter of a second after a failed connect, so callers do not queue up on a dead host).
// A command whose answer is lost (the server dies after running it) is reported as
// store_unavailable too; a claim made that way holds its key until its lease runs out.
//
// What the guarantees need from the server. A done key that Redis loses (a restart without
// persistence, a failover to a replica that had not received it, an eviction) lets a replayed
// delivery run its handlers a second time. So:
//   - persistence: `appendonly yes` with `appendfsync always` loses nothing that was reported
//     done; with `appendfsync everysec` (the usual AOF setting) a crash of the host or a power
//     loss can lose the keys completed in the last second or so (up to two when the disk is
//     slow). RDB snapshots alone (`save`) lose everything since the last snapshot on a crash.
//   - memory: hookrx keys must never be evicted: `maxmemory-policy noeviction` (writes then fail
//     with store_unavailable when memory is full, and nothing is reported done that was not), or
//     a dedicated instance. Every hookrx key carries a TTL, so the `volatile-*` policies evict
//     them as readily as the `allkeys-*` ones. Budget about 200 bytes plus the key's length per key held (measured
//     on Redis 7: 100,000 done keys of ~20 bytes took 19.5 MB).
//   - replication: a failover may lose the last writes a replica had not received; WAIT is not
//     used. Point the store at the primary.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "hookrx/clock.hpp"
#include "hookrx/error.hpp"
#include "hookrx/store.hpp"

namespace hookrx {

struct redis_options {
  /// A host name or address of the Redis server (TCP).
  std::string host = "127.0.0.1";
  int port = 6379;
  /// Sent with AUTH on every connect when not empty. Never logged or put in an error message.
  std::string password;
  /// The logical database, selected on every connect when not 0.
  int database = 0;
  /// Connections kept open; each serves one call at a time.
  std::size_t pool_size = 8;
  /// The most one call may take: waiting for a free connection, connecting, and the command.
  std::chrono::milliseconds timeout{1000};
  /// Prepended to every key, so that several stores (or applications) can share a database.
  std::string key_prefix = "hookrx:";
};

class redis_store final : public dedup_store {
 public:
  /// Connects once (AUTH, SELECT, loading the scripts) to check the options. errc::invalid_config
  /// for options that cannot work (empty host, port outside 1..65535, negative database,
  /// pool_size 0, timeout not positive, no clock); errc::store_unavailable when the server cannot
  /// be reached, refuses the password or the database.
  [[nodiscard]] static result<std::shared_ptr<redis_store>> open(redis_options options,
                                                                 std::shared_ptr<const clock> time = system_clock());
  ~redis_store() override;
  redis_store(const redis_store&) = delete;
  redis_store& operator=(const redis_store&) = delete;

  [[nodiscard]] result<claim> try_claim(std::string_view key, std::chrono::milliseconds lease) override;
  /// As dedup_store::complete(); also errc::in_progress when Redis has already dropped the key
  /// (an hour after its lease ran out).
  [[nodiscard]] status complete(std::string_view key, std::uint64_t token,
                                std::chrono::milliseconds retention) override;
  [[nodiscard]] status release(std::string_view key, std::uint64_t token) override;

  struct impl;

 private:
  explicit redis_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace hookrx
