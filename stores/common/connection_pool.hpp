// Private to the networked store backends (PostgreSQL, Redis): a fixed set of server connections
// shared by any number of threads, each connection leased to one thread at a time.
//
//   detail::connection_pool<connection, settings> pool(settings, 8, "postgres: ");
//   auto conn = pool.acquire(deadline);  // a free connection, reconnected first if it broke
//   if (!conn) return conn.error();      // store_unavailable: none free in time, or server down
//   conn->exec(...);                     // back to the pool when the lease ends
//
// `Connection` is constructed from `const Settings&` (which the pool owns and outlives it) and has
// `bool healthy() const` and `status connect(deadline)`; `Settings` has a `timeout`. After a connect
// fails with time to spare (refused, authentication, ...), leases fail at once with the same error
// for a short pause (at most the timeout) instead of every caller dialing a server that is down;
// the first successful connect ends the pause.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hookrx/error.hpp"

namespace hookrx::detail {

template <class Connection, class Settings>
class connection_pool {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds reconnect_pause{250};

  /// `prefix` starts every error the pool itself makes ("postgres: ").
  connection_pool(Settings s, std::size_t size, std::string_view prefix) : settings_(std::move(s)), prefix_(prefix) {
    free_.reserve(size);
    for (std::size_t i = 0; i < size; ++i) free_.push_back(std::make_unique<Connection>(settings_));
  }
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;
  ~connection_pool() = default;

  class lease {
   public:
    lease(connection_pool* owner, std::unique_ptr<Connection> c) noexcept : owner_(owner), conn_(std::move(c)) {}
    lease(lease&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)), conn_(std::move(other.conn_)) {}
    lease& operator=(lease&&) = delete;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() {
      if (owner_ != nullptr && conn_) owner_->give_back(std::move(conn_));
    }
    Connection* operator->() const noexcept { return conn_.get(); }

   private:
    connection_pool* owner_;
    std::unique_ptr<Connection> conn_;
  };

  /// A healthy connection, or errc::store_unavailable by `until`.
  [[nodiscard]] result<lease> acquire(clock::time_point until) {
    std::unique_ptr<Connection> c;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_until(lock, until, [this] { return !free_.empty(); })) {
        return error(errc::store_unavailable, std::string(prefix_) + "no connection free within " +
                                                  std::to_string(settings_.timeout.count()) + " ms");
      }
      c = std::move(free_.back());
      free_.pop_back();
    }
    lease l(this, std::move(c));
    if (l->healthy()) return result<lease>(std::in_place, std::move(l));
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (clock::now() < quiet_until_) return error(errc::store_unavailable, last_failure_);
    }
    if (status s = l->connect(until); !s) {
      const std::lock_guard<std::mutex> lock(mu_);
      // A connect cut short by this caller's own deadline says nothing about the server.
      if (clock::now() < until) {
        quiet_until_ = clock::now() + std::min<clock::duration>(reconnect_pause, settings_.timeout);
        last_failure_ = s.error().detail();
      }
      return s.error();
    }
    {
      const std::lock_guard<std::mutex> lock(mu_);
      quiet_until_ = {};  // the server is back: the other connections may reconnect at once
    }
    return result<lease>(std::in_place, std::move(l));
  }

  [[nodiscard]] const Settings& config() const noexcept { return settings_; }

 private:
  void give_back(std::unique_ptr<Connection> c) {
    const bool warm = c->healthy();
    {
      const std::lock_guard<std::mutex> lock(mu_);
      // acquire() takes from the back: connections that work are reused first.
      if (warm) {
        free_.push_back(std::move(c));
      } else {
        free_.insert(free_.begin(), std::move(c));
      }
    }
    cv_.notify_one();
  }

  const Settings settings_;  // connections keep a reference: declared first, destroyed last
  const std::string_view prefix_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_;  // healthy ones at the back
  clock::time_point quiet_until_{};                // no connect attempts before this
  std::string last_failure_;
};

}  // namespace hookrx::detail
