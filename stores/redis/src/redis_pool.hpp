// A small pool of blocking hiredis connections with a time budget per call (private to
// hookrx::redis).
//
// Each call gets a deadline; waiting for a free connection, (re)connecting with AUTH and SELECT,
// and the command itself all count against it. A connection that fails in any way is closed and
// reconnected by the next call that borrows it; after a failed connect the pool answers at once
// for a short while with the same error, so that callers do not pile up on a host that is down.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connection_pool.hpp"
#include "hookrx/error.hpp"

namespace hookrx::detail::redis {

using steady = std::chrono::steady_clock;
using deadline = steady::time_point;

struct reply_deleter {
  void operator()(redisReply* r) const noexcept;
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

struct context_deleter {
  void operator()(redisContext* c) const noexcept;
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;

struct settings {
  std::string host;
  int port = 6379;
  std::string password;  // never put into an error: see error_from()
  int database = 0;
  std::chrono::milliseconds timeout{1000};
};

/// An error whose detail has had the password blanked out, in case a server ever echoes it.
[[nodiscard]] hookrx::error error_from(const settings& s, std::string detail);

/// The text of an error reply, for messages; "" for other replies.
[[nodiscard]] std::string_view error_text(const redisReply& r) noexcept;

class connection {
 public:
  explicit connection(const settings& s) : settings_(&s) {}

  /// Connected, and the server has not said anything since (no EOF, no stray data).
  [[nodiscard]] bool healthy() noexcept;
  /// Connects, authenticates and selects the database; closes on any failure.
  [[nodiscard]] status connect(deadline until);
  /// Sends one command and reads its reply. A transport failure closes the connection and is
  /// errc::store_unavailable; an error reply from the server is returned as a reply.
  [[nodiscard]] result<reply_ptr> command(const char* const* argv, const std::size_t* lens, int argc, deadline until);
  void close() noexcept { ctx_.reset(); }

 private:
  hookrx::error transport_error(std::string_view what);

  const settings* settings_;
  context_ptr ctx_;
};

/// The backend's connections (stores/common/connection_pool.hpp).
using pool = connection_pool<connection, settings>;

}  // namespace hookrx::detail::redis
