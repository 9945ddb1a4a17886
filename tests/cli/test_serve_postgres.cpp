// `hookrx serve` on PostgreSQL: two instances share one inbox and take each key once; a database
// that goes away mid-run gives 503 (never a false 2xx) and the same process recovers by itself.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cstdio>
#include <memory>
#include <set>
#include <thread>

#include "harness.hpp"

#ifndef HOOKRX_PG_SCRIPT
#error "HOOKRX_PG_SCRIPT (scripts/testsupport/postgres.sh) must be defined by the build"
#endif

namespace {

using namespace hookrx_cli_test;

const std::string secret = "wh_sec_cli_pg_0123456789";

// "host=127.0.0.1 port=P user=U dbname=D" -> its value for `key`.
std::string conninfo_value(const std::string& conninfo, const std::string& key) {
  const std::size_t at = conninfo.find(key + "=");
  if (at == std::string::npos) return {};
  const std::size_t start = at + key.size() + 1;
  return conninfo.substr(start, conninfo.find(' ', start) - start);
}

std::string first_line(const std::string& path) {
  const std::vector<std::string> lines = lines_of(read_all(path));
  return lines.empty() ? std::string() : lines.front();
}

// A database of this test's own on the server of `conninfo`, as a postgresql:// URL.
std::string fresh_database(const std::string& conninfo) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  REQUIRE_MESSAGE(PQstatus(conn.get()) == CONNECTION_OK, PQerrorMessage(conn.get()));
  std::random_device rd;
  const std::string name = "hookrx_cli_" + std::to_string(rd()) + std::to_string(rd());
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), ("CREATE DATABASE " + name).c_str()), &PQclear);
  REQUIRE_MESSAGE(PQresultStatus(res.get()) == PGRES_COMMAND_OK, PQerrorMessage(conn.get()));
  return "postgresql://" + conninfo_value(conninfo, "user") + "@" + conninfo_value(conninfo, "host") + ":" +
         conninfo_value(conninfo, "port") + "/" + name + "?connect_timeout=2";
}

int run_script(const std::string& command, const std::string& dir) {
  const std::string cmd = "bash " + std::string(HOOKRX_PG_SCRIPT) + " " + command + " " + dir + " >/dev/null 2>&1";
  return std::system(cmd.c_str());  // NOLINT(cert-env33-c): the test's own fixture script
}

std::multiset<std::string> keys_in(const std::vector<std::string>& files) {
  std::multiset<std::string> out;
  for (const std::string& f : files) {
    for (const std::string& line : lines_of(read_all(f))) {
      const std::size_t at = line.find("\"key\":\"") + 7;
      out.insert(line.substr(at, line.find('"', at) - at));
    }
  }
  return out;
}

}  // namespace

