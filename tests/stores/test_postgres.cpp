// The PostgreSQL store: the shared conformance suite, plus what only a shared server can show:
// several processes claiming and leasing at once, and an outage the store rides out by itself.
//
// Runs against the throw-away server of the ctest fixture postgres_server
// (scripts/testsupport/postgres.sh), whose conninfo file HOOKRX_PG_CONNINFO_FILE names. By hand:
//   scripts/testsupport/postgres.sh start /tmp/pg
//   HOOKRX_PG_CONNINFO_FILE=/tmp/pg/conninfo build/stores/postgres/hookrx_store_postgres_tests
//   scripts/testsupport/postgres.sh stop /tmp/pg
#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hookrx/inbox.hpp"
#include "hookrx/postgres_store.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// The fixture server's conninfo; fails the case with a hint when run outside ctest.
std::string test_conninfo() {
  const char* file = std::getenv("HOOKRX_PG_CONNINFO_FILE");
  REQUIRE_MESSAGE(file != nullptr,
                  "HOOKRX_PG_CONNINFO_FILE is not set: run through ctest, or start a server with "
                  "scripts/testsupport/postgres.sh start DIR and point it at DIR/conninfo");
  std::string conninfo = read_first_line(file);
  REQUIRE_MESSAGE(!conninfo.empty(), "no conninfo in " << std::string(file));
  return conninfo;
}

// A schema nobody else uses: cases (and processes) running in parallel never meet.
std::string fresh_schema() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  std::ostringstream s;
  s << "t_" << ::getpid() << '_' << counter++ << '_' << std::hex << rd();
  return s.str();
}

hookrx::postgres_options options_for(const std::string& conninfo, const std::string& schema) {
  hookrx::postgres_options o;
  o.conninfo = conninfo;
  o.schema = schema;
  return o;
}

std::shared_ptr<hookrx::postgres_store> open_or_fail(const hookrx::postgres_options& o,
                                                     std::shared_ptr<const hookrx::clock> clock) {
  auto s = hookrx::postgres_store::open(o, std::move(clock));
  REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error().message()));
  return *s;
}

hookrx::inbox_record record(const std::string& key, std::string body = "{\"event\":\"x\"}") {
  hookrx::inbox_record r;
  r.key = key;
  r.source = hookrx::provider::perfectparser;
  r.event_name = "extraction.document_completed";
  r.body = std::move(body);
  r.headers = "Content-Type: application/json";
  r.received_at = hookrx::time_point(std::chrono::hours(24 * 365 * 56));
  return r;
}

// "queued", "duplicate", or the error: readable in a failed CHECK.
std::string offered(const hookrx::result<hookrx::offer_state>& r) {
  if (!r) return r.error().message();
  return *r == hookrx::offer_state::queued ? "queued" : "duplicate";
}

std::int64_t ms_since_epoch(hookrx::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// A loopback port nothing listens on (bound, then closed: free unless someone races us).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);  // NOLINT
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);  // NOLINT
  ::close(fd);
  return ntohs(a.sin_port);
}

