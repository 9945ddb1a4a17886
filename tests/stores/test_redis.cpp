// The Redis dedup store: the shared conformance suite (dedup part; Redis has no inbox), plus what
// only Redis has: claims racing from several processes, an outage and recovery of the same store
// object, timeouts, passwords kept out of errors, and the real TTLs Redis collects keys by.
//
// Run through ctest: the fixture redis_server starts a throw-away server and the tests find its
// port in $HOOKRX_REDIS_PORT_FILE. Cases that stop, block or password-protect a server start one
// of their own with scripts/testsupport/redis.sh.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hookrx/inbox.hpp"
#include "hookrx/redis_store.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::string random_hex() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return buf;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct command_output {
  int status = -1;
  std::string out;
};

// Runs a shell command; its exit status and standard output.
command_output run(const std::string& cmd) {
  command_output r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
  return r;
}

int read_port(const std::string& file) {
  std::ifstream in(file);
  int port = 0;
  in >> port;
  return port;
}

int fixture_port() {
  const char* file = std::getenv("HOOKRX_REDIS_PORT_FILE");
  REQUIRE_MESSAGE(file != nullptr, "HOOKRX_REDIS_PORT_FILE is not set: run the tests through ctest");
  const int port = read_port(file);
  REQUIRE_MESSAGE(port > 0, "no port in " << file << ": is the redis_server fixture up?");
  return port;
}

// A loopback port nothing listens on (bound for a moment, then closed): connecting is refused.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);  // NOLINT
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);  // NOLINT
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Options for a store of its own: a random key prefix keeps concurrent cases apart.
hookrx::redis_options options_for(int port) {
  hookrx::redis_options options;
  options.port = port;
  options.key_prefix = "hookrx-test:" + random_hex() + ":";
  options.timeout = 2s;
  return options;
}

std::shared_ptr<hookrx::redis_store> open_store(hookrx::redis_options options,
                                                std::shared_ptr<const hookrx::clock> clock = hookrx::system_clock()) {
  auto store = hookrx::redis_store::open(std::move(options), std::move(clock));
  REQUIRE_MESSAGE(store.has_value(), (store ? std::string() : store.error().message()));
  return *store;
}

std::string redis_cli(int port, const std::string& args) {
  return run("redis-cli -h 127.0.0.1 -p " + std::to_string(port) + " " + args + " 2>&1").out;
}

// A server of the test's own (stopped, blocked or password-protected without disturbing others).
class own_server {
 public:
  explicit own_server(const std::vector<std::string>& args = {})
      : dir_(std::string(HOOKRX_REDIS_OWN_DIR) + "-" + random_hex()) {
    std::string cmd = "bash " + quote(HOOKRX_REDIS_SCRIPT) + " start " + quote(dir_);
    for (const auto& a : args) cmd += " " + quote(a);
    const auto r = run(cmd + " 2>&1");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    port_ = read_port(dir_ + "/port");
    REQUIRE(port_ > 0);
  }
  own_server(const own_server&) = delete;
  own_server& operator=(const own_server&) = delete;
  ~own_server() { (void)run("bash " + quote(HOOKRX_REDIS_SCRIPT) + " stop " + quote(dir_) + " >/dev/null 2>&1"); }

  [[nodiscard]] int port() const { return port_; }
  void halt() { script("halt"); }
  void resume() { script("resume"); }

 private:
  void script(const char* what) {
    const auto r = run("bash " + quote(HOOKRX_REDIS_SCRIPT) + " " + what + " " + quote(dir_) + " 2>&1");
    REQUIRE_MESSAGE(r.status == 0, r.out);
  }

  std::string dir_;
  int port_ = 0;
};

hookrx::claim claim_ok(hookrx::dedup_store& store, std::string_view key, std::chrono::milliseconds lease = 30s) {
  auto c = store.try_claim(key, lease);
  REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error().message()));
  return *c;
}

template <class Duration>
long long ms(Duration d) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

