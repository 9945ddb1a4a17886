#include "redis_pool.hpp"

#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

namespace hookrx::detail::redis {
namespace {

constexpr std::string_view prefix = "redis: ";

timeval to_timeval(std::chrono::milliseconds ms) {
  ms = std::max(ms, std::chrono::milliseconds(1));
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

std::chrono::milliseconds left(deadline until) {
  return std::chrono::ceil<std::chrono::milliseconds>(until - steady::now());
}

// hiredis reports errno texts ("Connection refused") and its own ("Server closed the
// connection"); a read that ran into SO_RCVTIMEO shows up as EAGAIN.
std::string describe(const redisContext& c, std::chrono::milliseconds timeout) {
  std::string text = c.errstr;
  if (text.find("temporarily unavailable") != std::string::npos || text.find("timed out") != std::string::npos ||
      text.find("would block") != std::string::npos) {
    return "timed out after " + std::to_string(timeout.count()) + " ms";
  }
  if (text.empty()) return "connection failed";
  if (text[0] >= 'A' && text[0] <= 'Z' && (text.size() < 2 || text[1] < 'A' || text[1] > 'Z')) {
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  }
  return text;
}

// The leading error code of an error reply ("WRONGPASS", "ERR", "NOAUTH"); the rest of the text
// is not repeated for AUTH, whatever the server puts there.
std::string_view error_code(std::string_view text) {
  const auto end = text.find(' ');
  return text.substr(0, end);
}

}  // namespace

void reply_deleter::operator()(redisReply* r) const noexcept { freeReplyObject(r); }
void context_deleter::operator()(redisContext* c) const noexcept { redisFree(c); }

hookrx::error error_from(const settings& s, std::string detail) {
  if (!s.password.empty()) {
    for (auto at = detail.find(s.password); at != std::string::npos; at = detail.find(s.password, at + 3)) {
      detail.replace(at, s.password.size(), "***");
    }
  }
  return {errc::store_unavailable, std::move(detail)};
}

std::string_view error_text(const redisReply& r) noexcept {
  if (r.type != REDIS_REPLY_ERROR || r.str == nullptr) return {};
  return {r.str, r.len};
}

// --- connection ------------------------------------------------------------------------------

bool connection::healthy() noexcept {
  if (!ctx_ || ctx_->err != 0 || ctx_->fd < 0) return false;
  pollfd p{ctx_->fd, POLLIN, 0};
  // An idle connection has nothing to read; data or EOF here means the server went away.
  if (::poll(&p, 1, 0) == 0) return true;
  close();
  return false;
}

hookrx::error connection::transport_error(std::string_view what) {
  std::string detail(prefix);
  detail += what;
  if (ctx_) {
    if (!what.empty()) detail += ": ";
    detail += describe(*ctx_, settings_->timeout);
  }
  close();
  return error_from(*settings_, std::move(detail));
}

status connection::connect(deadline until) {
  close();
  const auto budget = left(until);
  if (budget.count() <= 0) {
    return error_from(*settings_, std::string(prefix) + "connect timed out after " +
                                      std::to_string(settings_->timeout.count()) + " ms");
  }
  ctx_.reset(redisConnectWithTimeout(settings_->host.c_str(), settings_->port, to_timeval(budget)));
  if (!ctx_) return error_from(*settings_, std::string(prefix) + "cannot connect: out of memory");
  if (ctx_->err != 0) return transport_error("");

  if (!settings_->password.empty()) {
    std::array<const char*, 2> argv{"AUTH", settings_->password.data()};
    std::array<std::size_t, 2> lens{4, settings_->password.size()};
    auto r = command(argv.data(), lens.data(), 2, until);
    if (!r) return r.error();
    if ((*r)->type == REDIS_REPLY_ERROR) {
      const std::string code(error_code(error_text(**r)));
      close();
      return error_from(*settings_, std::string(prefix) + "authentication failed (" + code + ")");
    }
  }
  if (settings_->database != 0) {
    const std::string db = std::to_string(settings_->database);
    std::array<const char*, 2> argv{"SELECT", db.data()};
    std::array<std::size_t, 2> lens{6, db.size()};
    auto r = command(argv.data(), lens.data(), 2, until);
    if (!r) return r.error();
    if ((*r)->type == REDIS_REPLY_ERROR) {
      std::string detail = std::string(prefix) + "cannot select database " + db + ": " + std::string(error_text(**r));
      close();
      return error_from(*settings_, std::move(detail));
    }
  }
  return {};
}

result<reply_ptr> connection::command(const char* const* argv, const std::size_t* lens, int argc, deadline until) {
  if (!ctx_) return error_from(*settings_, std::string(prefix) + "not connected");
  const auto budget = left(until);
  if (budget.count() <= 0) {
    close();
    return error_from(*settings_,
                      std::string(prefix) + "timed out after " + std::to_string(settings_->timeout.count()) + " ms");
  }
  // Send and receive timeouts bound every socket operation of this command by what is left.
  if (redisSetTimeout(ctx_.get(), to_timeval(budget)) != REDIS_OK) return transport_error("");
  // hiredis takes `const char**`; it does not write through it.
  auto* raw = redisCommandArgv(ctx_.get(), argc, const_cast<const char**>(argv), lens);  // NOLINT
  reply_ptr reply(static_cast<redisReply*>(raw));
  if (!reply) return transport_error("");
  return {std::move(reply)};
}

}  // namespace hookrx::detail::redis