TEST_SUITE("hookrx serve on postgresql") {
  TEST_CASE("two instances on one database take each key once, whichever instance each delivery reaches") {
    const char* file = std::getenv("HOOKRX_PG_CONNINFO_FILE");
    REQUIRE_MESSAGE(file != nullptr, "HOOKRX_PG_CONNINFO_FILE is set by the postgres_server fixture");
    const std::string url = fresh_database(first_line(file));
    temp_dir dir;
    const env_list env = {{"HOOKRX_PP_SIGNING_SECRETS", secret}};
    server a({"--store", url, "--jsonl", dir.path("a.jsonl"), "--workers", "2"}, env, dir, "a");
    server b({"--store", url, "--jsonl", dir.path("b.jsonl"), "--workers", "2"}, env, dir, "b");

    constexpr int n = 40;
    std::vector<int> status_a(n);
    std::vector<int> status_b(n);
    // Every delivery goes to both instances at once, as a sender's retry through a load balancer might.
    std::thread ta([&] {
      for (int i = 0; i < n; ++i)
        status_a[static_cast<std::size_t>(i)] =
            deliver(a.port(), doc_body("ext_pg2", std::to_string(i)), secret).status;
    });
    std::thread tb([&] {
      for (int i = 0; i < n; ++i)
        status_b[static_cast<std::size_t>(i)] =
            deliver(b.port(), doc_body("ext_pg2", std::to_string(i)), secret).status;
    });
    ta.join();
    tb.join();
    for (std::size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      const std::multiset<int> pair = {status_a[i], status_b[i]};
      // One stored it (202); the other found it stored (200), or met the first mid-offer (never 2xx twice).
      CHECK(pair.count(202) == 1);
    }
    const std::vector<std::string> files = {dir.path("a.jsonl"), dir.path("b.jsonl")};
    REQUIRE(eventually([&] { return keys_in(files).size() >= static_cast<std::size_t>(n); }, 30s));
    const std::multiset<std::string> handled = keys_in(files);
    CHECK(handled.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) CHECK(handled.count(doc_key("ext_pg2", std::to_string(i))) == 1);
    CHECK(a.stop() == 0);
    CHECK(b.stop() == 0);
  }

  TEST_CASE("the inbox depth on /metrics counts the entries every instance queued, not only its own") {
    const char* file = std::getenv("HOOKRX_PG_CONNINFO_FILE");
    REQUIRE_MESSAGE(file != nullptr, "HOOKRX_PG_CONNINFO_FILE is set by the postgres_server fixture");
    const std::string url = fresh_database(first_line(file));
    temp_dir dir;
    const env_list env = {{"HOOKRX_PP_SIGNING_SECRETS", secret}};
    // Sinks that fail, and retries five minutes away: what is queued stays queued.
    const std::vector<std::string> args = {"--store",         url,   "--exec",      "exit 3",
                                           "--retry-initial", "300", "--retry-max", "300"};
    server a(args, env, dir, "a");
    server b(args, env, dir, "b");
    for (int i = 0; i < 3; ++i)
      REQUIRE(deliver(a.port(), doc_body("ext_depth", std::to_string(i)), secret).status == 202);
    CHECK(metric(a.port(), "hookrx_inbox_depth") == 3);
    CHECK(metric(b.port(), "hookrx_inbox_depth") == 3);  // b queued none of them
    CHECK(a.stop() == 0);
    CHECK(b.stop() == 0);
  }

  TEST_CASE("a database stopped mid-run gives 503 and unhealthy, and the same process recovers when it is back") {
    // A server of this case's own: stopping it disturbs no other test.
    const std::string pgdir = std::string(HOOKRX_PG_OUTAGE_DIR) + "-cli";
    REQUIRE_MESSAGE(run_script("start", pgdir) == 0, "could not start a server in " << pgdir);
    struct guard {
      std::string dir;
      ~guard() { run_script("stop", dir); }
    } stop_later{pgdir};
    const std::string url = fresh_database(first_line(pgdir + "/conninfo"));
    temp_dir dir;
    server s({"--store", url, "--jsonl", dir.path("e.jsonl")}, {{"HOOKRX_PP_SIGNING_SECRETS", secret}}, dir);
    CHECK(deliver(s.port(), doc_body("ext_out", "before"), secret).status == 202);
    CHECK(get(s.port(), "/healthz").status == 200);

    REQUIRE(run_script("halt", pgdir) == 0);
    const reply down = deliver(s.port(), doc_body("ext_out", "during"), secret);
    CHECK(down.status == 503);
    CHECK(hookrx_test::contains(down.body, "store_unavailable"));
    CHECK(deliver(s.port(), doc_body("ext_out", "before"), secret).status == 503);  // not even a duplicate is claimed
    CHECK(get(s.port(), "/healthz").status == 503);
    CHECK(
        metric(
            s.port(),
            R"(hookrx_deliveries_total{provider="perfectparser",event="extraction.document_completed",outcome="store_unavailable"})") ==
        2);
    CHECK(metric(s.port(), "hookrx_store_up") == 0);

    REQUIRE(run_script("resume", pgdir) == 0);
    CHECK(eventually([&] { return get(s.port(), "/healthz").status == 200; }, 30s));
    CHECK(deliver(s.port(), doc_body("ext_out", "during"), secret).status == 202);
    CHECK(deliver(s.port(), doc_body("ext_out", "before"), secret).status == 200);
    REQUIRE(eventually([&] { return keys_in({dir.path("e.jsonl")}).size() == 2; }, 30s));
    CHECK(s.stop() == 0);
  }
}
