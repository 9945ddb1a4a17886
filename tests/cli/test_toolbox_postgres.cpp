// `hookrx inbox` on serve's PostgreSQL store while serve runs: a dead letter listed, shown and
// replayed end to end (the postgres_server fixture starts a throw-away server).
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "support.hpp"
#include "toolbox_process.hpp"
#include "toolbox_serve.hpp"

using hookrx_test::contains;
using hookrx_test::run;

namespace {

const std::string binary = HOOKRX_BINARY;

std::string value_of(const std::string& conninfo, const std::string& key) {
  const std::size_t at = conninfo.find(key + "=");
  if (at == std::string::npos) return {};
  const std::size_t start = at + key.size() + 1;
  return conninfo.substr(start, conninfo.find(' ', start) - start);
}

// A database of this test's own, as the postgresql:// URL serve and the toolbox take.
std::string fresh_database() {
  const char* file = std::getenv("HOOKRX_PG_CONNINFO_FILE");  // NOLINT(concurrency-mt-unsafe)
  REQUIRE_MESSAGE(file != nullptr, "HOOKRX_PG_CONNINFO_FILE is set by the postgres_server fixture");
  std::ifstream in(file);
  std::string conninfo;
  std::getline(in, conninfo);
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  REQUIRE_MESSAGE(PQstatus(conn.get()) == CONNECTION_OK, PQerrorMessage(conn.get()));
  std::random_device rd;
  const std::string name = "hookrx_toolbox_" + std::to_string(rd()) + std::to_string(rd());
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), ("CREATE DATABASE " + name).c_str()), &PQclear);
  REQUIRE_MESSAGE(PQresultStatus(res.get()) == PGRES_COMMAND_OK, PQerrorMessage(conn.get()));
  return "postgresql://" + value_of(conninfo, "user") + "@" + value_of(conninfo, "host") + ":" +
         value_of(conninfo, "port") + "/" + name + "?connect_timeout=2";
}

}  // namespace

TEST_SUITE("cli inbox postgres") {
  TEST_CASE("inbox lists, shows and replays a dead letter on PostgreSQL while serve runs") {
    const std::string url = fresh_database();
    const std::string marker = hookrx_test::make_temp_dir("inbox-pg-marker");
    // The later --store wins over the fixture's SQLite default.
    hookrx_test::serve_fixture serve(
        {"--store", url, "--exec", "test -e " + marker + "/ok || exit 4", "--max-attempts", "1"}, "inbox-pg");
    const std::string key = "perfectparser:extraction.job_completed:ext_pg_dead";
    auto sent = run({binary, "send", serve.url("/webhooks/perfectparser"), "-e", "extraction.job_completed", "--live",
                     "--extraction-id", "ext_pg_dead"},
                    serve.env);
    REQUIRE_MESSAGE(sent.exit_code == 0, sent.err);
    auto state = [&] {
      auto r = run({binary, "inbox", "show", key, "--json", "--store", url});
      if (contains(r.out, "\"state\":\"dead\"")) return std::string("dead");
      if (contains(r.out, "\"state\":\"done\"")) return std::string("done");
      return std::string("other");
    };
    REQUIRE_MESSAGE(hookrx_test::eventually([&] { return state() == "dead"; }), serve.process->log());
    auto dead = run({binary, "inbox", "dead", "--store", url});
    CHECK(dead.exit_code == 0);
    CHECK(contains(dead.out, key));
    CHECK(contains(dead.out, "exit status 4"));
    hookrx_test::write_file(marker + "/ok", "");
    auto replayed = run({binary, "inbox", "replay", key, "--store", url});
    CHECK_MESSAGE(replayed.exit_code == 0, replayed.err);
    CHECK_MESSAGE(hookrx_test::eventually([&] { return state() == "done"; }), serve.process->log());
    bool sunk = false;
    for (const std::string& line : serve.jsonl_lines()) sunk = sunk || contains(line, key);
    CHECK(sunk);
    hookrx_test::remove_tree(marker);
  }
}
