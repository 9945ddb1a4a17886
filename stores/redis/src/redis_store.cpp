#include "hookrx/redis_store.hpp"

#include <array>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <random>
#include <utility>

#include "redis_pool.hpp"

namespace hookrx {
namespace {

namespace rd = detail::redis;

// A key's value: "<state> <expires_ms> <token>", state 'c' (claimed) or 'd' (done), times in
// milliseconds of the injected clock. The scripts compare those with the `now` passed in ARGV
// and never read the server's clock, so a manual clock in a test moves expiry as it moves. Tokens
// travel as decimal strings and are compared as strings: Lua numbers are doubles and would round
// 64-bit tokens.

// KEYS[1] key; ARGV now, expires, token, ttl_ms. Returns 0 claimed, 1 done, 2 in progress.
constexpr std::string_view claim_source = R"lua(
local v = redis.call('GET', KEYS[1])
if v then
  local state, expires = string.match(v, '^(%a) (%-?%d+) ')
  if state and tonumber(expires) > tonumber(ARGV[1]) then
    if state == 'd' then return 1 end
    return 2
  end
end
redis.call('SET', KEYS[1], 'c ' .. ARGV[2] .. ' ' .. ARGV[3], 'PX', ARGV[4])
return 0
)lua";

// KEYS[1] key; ARGV token, expires, ttl_ms. Returns 1 done, 0 when the token does not own a claim.
constexpr std::string_view complete_source = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local state, token = string.match(v, '^(%a) %-?%d+ (%d+)$')
if state ~= 'c' or token ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'd ' .. ARGV[2] .. ' ' .. token, 'PX', ARGV[3])
return 1
)lua";

// KEYS[1] key; ARGV token. Returns 1 released, 0 when the token does not own a claim.
constexpr std::string_view release_source = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local state, token = string.match(v, '^(%a) %-?%d+ (%d+)$')
if state == 'c' and token == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

// Redis keeps a key this long past its logical expiry: the clocks of the instances may disagree
// a little, and a worker may still complete a claim whose lease ran out while nobody took it.
constexpr std::int64_t ttl_margin_ms = 60LL * 60 * 1000;
// Longer TTLs are capped (Redis rejects an expiry that overflows its own clock arithmetic).
constexpr std::int64_t ttl_max_ms = 100LL * 366 * 24 * 60 * 60 * 1000;

enum : long long { claimed_reply = 0, done_reply = 1, in_progress_reply = 2 };

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) return std::numeric_limits<std::int64_t>::max();
  if (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b) return std::numeric_limits<std::int64_t>::min();
  return a + b;
}

// Redis's own TTL for a key whose logical expiry is `expires`: what is left of it, plus the margin.
std::int64_t ttl_for(std::int64_t now, std::int64_t expires) {
  const std::int64_t remaining = expires > now ? saturating_add(expires, -now) : 0;
  return std::min(saturating_add(remaining, ttl_margin_ms), ttl_max_ms);
}

// A decimal rendering on the stack, to pass as a command argument.
class decimal {
 public:
  template <class Int>
  explicit decimal(Int v) noexcept {
    const auto r = std::to_chars(buf_.data(), buf_.data() + buf_.size(), v);
    len_ = static_cast<std::size_t>(r.ptr - buf_.data());
  }
  [[nodiscard]] std::string_view view() const noexcept { return {buf_.data(), len_}; }

 private:
  std::array<char, 24> buf_{};
  std::size_t len_ = 0;
};

std::uint64_t new_token() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  std::uint64_t t = 0;
  while (t == 0) t = engine();
  return t;
}

struct script {
  const char* name;
  std::string_view source;
  std::string sha;
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

struct redis_store::impl {
  impl(rd::settings s, std::size_t pool_size, std::string prefix, std::shared_ptr<const clock> time)
      : pool(std::move(s), pool_size, "redis: "), key_prefix(std::move(prefix)), time_source(std::move(time)) {}

  rd::pool pool;
  const std::string key_prefix;
  const std::shared_ptr<const clock> time_source;
  script claim_script{"try_claim", claim_source, {}};
  script complete_script{"complete", complete_source, {}};
  script release_script{"release", release_source, {}};