int run_script(const std::string& command, const std::string& dir) {
  const std::string cmd = std::string("bash '") + HOOKRX_PG_SCRIPT + "' " + command + " '" + dir + "' >/dev/null";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A second process (hookrx_store_postgres_worker) with its stdin and stdout on pipes.
class worker_process {
 public:
  explicit worker_process(const std::vector<std::string>& args) {
    int in[2];
    int out[2];
    REQUIRE(::pipe(in) == 0);
    REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> all{HOOKRX_PG_WORKER};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, HOOKRX_PG_WORKER, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    to_child_ = in[1];
    from_child_ = out[0];
    REQUIRE_MESSAGE(rc == 0, "cannot start " << HOOKRX_PG_WORKER);
  }
  ~worker_process() {
    if (to_child_ >= 0) ::close(to_child_);
    if (from_child_ >= 0) ::close(from_child_);
    if (pid_ > 0) {
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  worker_process(const worker_process&) = delete;
  worker_process& operator=(const worker_process&) = delete;

  // The next line of output, or "" at end of output or after 60 s.
  std::string read_line() {
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      pollfd p{from_child_, POLLIN, 0};
      if (::poll(&p, 1, 60000) <= 0) return {};
      char chunk[4096];
      const ssize_t n = ::read(from_child_, chunk, sizeof chunk);
      if (n <= 0) return {};
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  void go() {
    const char line[] = "go\n";
    REQUIRE(::write(to_child_, line, sizeof line - 1) == static_cast<ssize_t>(sizeof line - 1));
  }
  int wait() {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
};

// Reads the worker's lines up to "done", collecting those that start with `label`.
std::vector<std::string> collect(worker_process& w, const std::string& label) {
  std::vector<std::string> got;
  for (;;) {
    const std::string line = w.read_line();
    if (line == "done") break;
    REQUIRE_MESSAGE(line.rfind(label, 0) == 0, "worker said: " << (line.empty() ? "(nothing)" : line));
    got.push_back(line.substr(label.size()));
  }
  CHECK(w.wait() == 0);
  return got;
}

}  // namespace

// The conformance suite's fixture: a fresh, empty store (its own schema) reading the manual clock.
struct store_fixture {
  static constexpr const char* backend = "postgres";
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::postgres_store> store;
  std::shared_ptr<hookrx::dedup_store> dedup;
  std::shared_ptr<hookrx::inbox_store> inbox;
  std::shared_ptr<hookrx::poll_store> poll;

  store_fixture() {
    store = open_or_fail(options_for(test_conninfo(), fresh_schema()), clock);
    dedup = store;
    inbox = store;
    poll = store;
  }
};

#define HOOKRX_STORE_SUITE "postgres store conformance"
#include "conformance_cases.hpp"

TEST_SUITE("postgres store") {
  TEST_CASE_FIXTURE(store_fixture, "a new key is claimed once, answers in_progress meanwhile and done after complete") {
    auto first = dedup->try_claim("pp:doc:1", 30s);
    REQUIRE(first);
    CHECK(first->state == hookrx::claim_state::claimed);
    CHECK(first->token != 0);
    auto second = dedup->try_claim("pp:doc:1", 30s);
    REQUIRE(second);
    CHECK(second->state == hookrx::claim_state::in_progress);
    CHECK(second->token == 0);
    REQUIRE(dedup->complete("pp:doc:1", first->token, 1h));
    CHECK(dedup->try_claim("pp:doc:1", 30s)->state == hookrx::claim_state::done);
    clock->advance(1h);
    CHECK(dedup->try_claim("pp:doc:1", 30s)->state == hookrx::claim_state::claimed);
  }

  TEST_CASE_FIXTURE(store_fixture, "an expired claim is won again and the old token can no longer complete it") {
    auto first = dedup->try_claim("k", 10s);
    REQUIRE(first);
    clock->advance(10s);
    auto second = dedup->try_claim("k", 10s);
    REQUIRE(second);
    CHECK(second->state == hookrx::claim_state::claimed);
    CHECK(second->token != first->token);
    auto stale = dedup->complete("k", first->token, 1h);
    REQUIRE(!stale);
    CHECK(stale.error() == hookrx::errc::in_progress);
    CHECK(dedup->release("k", first->token));  // stale: a no-op
    CHECK(dedup->try_claim("k", 10s)->state == hookrx::claim_state::in_progress);
    REQUIRE(dedup->release("k", second->token));
    CHECK(dedup->try_claim("k", 10s)->state == hookrx::claim_state::claimed);
  }

  TEST_CASE_FIXTURE(store_fixture, "keys, bodies, headers and errors with any bytes survive the round trip") {
    std::string key("bin\0key\xff\xfe", 9);
    std::string body(1 << 20, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 % 256);
    auto rec = record(key, body);
    rec.headers = std::string("X-Odd: \xc3\x28\0end", 13);
    REQUIRE(offered(inbox->offer(rec)) == "queued");
    CHECK(offered(inbox->offer(rec)) == "duplicate");
    auto leased = inbox->lease(10, 1min);
    REQUIRE(leased);
    REQUIRE(leased->size() == 1);
    const auto& e = leased->front();
    CHECK(e.record.key == key);
    CHECK(e.record.body == body);
    CHECK(e.record.headers == rec.headers);
    CHECK(e.record.event_name == rec.event_name);
    CHECK(e.record.received_at == rec.received_at);
    const std::string err("boom\0\xff", 6);
    REQUIRE(inbox->retry_at(e.id, e.lease_token, clock->now(), err));
    auto got = inbox->get(e.id);
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->last_error == err);

    auto claim = dedup->try_claim(key, 1s);
    REQUIRE(claim);
    CHECK(claim->state == hookrx::claim_state::claimed);
    CHECK(dedup->try_claim(std::string("bin\0key\xff", 8), 1s)->state == hookrx::claim_state::claimed);
    CHECK(dedup->try_claim("", 1s)->state == hookrx::claim_state::claimed);
  }

  TEST_CASE_FIXTURE(store_fixture, "an entry goes queued, leased, retried, dead, replayed and done") {
    REQUIRE(offered(inbox->offer(record("a"))) == "queued");
    clock->advance(1ms);
    REQUIRE(offered(inbox->offer(record("b"))) == "queued");

    auto first = inbox->lease(1, 30s);
    REQUIRE(first);
    REQUIRE(first->size() == 1);
    auto a = first->front();
    CHECK(a.record.key == "a");
    CHECK(a.state == hookrx::entry_state::leased);
    CHECK(a.attempts == 1);
    CHECK(a.lease_until == clock->now() + 30s);
    CHECK(a.lease_token != 0);

    // Released: due again at once, its attempt given back, ahead of "b" as before.
    REQUIRE(inbox->release(a.id, a.lease_token));
    auto again = inbox->lease(2, 30s);
    REQUIRE(again);
    REQUIRE(again->size() == 2);
    CHECK((*again)[0].record.key == "a");
    CHECK((*again)[0].attempts == 1);
    CHECK((*again)[1].record.key == "b");
    CHECK((*again)[0].lease_token != (*again)[1].lease_token);
    a = (*again)[0];
    const auto b = (*again)[1];

    auto stale = inbox->ack(a.id, a.lease_token + 1, 1h);
    REQUIRE(!stale);
    CHECK(stale.error() == hookrx::errc::in_progress);
    auto missing = inbox->ack(a.id + 1000, a.lease_token, 1h);
    REQUIRE(!missing);
    CHECK(missing.error() == hookrx::errc::not_found);

    REQUIRE(inbox->retry_at(a.id, a.lease_token, clock->now() + 10s, "handler said no"));
    CHECK(inbox->lease(5, 30s)->empty());
    clock->advance(10s);
    auto retried = inbox->lease(5, 30s);
    REQUIRE(retried);
    REQUIRE(retried->size() == 1);
    CHECK(retried->front().attempts == 2);
    CHECK(retried->front().last_error == "handler said no");
    REQUIRE(inbox->dead_letter(a.id, retried->front().lease_token, "gave up"));

    auto dead = inbox->list(hookrx::entry_state::dead, 10);
    REQUIRE(dead);
    REQUIRE(dead->size() == 1);
    CHECK(dead->front().id == a.id);
    CHECK(dead->front().last_error == "gave up");
    CHECK(offered(inbox->offer(record("a"))) == "duplicate");

    REQUIRE(inbox->replay(a.id));
    CHECK(inbox->replay(a.id).error() == hookrx::errc::not_found);
    auto replayed = inbox->lease(5, 30s);
    REQUIRE(replayed);
    // "b" is still leased (until +30 s from its lease), so only "a" is due.
    REQUIRE(replayed->size() == 1);
    CHECK(replayed->front().attempts == 1);
    REQUIRE(inbox->ack(a.id, replayed->front().lease_token, 1h));

    auto done = inbox->get(a.id);
    REQUIRE(done);
    REQUIRE(done->has_value());
    CHECK((*done)->state == hookrx::entry_state::done);
    CHECK((*done)->record.body.empty());
    CHECK(offered(inbox->offer(record("a"))) == "duplicate");

    // b's lease runs out: another worker takes it and the first one's token is stale.
    clock->advance(30s);
    auto taken = inbox->lease(5, 30s);
    REQUIRE(taken);
    REQUIRE(taken->size() == 1);
    CHECK(taken->front().id == b.id);
    CHECK(taken->front().attempts == 2);
    CHECK(inbox->ack(b.id, b.lease_token, 1h).error() == hookrx::errc::in_progress);
    REQUIRE(inbox->ack(b.id, taken->front().lease_token, 1h));

    // Retention ends: purged, and the key may be offered again (a new entry).
    CHECK(*inbox->purge_expired() == 0);
    clock->advance(1h);
    CHECK(*inbox->purge_expired() == 2);
    CHECK(!inbox->get(a.id)->has_value());
    CHECK(offered(inbox->offer(record("a"))) == "queued");
  }

  TEST_CASE_FIXTURE(store_fixture, "a done key whose retention ended is queued again before it is purged") {
    REQUIRE(offered(inbox->offer(record("k"))) == "queued");
    auto l = inbox->lease(1, 30s);
    REQUIRE(l);
    REQUIRE(l->size() == 1);
    REQUIRE(inbox->ack(l->front().id, l->front().lease_token, 1h));
    clock->advance(1h);
    REQUIRE(offered(inbox->offer(record("k"))) == "queued");
    auto queued = inbox->list(hookrx::entry_state::queued, 10);
    REQUIRE(queued);
    REQUIRE(queued->size() == 1);
    CHECK(queued->front().id != l->front().id);
    CHECK(queued->front().attempts == 0);
    CHECK(!queued->front().record.body.empty());
  }

  TEST_CASE_FIXTURE(store_fixture, "list pages through entries of one state by id") {
    for (int i = 0; i < 25; ++i) REQUIRE(inbox->offer(record("k" + std::to_string(i))));
    std::vector<std::int64_t> ids;
    std::int64_t after = 0;
    for (;;) {
      auto page = inbox->list(hookrx::entry_state::queued, 10, after);
      REQUIRE(page);
      if (page->empty()) break;
      for (const auto& e : *page) ids.push_back(e.id);
      after = page->back().id;
    }
    CHECK(ids.size() == 25);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(inbox->list(hookrx::entry_state::leased, 10)->empty());
    CHECK(inbox->list(hookrx::entry_state::queued, 0)->empty());
  }

  TEST_CASE("open rejects options that cannot work, without quoting the conninfo") {
    auto o = options_for("host=127.0.0.1 password=hunter2 'unterminated", "public");
    auto bad = hookrx::postgres_store::open(o);
    REQUIRE(!bad);
    CHECK(bad.error() == hookrx::errc::invalid_config);
    CHECK(bad.error().message().find("hunter2") == std::string::npos);

    o = options_for("", "public");
    CHECK(hookrx::postgres_store::open(o).error() == hookrx::errc::invalid_config);
    o = options_for("host=127.0.0.1", "public; DROP TABLE x");
    CHECK(hookrx::postgres_store::open(o).error() == hookrx::errc::invalid_config);
    o = options_for("host=127.0.0.1", "public");
    o.table_prefix = "a\"b";
    CHECK(hookrx::postgres_store::open(o).error() == hookrx::errc::invalid_config);
    o.table_prefix = "ok_";
    o.pool_size = 0;
    CHECK(hookrx::postgres_store::open(o).error() == hookrx::errc::invalid_config);
  }

  TEST_CASE("open against a port where nothing listens fails fast, saying why but not the conninfo") {
    auto o = options_for(
        "host=127.0.0.1 port=" + std::to_string(closed_port()) + " user=someone password=hunter2 dbname=nowhere",
        "public");
    o.timeout = 3s;
    const auto start = steady::now();
    auto s = hookrx::postgres_store::open(o);
    const auto took = steady::now() - start;
    REQUIRE(!s);
    CHECK(s.error() == hookrx::errc::store_unavailable);
    CHECK(took < 1s);
    const std::string message = s.error().message();
    MESSAGE(message);
    CHECK(message.find("connection refused") != std::string::npos);
    CHECK(message.find("hunter2") == std::string::npos);
    CHECK(message.find("nowhere") == std::string::npos);
    CHECK(message.find("port") == std::string::npos);
  }

  TEST_CASE("instances opening the same new schema at once all succeed and share the tables") {
    const std::string conninfo = test_conninfo();
    const std::string schema = fresh_schema();
    auto clock = std::make_shared<hookrx::manual_clock>();
    constexpr int n = 6;
    std::vector<std::shared_ptr<hookrx::postgres_store>> stores(n);
    std::vector<std::string> errors(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        auto o = options_for(conninfo, schema);
        o.pool_size = 2;
        auto s = hookrx::postgres_store::open(o, clock);
        if (s) {
          stores[static_cast<std::size_t>(i)] = *s;
        } else {
          errors[static_cast<std::size_t>(i)] = s.error().message();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < n; ++i) CHECK_MESSAGE(stores[static_cast<std::size_t>(i)], errors[static_cast<std::size_t>(i)]);
    REQUIRE(stores[0]);
    REQUIRE(stores[n - 1]);
    auto c = stores[0]->try_claim("shared", 1min);
    REQUIRE(c);
    CHECK(c->state == hookrx::claim_state::claimed);
    CHECK(stores[n - 1]->try_claim("shared", 1min)->state == hookrx::claim_state::in_progress);
  }

  TEST_CASE("ack_all settles a batch in one transaction, where ack takes one transaction each") {
    const std::string conninfo = test_conninfo();
    const std::string schema = fresh_schema();
    auto clock = std::make_shared<hookrx::manual_clock>();
    auto store = open_or_fail(options_for(conninfo, schema), clock);
    constexpr std::size_t half = 20;
    for (std::size_t i = 0; i < 2 * half; ++i)
      REQUIRE(offered(store->offer(record("k" + std::to_string(i)))) == "queued");
    auto leased = store->lease(2 * half, 1min);
    REQUIRE(leased.has_value());
    REQUIRE(leased->size() == 2 * half);
    std::vector<hookrx::lease_ref> batch;
    std::string batch_ids;
    std::string single_ids;
    for (std::size_t i = 0; i < 2 * half; ++i) {
      const auto& e = (*leased)[i];
      std::string& ids = i < half ? batch_ids : single_ids;
      ids += (ids.empty() ? "" : ",") + std::to_string(e.id);
      if (i < half) {
        batch.push_back({e.id, e.lease_token});
      } else {
        REQUIRE(store->ack(e.id, e.lease_token, 1h));
      }
    }
    auto acked = store->ack_all(batch, 1h);
    REQUIRE(acked.has_value());
    CHECK(*acked == half);

    // xmin names the transaction that wrote a row's current version.
    PGconn* c = PQconnectdb(conninfo.c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    auto transactions = [&](const std::string& ids) {
      const std::string sql = "SELECT count(*), count(DISTINCT xmin::text) FROM \"" + schema +
                              "\".hookrx_inbox WHERE state = 2 AND id IN (" + ids + ")";
      PGresult* r = PQexec(c, sql.c_str());
      std::string got = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                            ? std::string(PQgetvalue(r, 0, 0)) + " rows in " + PQgetvalue(r, 0, 1)
                            : std::string(PQresultErrorMessage(r));
      PQclear(r);
      return got;
    };
    CHECK(transactions(batch_ids) == "20 rows in 1");
    CHECK(transactions(single_ids) == "20 rows in 20");
    PQfinish(c);
  }

  TEST_CASE("callers blocked by a lock or waiting for the busy connection all fail within the timeout") {
    const std::string conninfo = test_conninfo();
    const std::string schema = fresh_schema();
    auto clock = std::make_shared<hookrx::manual_clock>();
    auto o = options_for(conninfo, schema);
    o.pool_size = 1;
    o.timeout = 700ms;
    auto store = open_or_fail(o, clock);
    auto c = store->try_claim("locked", 1min);
    REQUIRE(c);

    // Another session holds the row lock, so try_claim on that key waits inside the server; with
    // one connection the other callers wait for it meanwhile.
    PGconn* other = PQconnectdb(conninfo.c_str());
    REQUIRE(PQstatus(other) == CONNECTION_OK);
    const std::string lock_sql = "BEGIN; SELECT * FROM \"" + schema + "\".hookrx_dedup FOR UPDATE";
    PGresult* locked = PQexec(other, lock_sql.c_str());
    CHECK(PQresultStatus(locked) == PGRES_TUPLES_OK);
    CHECK(PQntuples(locked) == 1);
    PQclear(locked);

    constexpr int callers = 4;
    std::vector<std::string> outcome(callers);
    std::vector<steady::duration> took(callers);
    std::vector<std::thread> threads;
    for (int i = 0; i < callers; ++i) {
      threads.emplace_back([&, i] {
        const auto start = steady::now();
        auto r = store->try_claim("locked", 1min);
        took[static_cast<std::size_t>(i)] = steady::now() - start;
        outcome[static_cast<std::size_t>(i)] = r ? std::string(to_string(r->state)) : r.error().message();
      });
    }
    for (auto& t : threads) t.join();
    PQclear(PQexec(other, "ROLLBACK"));
    PQfinish(other);

    steady::duration longest{};
    for (int i = 0; i < callers; ++i) {
      const auto n = static_cast<std::size_t>(i);
      MESSAGE("caller " << i << " after " << std::chrono::duration_cast<std::chrono::milliseconds>(took[n]).count()
                        << " ms: " << outcome[n]);
      CHECK(outcome[n].rfind("store_unavailable", 0) == 0);
      longest = std::max(longest, took[n]);
    }
    CHECK(longest >= 650ms);  // the server's lock wait really was cut at the timeout
    CHECK(longest < 3s);      // bounded (no hang); generous for loaded CI machines

    // The store carries on with a fresh connection.
    auto after = store->try_claim("locked", 1min);
    REQUIRE(after);
    CHECK(after->state == hookrx::claim_state::in_progress);
  }

  TEST_CASE("two processes claiming the same 200 keys at once win each key exactly once between them") {
    const std::string conninfo = test_conninfo();
    const std::string schema = fresh_schema();
    auto clock = std::make_shared<hookrx::manual_clock>();
    auto o = options_for(conninfo, schema);
    o.pool_size = 4;
    o.timeout = 10s;
    auto store = open_or_fail(o, clock);
    constexpr int keys = 200;
    constexpr int threads = 4;

    worker_process other({"claim", std::getenv("HOOKRX_PG_CONNINFO_FILE"), schema,
                          std::to_string(ms_since_epoch(clock->now())), std::to_string(threads), std::to_string(keys)});
    REQUIRE(other.read_line() == "ready");
    other.go();

    std::mutex mu;
    std::vector<std::string> mine;
    std::atomic<int> errors{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::vector<int> order(keys);
        for (int i = 0; i < keys; ++i) order[static_cast<std::size_t>(i)] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(t + 1000)));
        for (const int i : order) {
          const std::string key = "key-" + std::to_string(i);
          auto c = store->try_claim(key, 5min);
          if (!c) {
            ++errors;
            continue;
          }
          if (c->state == hookrx::claim_state::claimed) {
            std::lock_guard<std::mutex> lock(mu);
            mine.push_back(key);
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    const auto theirs = collect(other, "claimed ");
    CHECK(errors == 0);

    std::map<std::string, int> wins;
    for (const auto& k : mine) ++wins[k];
    for (const auto& k : theirs) ++wins[k];
    MESSAGE("this process won " << mine.size() << " keys, the other " << theirs.size());
    CHECK(wins.size() == keys);
    for (const auto& win : wins) CHECK_MESSAGE(win.second == 1, win.first << " won " << win.second << " times");
  }

  TEST_CASE("two processes leasing one 300-entry inbox at once handle every entry exactly once") {
    const std::string conninfo = test_conninfo();
    const std::string schema = fresh_schema();
    auto clock = std::make_shared<hookrx::manual_clock>();
    auto o = options_for(conninfo, schema);
    o.pool_size = 4;
    o.timeout = 10s;
    auto store = open_or_fail(o, clock);
    constexpr int entries = 300;
    constexpr int threads = 4;
    for (int i = 0; i < entries; ++i) REQUIRE(store->offer(record("entry-" + std::to_string(i))));

    worker_process other({"lease", std::getenv("HOOKRX_PG_CONNINFO_FILE"), schema,
                          std::to_string(ms_since_epoch(clock->now())), std::to_string(threads), "3"});
    REQUIRE(other.read_line() == "ready");
    other.go();

    std::mutex mu;
    std::vector<std::int64_t> mine;
    std::atomic<int> errors{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (;;) {
          auto batch = store->lease(3, 5min);
          if (!batch) {
            ++errors;
            return;
          }
          if (batch->empty()) return;
          for (const auto& e : *batch) {
            if (!store->ack(e.id, e.lease_token, 1h)) ++errors;
            std::lock_guard<std::mutex> lock(mu);
            mine.push_back(e.id);
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    const auto theirs = collect(other, "leased ");
    CHECK(errors == 0);

    std::map<std::int64_t, int> handled;
    for (const auto id : mine) ++handled[id];
    for (const auto& id : theirs) ++handled[std::stoll(id)];
    MESSAGE("this process handled " << mine.size() << " entries, the other " << theirs.size());
    CHECK(handled.size() == entries);
    for (const auto& h : handled)
      CHECK_MESSAGE(h.second == 1, "entry " << h.first << " handled " << h.second << " times");
    auto done = store->list(hookrx::entry_state::done, 1000);
    REQUIRE(done);
    CHECK(done->size() == entries);
    for (const auto& e : *done) CHECK(e.attempts == 1);
  }

  TEST_CASE("while the server is down every call fails fast, and the same store recovers when it is back") {
    // A server of this case's own: stopping it disturbs no other case running in parallel.
    const std::string dir = HOOKRX_PG_OUTAGE_DIR;
    REQUIRE_MESSAGE(run_script("start", dir) == 0, "could not start a server in " << dir);
    struct server_guard {
      std::string dir;
      ~server_guard() { run_script("stop", dir); }
    } guard{dir};
    const std::string conninfo = read_first_line(dir + "/conninfo");

    auto clock = std::make_shared<hookrx::manual_clock>();
    auto o = options_for(conninfo, "public");
    o.pool_size = 4;
    o.timeout = 1s;
    auto store = open_or_fail(o, clock);

    // Warm every pooled connection, so that stale ones must be noticed after the restart.
    {
      std::vector<std::thread> warm;
      for (int t = 0; t < 4; ++t) {
        warm.emplace_back([&, t] {
          for (int i = 0; i < 20; ++i) (void)store->try_claim("warm-" + std::to_string(t * 100 + i), 1min);
        });
      }
      for (auto& th : warm) th.join();
    }
    REQUIRE(store->offer(record("before-1")));
    REQUIRE(store->offer(record("before-2")));
    auto held = store->lease(1, 10min);
    REQUIRE(held);
    REQUIRE(held->size() == 1);
    const auto entry = held->front();
    auto claimed = store->try_claim("held-claim", 10min);
    REQUIRE(claimed);

    // A receiver whose inbox is this store (unauthenticated: the store is what is tested).
    hookrx::perfectparser_credentials open_door;
    open_door.allow_unauthenticated = true;
    auto rx = hookrx::receiver::create(open_door);
    REQUIRE(rx.has_value());
    auto box = hookrx::inbox::create(store, rx->handlers(), {}, clock);
    rx->accept_with(box->acceptor());
    const auto deliver = [&](const std::string& doc) {
      const std::string body = R"({"event":"extraction.document_completed","extraction_id":"e","document_id":")" + doc +
                               R"(","status":"completed"})";
      return rx->handle(hookrx::request_view(body, nullptr, 0)).status;
    };
    REQUIRE(deliver("rx-before") == 202);

    REQUIRE(run_script("halt", dir) == 0);

    // Down: the receiver answers 503 and acknowledges nothing, new or already stored.
    CHECK(deliver("rx-during") == 503);
    CHECK(deliver("rx-before") == 503);

    steady::duration slowest{};
    std::string last_message;
    auto expect_down = [&](const std::string& what, auto&& call) {
      const auto start = steady::now();
      auto r = call();
      const auto took = steady::now() - start;
      slowest = std::max(slowest, took);
      REQUIRE_MESSAGE(!r, what << " succeeded while the server was down");
      CHECK_MESSAGE(r.error() == hookrx::errc::store_unavailable, what << ": " << r.error().message());
      CHECK_MESSAGE(took < o.timeout + 2s, what << " took too long");  // bounded, with room for a loaded machine
      CHECK(r.error().message().find("port") == std::string::npos);
      last_message = r.error().message();
    };
    for (int round = 0; round < 3; ++round) {
      expect_down("try_claim", [&] { return store->try_claim("new", 1min); });
      expect_down("complete", [&] { return store->complete("held-claim", claimed->token, 1h); });
      expect_down("release", [&] { return store->release("held-claim", claimed->token); });
      expect_down("offer", [&] { return store->offer(record("during")); });
      expect_down("lease", [&] { return store->lease(5, 1min); });
      expect_down("ack", [&] { return store->ack(entry.id, entry.lease_token, 1h); });
      expect_down("retry_at", [&] { return store->retry_at(entry.id, entry.lease_token, clock->now(), "x"); });
      expect_down("dead_letter", [&] { return store->dead_letter(entry.id, entry.lease_token, "x"); });
      expect_down("release entry", [&] { return store->release(entry.id, entry.lease_token); });
      expect_down("list", [&] { return store->list(hookrx::entry_state::queued, 10); });
      expect_down("get", [&] { return store->get(entry.id); });
      expect_down("replay", [&] { return store->replay(entry.id); });
      expect_down("purge_expired", [&] { return store->purge_expired(); });
    }
    // More callers than connections, all at once: none hangs.
    {
      std::atomic<int> failed_fast{0};
      std::vector<std::thread> many;
      for (int t = 0; t < 12; ++t) {
        many.emplace_back([&] {
          const auto start = steady::now();
          auto r = store->try_claim("crowd", 1min);
          if (!r && r.error() == hookrx::errc::store_unavailable && steady::now() - start < o.timeout + 250ms) {
            ++failed_fast;
          }
        });
      }
      for (auto& th : many) th.join();
      CHECK(failed_fast == 12);
    }
    MESSAGE("while down: slowest call " << std::chrono::duration_cast<std::chrono::microseconds>(slowest).count()
                                        << " us; e.g. " << last_message);

    REQUIRE(run_script("resume", dir) == 0);
    const auto back = steady::now();
    bool recovered = false;
    while (steady::now() - back < 30s) {
      if (store->get(entry.id)) {
        recovered = true;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    REQUIRE_MESSAGE(recovered, "the store did not recover within 30 s of the server's restart");
    // Back: the receiver stores the delivery it refused, and still knows the one stored before.
    CHECK(deliver("rx-during") == 202);
    CHECK(deliver("rx-before") == 200);
    MESSAGE("recovered " << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - back).count()
                         << " ms after the server was started again");

    // Everything works again, on every pooled connection, and nothing was lost or half-done.
    std::atomic<int> bad{0};
    std::vector<std::thread> after;
    for (int t = 0; t < 4; ++t) {
      after.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          auto c = store->try_claim("after-" + std::to_string(t * 100 + i), 1min);
          if (!c || c->state != hookrx::claim_state::claimed) ++bad;
        }
      });
    }
    for (auto& th : after) th.join();
    CHECK(bad == 0);
    CHECK(store->try_claim("held-claim", 1min)->state == hookrx::claim_state::in_progress);
    REQUIRE(store->complete("held-claim", claimed->token, 1h));
    REQUIRE(store->ack(entry.id, entry.lease_token, 1h));
    CHECK(offered(store->offer(record("before-1"))) == "duplicate");
    CHECK(offered(store->offer(record("during"))) == "queued");
    auto rest = store->lease(10, 1min);
    REQUIRE(rest);
    CHECK(rest->size() == 4);  // before-2, during, and the receiver's rx-before and rx-during
  }
  TEST_CASE("while the server hangs every call fails at the timeout, and the store recovers when it answers") {
    const std::string dir = std::string(HOOKRX_PG_OUTAGE_DIR) + "-hung";
    REQUIRE_MESSAGE(run_script("start", dir) == 0, "could not start a server in " << dir);
    struct server_guard {
      std::string dir;
      ~server_guard() { run_script("stop", dir); }  // thaws it first
    } guard{dir};
    const std::string conninfo = read_first_line(dir + "/conninfo");

    auto clock = std::make_shared<hookrx::manual_clock>();
    auto o = options_for(conninfo, "public");
    o.pool_size = 2;
    o.timeout = 800ms;
    auto store = open_or_fail(o, clock);
    REQUIRE(store->offer(record("before")));
    REQUIRE(store->try_claim("before", 1min));

    REQUIRE(run_script("freeze", dir) == 0);
    struct thaw_guard {
      std::string dir;
      bool thawed = false;
      void thaw() {
        if (!thawed) thawed = run_script("thaw", dir) == 0;
      }
      ~thaw_guard() { thaw(); }
    } frozen{dir};

    auto expect_timeout = [&](const std::string& what, auto&& call) {
      const auto start = steady::now();
      auto r = call();
      const auto took = steady::now() - start;
      REQUIRE_MESSAGE(!r, what << " succeeded while the server hung");
      CHECK_MESSAGE(r.error() == hookrx::errc::store_unavailable, what << ": " << r.error().message());
      MESSAGE(what << " failed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                   << " ms: " << r.error().message());
      CHECK(took < o.timeout + 2s);
    };
    // The first call meets a pooled connection whose server no longer answers; the next ones have
    // to connect and get no answer to the startup packet.
    expect_timeout("try_claim", [&] { return store->try_claim("new", 1min); });
    expect_timeout("offer", [&] { return store->offer(record("during")); });
    expect_timeout("lease", [&] { return store->lease(5, 1min); });
    {
      std::atomic<int> bounded{0};
      std::vector<std::thread> crowd;
      crowd.reserve(4);
      for (int t = 0; t < 4; ++t) {
        crowd.emplace_back([&] {
          const auto start = steady::now();
          auto r = store->get(1);
          if (!r && r.error() == hookrx::errc::store_unavailable && steady::now() - start < o.timeout + 300ms) {
            ++bounded;
          }
        });
      }
      for (auto& th : crowd) th.join();
      CHECK(bounded == 4);
    }

    frozen.thaw();
    REQUIRE(frozen.thawed);
    const auto back = steady::now();
    bool recovered = false;
    while (steady::now() - back < 30s) {
      if (store->get(1)) {
        recovered = true;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    REQUIRE_MESSAGE(recovered, "the store did not recover within 30 s of the server answering again");
    MESSAGE("recovered " << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - back).count()
                         << " ms after the server was thawed");
    CHECK(store->try_claim("before", 1min)->state == hookrx::claim_state::in_progress);
    CHECK(store->try_claim("after", 1min)->state == hookrx::claim_state::claimed);
    CHECK(offered(store->offer(record("before"))) == "duplicate");
  }
}
