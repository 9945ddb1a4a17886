// `hookrx serve --dedup redis://...`: keys claimed in Redis outlive an instance's own inbox, so a
// fresh instance on an empty memory: store still answers a redelivery as a duplicate.
#include <doctest/doctest.h>

#include "harness.hpp"

namespace {
using namespace hookrx_cli_test;
const std::string secret = "wh_sec_cli_redis_0123456789";
}  // namespace

TEST_SUITE("hookrx serve with redis dedup") {
  TEST_CASE("a key claimed in Redis is a duplicate for a new instance with an empty inbox") {
    const char* file = std::getenv("HOOKRX_REDIS_PORT_FILE");
    REQUIRE_MESSAGE(file != nullptr, "HOOKRX_REDIS_PORT_FILE is set by the redis_server fixture");
    const std::string port = lines_of(read_all(file)).at(0);
    std::random_device rd;
    const std::string db = std::to_string(rd() % 15 + 1);  // a database of its own (1..15)
    temp_dir dir;
    const std::string jsonl = dir.path("events.jsonl");
    const std::vector<std::string> args = {"--store", "memory:", "--jsonl",
                                           jsonl,     "--dedup", "redis://127.0.0.1:" + port + "/" + db};
    const std::string body = doc_body("ext_redis_" + std::to_string(rd()), "doc_1");
    {
      server s(args, {{"HOOKRX_PP_SIGNING_SECRETS", secret}}, dir);
      CHECK(deliver(s.port(), body, secret).status == 202);
      CHECK(deliver(s.port(), body, secret).status == 200);
      REQUIRE(eventually([&] { return lines_of(read_all(jsonl)).size() == 1; }));
      CHECK(s.stop() == 0);
    }
    server s(args, {{"HOOKRX_PP_SIGNING_SECRETS", secret}}, dir);
    const reply again = deliver(s.port(), body, secret);
    CHECK(again.status == 200);
    CHECK(hookrx_test::contains(again.body, "duplicate"));
    CHECK(deliver(s.port(), doc_body("ext_redis_other", std::to_string(rd())), secret).status == 202);
    REQUIRE(eventually([&] { return lines_of(read_all(jsonl)).size() == 2; }));
    CHECK(s.stop() == 0);
  }
}