  [[nodiscard]] std::int64_t now_ms() const noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time_source->now().time_since_epoch()).count();
  }
  [[nodiscard]] rd::deadline call_deadline() const noexcept { return rd::steady::now() + pool.config().timeout; }

  // SCRIPT LOAD for each script, so that calls can send the short EVALSHA.
  status load_scripts(rd::pool::lease& conn, rd::deadline until) {
    for (script* s : {&claim_script, &complete_script, &release_script}) {
      std::array<const char*, 3> argv{"SCRIPT", "LOAD", s->source.data()};
      std::array<std::size_t, 3> lens{6, 4, s->source.size()};
      auto r = conn->command(argv.data(), lens.data(), 3, until);
      if (!r) return r.error();
      if ((*r)->type != REDIS_REPLY_STRING) {
        return rd::error_from(
            pool.config(), std::string("redis: cannot load the scripts: ") +
                               std::string((*r)->type == REDIS_REPLY_ERROR ? rd::error_text(**r) : "unexpected reply"));
      }
      s->sha.assign((*r)->str, (*r)->len);
    }
    return {};
  }

  // Runs `s` on `key` with `args`; the script's integer answer.
  result<long long> eval(const script& s, std::string_view key, std::initializer_list<std::string_view> args) {
    const rd::deadline until = call_deadline();
    auto conn = pool.acquire(until);
    if (!conn) return conn.error();

    std::string full_key;
    full_key.reserve(key_prefix.size() + key.size());
    full_key.append(key_prefix).append(key);

    constexpr std::size_t max_args = 8;
    std::array<const char*, max_args> argv{"EVALSHA", s.sha.data(), "1", full_key.data()};
    std::array<std::size_t, max_args> lens{7, s.sha.size(), 1, full_key.size()};
    int argc = 4;
    for (std::string_view a : args) {
      if (static_cast<std::size_t>(argc) == max_args) break;  // the scripts take fewer
      argv[static_cast<std::size_t>(argc)] = a.data();
      lens[static_cast<std::size_t>(argc)] = a.size();
      ++argc;
    }
    auto r = (*conn)->command(argv.data(), lens.data(), argc, until);
    if (!r) return r.error();
    if (starts_with(rd::error_text(**r), "NOSCRIPT")) {  // the server restarted or SCRIPT FLUSH ran
      argv[0] = "EVAL";
      lens[0] = 4;
      argv[1] = s.source.data();
      lens[1] = s.source.size();
      r = (*conn)->command(argv.data(), lens.data(), argc, until);
      if (!r) return r.error();
    }
    const redisReply& reply = **r;
    if (reply.type == REDIS_REPLY_ERROR) {
      const std::string_view text = rd::error_text(reply);
      // A replica, a server still loading its data, or one cut off from its primary: another
      // connection (after a failover, to another host behind the same name) may do better.
      if (starts_with(text, "READONLY") || starts_with(text, "LOADING") || starts_with(text, "MASTERDOWN")) {
        (*conn)->close();
      }
      return rd::error_from(pool.config(), std::string("redis: ") + s.name + ": " + std::string(text));
    }
    if (reply.type != REDIS_REPLY_INTEGER) {
      return rd::error_from(pool.config(), std::string("redis: ") + s.name + ": unexpected reply");
    }
    return static_cast<long long>(reply.integer);
  }
};

redis_store::redis_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
redis_store::~redis_store() = default;

result<std::shared_ptr<redis_store>> redis_store::open(redis_options options, std::shared_ptr<const clock> time) {
  if (!time) return hookrx::error(errc::invalid_config, "redis: no clock");
  if (options.host.empty()) return hookrx::error(errc::invalid_config, "redis: host is empty");
  if (options.port < 1 || options.port > 65535) {
    return hookrx::error(errc::invalid_config, "redis: port must be in 1..65535");
  }
  if (options.database < 0) return hookrx::error(errc::invalid_config, "redis: database must not be negative");
  if (options.pool_size == 0) return hookrx::error(errc::invalid_config, "redis: pool_size is 0");
  if (options.timeout.count() <= 0) return hookrx::error(errc::invalid_config, "redis: timeout must be positive");

  rd::settings s;
  s.host = std::move(options.host);
  s.port = options.port;
  s.password = std::move(options.password);
  s.database = options.database;
  s.timeout = options.timeout;
  auto p = std::make_unique<impl>(std::move(s), options.pool_size, std::move(options.key_prefix), std::move(time));

  {
    const rd::deadline until = p->call_deadline();
    auto conn = p->pool.acquire(until);
    if (!conn) return conn.error();
    if (auto loaded = p->load_scripts(*conn, until); !loaded) return loaded.error();
  }
  return std::shared_ptr<redis_store>(new redis_store(std::move(p)));
}

result<claim> redis_store::try_claim(std::string_view key, std::chrono::milliseconds lease) {
  const std::int64_t now = impl_->now_ms();
  const std::int64_t expires = saturating_add(now, lease.count());
  const std::uint64_t token = new_token();
  const decimal now_s(now), expires_s(expires), token_s(token), ttl_s(ttl_for(now, expires));
  auto r = impl_->eval(impl_->claim_script, key, {now_s.view(), expires_s.view(), token_s.view(), ttl_s.view()});
  if (!r) return r.error();
  switch (*r) {
    case claimed_reply: return claim{claim_state::claimed, token};
    case done_reply: return claim{claim_state::done, 0};
    case in_progress_reply: return claim{claim_state::in_progress, 0};
    default: return rd::error_from(impl_->pool.config(), "redis: try_claim: unexpected reply");
  }
}

status redis_store::complete(std::string_view key, std::uint64_t token, std::chrono::milliseconds retention) {
  const std::int64_t now = impl_->now_ms();
  const std::int64_t expires = saturating_add(now, retention.count());
  const decimal token_s(token), expires_s(expires), ttl_s(ttl_for(now, expires));
  auto r = impl_->eval(impl_->complete_script, key, {token_s.view(), expires_s.view(), ttl_s.view()});
  if (!r) return r.error();
  if (*r != 1) return hookrx::error(errc::in_progress, "the claim is no longer this caller's");
  return {};
}

status redis_store::release(std::string_view key, std::uint64_t token) {
  const decimal token_s(token);
  auto r = impl_->eval(impl_->release_script, key, {token_s.view()});
  if (!r) return r.error();
  return {};
}

}  // namespace hookrx
