// `hookrx serve --enrich` and `--poll` against the fake PerfectParser/Parashift API (tests/fake_api),
// over real HTTP: the sinks get the fetched document, and a document whose webhook never came is
// recovered by the poller and handed on once, marked origin "poll".
#include <doctest/doctest.h>

#include <ctime>

#include "fake_api.hpp"
#include "harness.hpp"

namespace {

using namespace hookrx_cli_test;

const std::string secret = "wh_sec_cli_api_0123456789";

std::string iso_now(int seconds_ago = 0) {
  const std::time_t t = std::time(nullptr) - seconds_ago;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  (void)std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

hookrx::testing::fake_extraction extraction(const std::string& id, bool with_data = true) {
  hookrx::testing::fake_extraction e;
  e.extraction_id = id;
  e.created_at = iso_now(120);
  e.updated_at = iso_now(60);
  e.completed_at = iso_now(60);
  hookrx::testing::fake_document d;
  d.document_id = "doc_1";
  if (with_data) d.extracted_data = R"({"total":"42.00","currency":"EUR"})";
  e.documents.push_back(d);
  return e;
}

env_list api_env(const hookrx::testing::fake_api& api) {
  return {{"HOOKRX_PP_SIGNING_SECRETS", secret},
          {"HOOKRX_PARASHIFT_TOKENS", "ps_webhook_token"},
          {"HOOKRX_PP_API_KEY", api.options().api_key},
          {"HOOKRX_PARASHIFT_API_KEY", api.options().parashift_token}};
}

std::vector<std::string> lines_with(const std::string& path, const std::string& needle) {
  std::vector<std::string> out;
  for (const std::string& line : lines_of(read_all(path))) {
    if (hookrx_test::contains(line, needle)) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_SUITE("hookrx serve with the API") {
  TEST_CASE("--enrich hands the sinks the document fetched from the API when the webhook carries no data") {
    auto api = hookrx::testing::fake_api::start({});
    REQUIRE(api != nullptr);
    api->put_extraction(extraction("ext_enrich"));
    hookrx::testing::fake_parashift_document ps;
    ps.id = "107786";
    ps.created_at = iso_now(60);
    ps.updated_at = iso_now(30);
    api->put_parashift_document(ps);
    temp_dir dir;
    const std::string jsonl = dir.path("events.jsonl");
    server s({"--jsonl", jsonl, "--store", "sqlite:" + dir.path("h.db"), "--enrich", "--pp-api-base", api->base_url(),
              "--parashift-api-base", api->base_url()},
             api_env(*api), dir);

    const std::string bare =
        R"({"event":"extraction.document_completed","extraction_id":"ext_enrich","document_id":"doc_1","status":"completed"})";
    CHECK(deliver(s.port(), bare, secret).status == 202);
    CHECK(deliver(s.port(), doc_body("ext_has_data", "doc_9"), secret).status == 202);  // has extracted_data: no fetch
    const std::string ps_body =
        R"({"topic":"document-received","id":"107786","type":"documents","attributes":{"document_id":107786,"status":"pending","created_at":"2021-05-12T10:05:46.302Z","updated_at":"2021-05-12T10:05:46.302Z"}})";
    CHECK(deliver_parashift(s.port(), ps_body, "ps_webhook_token").status == 202);

    REQUIRE(eventually([&] { return lines_of(read_all(jsonl)).size() == 3; }));
    const std::vector<std::string> enriched = lines_with(jsonl, "ext_enrich");
    REQUIRE(enriched.size() == 1);
    CHECK(hookrx_test::contains(enriched[0], R"("document":{)"));
    CHECK(hookrx_test::contains(enriched[0], R"("total":"42.00")"));
    const std::vector<std::string> plain = lines_with(jsonl, "ext_has_data");
    REQUIRE(plain.size() == 1);
    CHECK_FALSE(hookrx_test::contains(plain[0], R"("document":)"));
    const std::vector<std::string> parashift = lines_with(jsonl, "\"provider\":\"parashift\"");
    REQUIRE(parashift.size() == 1);
    CHECK(hookrx_test::contains(parashift[0], R"("document":{)"));
    CHECK(api->count("get_document") == 1);
    CHECK(api->count("parashift_document") == 1);
    CHECK(metric(s.port(), R"(hookrx_enrich_calls_total{outcome="ok"})") == 2);
    CHECK_FALSE(hookrx_test::contains(s.log(), api->options().api_key));
    CHECK(s.stop() == 0);
  }

  TEST_CASE("--poll recovers a document whose webhook never came, once, marked origin poll") {
    auto api = hookrx::testing::fake_api::start({});
    REQUIRE(api != nullptr);
    api->put_extraction(extraction("ext_lost"));
    temp_dir dir;
    const std::string jsonl = dir.path("events.jsonl");
    server s({"--jsonl", jsonl, "--store", "sqlite:" + dir.path("h.db"), "--poll", "--poll-interval", "0.2",
              "--poll-grace", "0.2", "--pp-api-base", api->base_url()},
             api_env(*api), dir);
    // One document's webhook comes (before the API lists its extraction); the other's is lost.
    CHECK(deliver(s.port(), doc_body("ext_came", "doc_1"), secret).status == 202);
    api->put_extraction(extraction("ext_came"));

    const std::string lost_key = doc_key("ext_lost", "doc_1");
    REQUIRE(eventually([&] { return !lines_with(jsonl, "\"key\":\"" + lost_key + "\"").empty(); }, 30s));
    const std::vector<std::string> recovered = lines_with(jsonl, "\"key\":\"" + lost_key + "\"");
    CHECK(recovered.size() == 1);
    CHECK(hookrx_test::contains(recovered[0], R"("origin":"poll")"));
    CHECK(eventually([&] { return metric(s.port(), R"(hookrx_poller_recoveries_total{kind="document"})") >= 1; }));
    // The API calls behind it are on /metrics too: the recovered document was fetched.
    CHECK(metric(s.port(), R"(hookrx_api_requests_total{endpoint="get_document",outcome="2xx"})") >= 1);
    // A few more rounds, with ext_came listed by the API too: its key is known, so it is not handed on again.
    const double rounds = metric(s.port(), "hookrx_poller_rounds_total");
    CHECK(rounds >= 1);
    CHECK(eventually([&] { return metric(s.port(), "hookrx_poller_rounds_total") >= rounds + 3; }));
    // The document whose webhook came is handed on once, as a webhook.
    const std::vector<std::string> came = lines_with(jsonl, "\"key\":\"" + doc_key("ext_came", "doc_1") + "\"");
    REQUIRE(came.size() == 1);
    CHECK(hookrx_test::contains(came[0], R"("origin":"webhook")"));
    CHECK(s.stop() == 0);
  }

  TEST_CASE("--poll without an API key refuses to start and names the variables") {
    temp_dir dir;
    const std::pair<int, std::string> ran =
        run_to_end({"serve", "--jsonl", dir.path("e.jsonl"), "--poll"}, {{"HOOKRX_PP_SIGNING_SECRETS", secret}}, dir);
    CHECK(ran.first == 2);
    CHECK(hookrx_test::contains(ran.second, "HOOKRX_PP_API_KEY"));
  }
}