struct store_fixture {
  static constexpr const char* backend = "redis";
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::dedup_store> dedup = open_store(options_for(fixture_port()), clock);
  std::shared_ptr<hookrx::inbox_store> inbox;  // Redis is dedup-only
};

#define HOOKRX_STORE_SUITE "redis store conformance"
#include "conformance_cases.hpp"

TEST_SUITE("redis store") {
  TEST_CASE("a new key is claimed once, others see it in progress, then done once completed") {
    store_fixture f;
    const auto first = claim_ok(*f.dedup, "evt_1");
    CHECK(first.state == hookrx::claim_state::claimed);
    CHECK(first.token != 0);
    const auto second = claim_ok(*f.dedup, "evt_1");
    CHECK(second.state == hookrx::claim_state::in_progress);
    CHECK(second.token == 0);
    REQUIRE(f.dedup->complete("evt_1", first.token, hookrx::default_retention).has_value());
    const auto third = claim_ok(*f.dedup, "evt_1");
    CHECK(third.state == hookrx::claim_state::done);
    CHECK(third.token == 0);
  }

  TEST_CASE("a done key is forgotten when the injected clock passes its retention, not before") {
    store_fixture f;
    const auto c = claim_ok(*f.dedup, "evt");
    REQUIRE(f.dedup->complete("evt", c.token, 24h).has_value());
    f.clock->advance(24h - 1ms);
    CHECK(claim_ok(*f.dedup, "evt").state == hookrx::claim_state::done);
    f.clock->advance(1ms);
    const auto again = claim_ok(*f.dedup, "evt");
    CHECK(again.state == hookrx::claim_state::claimed);
    CHECK(again.token != c.token);
  }

  TEST_CASE("an expired lease is claimed again with a new token, and the old token cannot complete") {
    store_fixture f;
    const auto first = claim_ok(*f.dedup, "evt", 30s);
    f.clock->advance(29s);
    CHECK(claim_ok(*f.dedup, "evt").state == hookrx::claim_state::in_progress);
    f.clock->advance(1s);
    const auto second = claim_ok(*f.dedup, "evt", 30s);
    REQUIRE(second.state == hookrx::claim_state::claimed);
    CHECK(second.token != first.token);
    const auto stale = f.dedup->complete("evt", first.token, 1h);
    REQUIRE_FALSE(stale.has_value());
    CHECK(stale.error() == hookrx::errc::in_progress);
    REQUIRE(f.dedup->release("evt", first.token).has_value());  // stale: a no-op
    CHECK(claim_ok(*f.dedup, "evt").state == hookrx::claim_state::in_progress);
    REQUIRE(f.dedup->complete("evt", second.token, 1h).has_value());
    CHECK(claim_ok(*f.dedup, "evt").state == hookrx::claim_state::done);
  }

  TEST_CASE("a claim whose lease ran out can still be completed while nobody else took it") {
    store_fixture f;
    const auto c = claim_ok(*f.dedup, "evt", 1s);
    f.clock->advance(10s);
    REQUIRE(f.dedup->complete("evt", c.token, 1h).has_value());
    CHECK(claim_ok(*f.dedup, "evt").state == hookrx::claim_state::done);
  }

  TEST_CASE("a released claim is won again at once, while wrong and unknown tokens change nothing") {
    store_fixture f;
    const auto c = claim_ok(*f.dedup, "evt");
    REQUIRE(f.dedup->release("evt", c.token + 1).has_value());
    CHECK(claim_ok(*f.dedup, "evt").state == hookrx::claim_state::in_progress);
    const auto wrong = f.dedup->complete("evt", c.token + 1, 1h);
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error() == hookrx::errc::in_progress);
    REQUIRE(f.dedup->release("evt", c.token).has_value());
    const auto again = claim_ok(*f.dedup, "evt");
    CHECK(again.state == hookrx::claim_state::claimed);
    CHECK(again.token != c.token);
    // A done key is not released by its old token, nor completed twice.
    REQUIRE(f.dedup->complete("evt", again.token, 1h).has_value());
    REQUIRE(f.dedup->release("evt", again.token).has_value());
    CHECK(claim_ok(*f.dedup, "evt").state == hookrx::claim_state::done);
    CHECK(f.dedup->complete("evt", again.token, 1h).error() == hookrx::errc::in_progress);
    // Unknown keys.
    REQUIRE(f.dedup->release("never-claimed", 42).has_value());
    CHECK(f.dedup->complete("never-claimed", 42, 1h).error() == hookrx::errc::in_progress);
  }

  TEST_CASE("keys are binary-safe, and key prefixes keep stores apart") {
    store_fixture f;
    const std::string odd("a b\0c\n\xff*?[x]", 12);
    CHECK(claim_ok(*f.dedup, odd).state == hookrx::claim_state::claimed);
    CHECK(claim_ok(*f.dedup, "a b").state == hookrx::claim_state::claimed);
    CHECK(claim_ok(*f.dedup, odd).state == hookrx::claim_state::in_progress);
    CHECK(claim_ok(*f.dedup, "").state == hookrx::claim_state::claimed);
    auto other = open_store(options_for(fixture_port()), f.clock);
    CHECK(claim_ok(*other, odd).state == hookrx::claim_state::claimed);
  }

  TEST_CASE("databases are kept apart") {
    auto options = options_for(fixture_port());
    options.database = 1;
    auto one = open_store(options);
    options.database = 2;
    auto two = open_store(options);
    CHECK(claim_ok(*one, "evt").state == hookrx::claim_state::claimed);
    CHECK(claim_ok(*two, "evt").state == hookrx::claim_state::claimed);
    CHECK(claim_ok(*one, "evt").state == hookrx::claim_state::in_progress);
    options.database = 100000;
    auto bad = hookrx::redis_store::open(options);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error() == hookrx::errc::store_unavailable);
    CHECK(bad.error().detail().find("select database") != std::string::npos);
  }

  TEST_CASE("Redis drops keys by itself: each carries a TTL of its logical expiry plus a margin") {
    const int port = fixture_port();
    auto options = options_for(port);
    const std::string prefix = options.key_prefix;
    auto clock = std::make_shared<hookrx::manual_clock>();
    auto store = open_store(options, clock);
    const std::string key = quote(prefix + "ttl");

    const auto c = claim_ok(*store, "ttl", 30s);
    long long pttl = std::strtoll(redis_cli(port, "PTTL " + key).c_str(), nullptr, 10);
    CHECK(pttl > ms(30s + 1h - 10s));
    CHECK(pttl <= ms(30s + 1h));
    CHECK(redis_cli(port, "GET " + key).rfind("c ", 0) == 0);

    REQUIRE(store->complete("ttl", c.token, hookrx::default_retention).has_value());
    pttl = std::strtoll(redis_cli(port, "PTTL " + key).c_str(), nullptr, 10);
    CHECK(pttl > ms(hookrx::default_retention + 1h - 10s));
    CHECK(pttl <= ms(hookrx::default_retention + 1h));
    CHECK(redis_cli(port, "GET " + key).rfind("d ", 0) == 0);

    // The logical expiry decides, even while Redis still holds the key.
    clock->advance(hookrx::default_retention);
    CHECK(claim_ok(*store, "ttl").state == hookrx::claim_state::claimed);

    const auto mine = claim_ok(*store, "gone");
    REQUIRE(store->release("gone", mine.token).has_value());
    CHECK(redis_cli(port, "EXISTS " + quote(prefix + "gone")) == "0");
  }

  TEST_CASE("concurrent claims from many threads: exactly one winner per key") {
    store_fixture f;
    constexpr std::size_t keys = 100;
    constexpr std::size_t threads = 8;
    std::vector<std::atomic<int>> wins(keys);
    std::atomic<int> failures{0};
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (std::size_t n = 0; n < keys; ++n) {
          const std::size_t i = (n + t * 7) % keys;
          auto c = f.dedup->try_claim("k" + std::to_string(i), 1min);
          if (!c) {
            ++failures;
          } else if (c->state == hookrx::claim_state::claimed) {
            ++wins[i];
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    CHECK(failures.load() == 0);
    for (std::size_t i = 0; i < keys; ++i) CHECK_MESSAGE(wins[i].load() == 1, "key k" << i);
  }

  TEST_CASE("two processes claiming the same 200 keys at once: exactly one claim wins each key") {
    const int port = fixture_port();
    const std::string prefix = "hookrx-test:" + random_hex() + ":";
    constexpr int keys = 200;
    const auto start_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                              (std::chrono::system_clock::now() + 800ms).time_since_epoch())
                              .count();
    const std::string cmd = quote(HOOKRX_REDIS_WORKER) + " " + std::to_string(port) + " " + quote(prefix) + " " +
                            std::to_string(keys) + " 4 " + std::to_string(start_at);
    command_output a;
    command_output b;
    std::thread second([&] { b = run(cmd); });
    a = run(cmd);
    second.join();
    REQUIRE_MESSAGE(a.status == 0, a.out);
    REQUIRE_MESSAGE(b.status == 0, b.out);
    REQUIRE(a.out.size() == static_cast<std::size_t>(keys));
    REQUIRE(b.out.size() == static_cast<std::size_t>(keys));
    int won_by_a = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(keys); ++i) {
      CHECK_MESSAGE((a.out[i] - '0') + (b.out[i] - '0') == 1, "key k" << i);
      won_by_a += a.out[i] - '0';
    }
    MESSAGE("process A won " << won_by_a << " of " << keys << " keys");
  }

  TEST_CASE("options that cannot work are rejected as invalid_config") {
    auto check = [](hookrx::redis_options o) {
      auto s = hookrx::redis_store::open(std::move(o));
      REQUIRE_FALSE(s.has_value());
      CHECK(s.error() == hookrx::errc::invalid_config);
    };
    hookrx::redis_options o;
    o.host.clear();
    check(o);
    o = {};
    o.port = 0;
    check(o);
    o.port = 70000;
    check(o);
    o = {};
    o.database = -1;
    check(o);
    o = {};
    o.pool_size = 0;
    check(o);
    o = {};
    o.timeout = 0ms;
    check(o);
    auto no_clock = hookrx::redis_store::open({}, nullptr);
    REQUIRE_FALSE(no_clock.has_value());
    CHECK(no_clock.error() == hookrx::errc::invalid_config);
  }

  TEST_CASE("an unreachable server is store_unavailable from open(), at once, saying why") {
    auto options = options_for(closed_port());
    options.password = "hunter2-" + random_hex();
    const auto t0 = steady::now();
    auto s = hookrx::redis_store::open(options);
    REQUIRE_FALSE(s.has_value());
    CHECK(steady::now() - t0 < 1s);
    CHECK(s.error() == hookrx::errc::store_unavailable);
    CHECK(s.error().detail() == "redis: connection refused");
    CHECK(s.error().message().find(options.password) == std::string::npos);
  }

  TEST_CASE("the password never appears in an error message") {
    const std::string password = "s3cret-" + random_hex();
    own_server server({"--requirepass", password});

    auto options = options_for(server.port());
    options.password = "wrong-" + random_hex();
    auto wrong = hookrx::redis_store::open(options);
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error() == hookrx::errc::store_unavailable);
    CHECK(wrong.error().detail().find("authentication failed") != std::string::npos);
    for (const auto& secret : {password, options.password}) {
      CHECK(wrong.error().message().find(secret) == std::string::npos);
    }

    options.password.clear();
    auto none = hookrx::redis_store::open(options);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error() == hookrx::errc::store_unavailable);
    CHECK(none.error().message().find(password) == std::string::npos);

    // A password for a server that has none (Redis answers "ERR AUTH <password> called without
    // any password configured"): refused as well, without the password in the message.
    auto extra = options_for(fixture_port());
    extra.password = password;
    auto needless = hookrx::redis_store::open(extra);
    REQUIRE_FALSE(needless.has_value());
    CHECK(needless.error() == hookrx::errc::store_unavailable);
    CHECK(needless.error().message().find(password) == std::string::npos);

    options.password = password;
    auto store = open_store(options);
    CHECK(claim_ok(*store, "evt").state == hookrx::claim_state::claimed);
  }

  TEST_CASE("scripts the server forgot (SCRIPT FLUSH, a restart) are sent again") {
    own_server server;
    auto store = open_store(options_for(server.port()));
    const auto c = claim_ok(*store, "evt");
    REQUIRE(redis_cli(server.port(), "SCRIPT FLUSH") == "OK");
    REQUIRE(store->complete("evt", c.token, 1h).has_value());
    REQUIRE(redis_cli(server.port(), "SCRIPT FLUSH") == "OK");
    CHECK(claim_ok(*store, "evt").state == hookrx::claim_state::done);
    REQUIRE(redis_cli(server.port(), "SCRIPT FLUSH") == "OK");
    REQUIRE(store->release("evt", c.token).has_value());
  }

  TEST_CASE("a server that stops answering: calls fail with store_unavailable within the timeout") {
    own_server server({"--enable-debug-command", "local"});
    auto options = options_for(server.port());
    options.timeout = 300ms;
    options.pool_size = 2;
    auto store = open_store(options);
    REQUIRE(claim_ok(*store, "warm").state == hookrx::claim_state::claimed);

    std::thread blocker([&] { (void)redis_cli(server.port(), "DEBUG SLEEP 1.5"); });
    bool saw_timeout = false;
    bool recovered = false;
    const auto deadline = steady::now() + 10s;
    for (int i = 0; steady::now() < deadline; ++i) {
      const auto t0 = steady::now();
      auto c = store->try_claim("k" + std::to_string(i), 30s);
      const auto took = steady::now() - t0;
      CHECK_MESSAGE(took < options.timeout + 2s, "a call took " << ms(took) << " ms");  // bounded: no hang
      if (!c) {
        CHECK(c.error() == hookrx::errc::store_unavailable);
        saw_timeout = saw_timeout || c.error().detail().find("timed out") != std::string::npos;
      } else if (saw_timeout) {
        recovered = true;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    blocker.join();
    CHECK(saw_timeout);
    CHECK(recovered);
  }

  TEST_CASE("an outage: every call fails fast while the server is down, and the same store recovers by itself") {
    const std::string password = "outage-" + random_hex();
    own_server server({"--requirepass", password});
    auto options = options_for(server.port());
    options.password = password;
    options.timeout = 300ms;
    options.pool_size = 4;
    auto store = open_store(options);
    for (int i = 0; i < 8; ++i) {  // every connection of the pool in use before the outage
      const auto c = claim_ok(*store, "before" + std::to_string(i));
      REQUIRE(store->complete("before" + std::to_string(i), c.token, 1h).has_value());
    }

    // Callers keep going while the server is killed under them.
    std::atomic<bool> stop{false};
    std::atomic<steady::rep> down_since{steady::time_point::max().time_since_epoch().count()};
    std::mutex mu;
    long long slowest_ms = 0;
    int calls_while_down = 0;
    int succeeded_while_down = 0;
    std::vector<std::string> leaked;
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&, t] {
        for (int i = 0; !stop.load(); ++i) {
          const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
          const auto t0 = steady::now();
          bool ok = false;
          std::string message;
          if (auto c = store->try_claim(key, 30s)) {
            auto done = store->complete(key, c->token, 1h);
            ok = done.has_value();
            if (!ok) message = done.error().message();
          } else {
            ok = false;
            message = c.error().message();
            if (c.error() != hookrx::errc::store_unavailable) message = "wrong code: " + message;
          }
          const auto t1 = steady::now();
          {
            std::lock_guard<std::mutex> lock(mu);
            slowest_ms = std::max(slowest_ms, ms(t1 - t0));
            if (t0.time_since_epoch().count() >= down_since.load()) {
              ++calls_while_down;
              if (ok) ++succeeded_while_down;
            }
            if (message.find(password) != std::string::npos || message.rfind("wrong code", 0) == 0) {
              leaked.push_back(message);
            }
          }
          std::this_thread::sleep_for(5ms);
        }
      });
    }
    std::this_thread::sleep_for(100ms);
    server.halt();
    down_since.store(steady::now().time_since_epoch().count());
    std::this_thread::sleep_for(1s);
    stop.store(true);
    for (auto& th : callers) th.join();

    CHECK(calls_while_down > 20);
    CHECK(succeeded_while_down == 0);
    CHECK_MESSAGE(slowest_ms < ms(options.timeout + 2s), "the slowest call took " << slowest_ms << " ms");
    CHECK_MESSAGE(leaked.empty(), (leaked.empty() ? std::string() : leaked.front()));

    // Down: a synchronous receiver on this store answers 503, never 2xx, and runs no handler.
    hookrx::perfectparser_credentials open_door;
    open_door.allow_unauthenticated = true;
    auto rx = hookrx::receiver::create(open_door);
    REQUIRE(rx.has_value());
    std::atomic<int> handled{0};
    rx->on_any([&](const hookrx::event&) { ++handled; });
    hookrx::dedup_options sync;
    sync.deadline = 0ms;
    rx->accept_with(std::make_shared<hookrx::dedup_acceptor>(store, sync));
    const auto deliver = [&](const std::string& doc) {
      const std::string body = R"({"event":"extraction.document_completed","extraction_id":"e","document_id":")" + doc +
                               R"(","status":"completed"})";
      return rx->handle(hookrx::request_view(body, nullptr, 0)).status;
    };
    CHECK(deliver("rx-down") == 503);
    CHECK(handled == 0);

    // Down: direct calls of each kind fail fast, and say so without the password.
    for (int i = 0; i < 5; ++i) {
      const auto t0 = steady::now();
      auto c = store->try_claim("down", 30s);
      auto d = store->complete("down", 1, 1h);
      auto r = store->release("down", 1);
      CHECK(steady::now() - t0 < 3 * (options.timeout + 2s));
      REQUIRE_FALSE(c.has_value());
      REQUIRE_FALSE(d.has_value());
      REQUIRE_FALSE(r.has_value());
      for (const hookrx::error* e : {&c.error(), &d.error(), &r.error()}) {
        CHECK(*e == hookrx::errc::store_unavailable);
        CHECK(e->detail().rfind("redis: ", 0) == 0);
        CHECK(e->message().find(password) == std::string::npos);
      }
    }

    // Back on the same port: the same store object recovers without being told.
    server.resume();
    const auto deadline = steady::now() + 10s;
    bool recovered = false;
    while (!recovered && steady::now() < deadline) {
      recovered = store->try_claim("after", 30s).has_value();
      if (!recovered) std::this_thread::sleep_for(20ms);
    }
    REQUIRE(recovered);
    CHECK(deliver("rx-down") == 200);  // the sender's retry is handled once the server is back
    CHECK(deliver("rx-down") == 200);  // and its duplicate acknowledged
    CHECK(handled == 1);
    // Every connection of the pool works again (the server lost its data: no persistence here).
    std::atomic<int> failures{0};
    std::vector<std::thread> again;
    for (int t = 0; t < 8; ++t) {
      again.emplace_back([&, t] {
        for (int i = 0; i < 20; ++i) {
          if (!store->try_claim("again" + std::to_string(t) + "-" + std::to_string(i), 30s)) ++failures;
        }
      });
    }
    for (auto& th : again) th.join();
    CHECK(failures.load() == 0);
  }
}
