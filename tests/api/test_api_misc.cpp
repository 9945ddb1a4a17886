#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "hookrx/api.hpp"
#include "http.hpp"
#include "parse_api.hpp"

using namespace std::chrono_literals;
using hookrx::api_errc;

TEST_SUITE("api time helpers") {
  TEST_CASE("ISO-8601 times round-trip with milliseconds") {
    const auto t = hookrx::parse_iso8601("2026-06-20T10:00:45.123Z");
    REQUIRE(t);
    CHECK(hookrx::to_iso8601(*t) == "2026-06-20T10:00:45.123Z");
    CHECK(hookrx::parse_iso8601("2026-06-20T12:00:45+02:00") == hookrx::parse_iso8601("2026-06-20T10:00:45Z"));
    CHECK(hookrx::to_iso8601(hookrx::time_point{}) == "1970-01-01T00:00:00.000Z");
    CHECK(hookrx::parse_iso8601("2024-02-29T00:00:00Z"));
  }

  TEST_CASE("malformed ISO-8601 times are refused") {
    for (const char* s : {"", "2026-06-20", "2026-06-20T10:00:45", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
                          "2026-06-20T25:00:00Z", "2026-06-20T10:00:45.Z", "2026-06-20T10:00:45Zjunk"}) {
      CAPTURE(s);
      CHECK_FALSE(hookrx::parse_iso8601(s));
    }
  }

  TEST_CASE("HTTP dates are read in IMF-fixdate form") {
    const auto t = hookrx::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
    REQUIRE(t);
    CHECK(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count() == 784111777);
    CHECK_FALSE(hookrx::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
    CHECK_FALSE(hookrx::parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  }
}

TEST_SUITE("api submissions") {
  TEST_CASE("the derived idempotency key depends on the parser and the bytes, not the filenames") {
    std::vector<hookrx::submission_file> files{{"a.pdf", "%PDF-1 one", "application/pdf"},
                                               {"b.pdf", "%PDF-1 two", "application/pdf"}};
    const std::string key = hookrx::derive_idempotency_key("prs_1", files);
    CHECK(key.rfind("hookrx-", 0) == 0);
    CHECK(key.size() == 7 + 64);
    CHECK(hookrx::derive_idempotency_key("prs_1", files) == key);
    auto renamed = files;
    renamed[0].filename = "other.pdf";
    CHECK(hookrx::derive_idempotency_key("prs_1", renamed) == key);
    CHECK(hookrx::derive_idempotency_key("prs_2", files) != key);
    auto changed = files;
    changed[1].content += ' ';
    CHECK(hookrx::derive_idempotency_key("prs_1", changed) != key);
    auto swapped = std::vector<hookrx::submission_file>{files[1], files[0]};
    CHECK(hookrx::derive_idempotency_key("prs_1", swapped) != key);
    // Length prefixes: moving bytes between the parser id and nothing else cannot collide.
    CHECK(hookrx::derive_idempotency_key("prs_1", {}) != hookrx::derive_idempotency_key("prs_", {}));
  }

  TEST_CASE("a file read from a path keeps its name and guesses its content type") {
    const std::string path = "hookrx_api_test_upload.PDF";
    {
      std::ofstream out(path, std::ios::binary);
      out << std::string("%PDF-1.7\n\x00\x01", 11) << std::string(3, '\0');  // binary bytes kept
    }
    auto f = hookrx::submission_file::from_path(path);
    std::remove(path.c_str());
    REQUIRE(f);
    CHECK(f->filename == path);
    CHECK(f->content_type == "application/pdf");
    CHECK(f->content.size() == 14);
    auto missing = hookrx::submission_file::from_path("/nonexistent/dir/x.pdf");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == api_errc::invalid_argument);
    CHECK(missing.error().detail.find("/nonexistent/dir/x.pdf") != std::string::npos);
  }
}

TEST_SUITE("api events from answers") {
  TEST_CASE("a recovered document is the webhook's event with the webhook's key") {
    hookrx::pp_document d;
    d.extraction_id = "ext_1";
    d.document_id = "doc_2";
    d.status = "completed";
    d.extracted_data = R"({"total":"1.00"})";
    d.page_count = 2;
    auto ev = hookrx::to_event(d);
    REQUIRE(ev);
    const std::string webhook =
        R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":"doc_2","status":"completed"})";
    auto hook = hookrx::parse_event(hookrx::provider::perfectparser, webhook);
    REQUIRE(hook);
    CHECK(ev->key() == hook->key());
    CHECK(ev->key() == "perfectparser:extraction.document_completed:ext_1:doc_2");
    const auto* typed = ev->get_if<hookrx::document_completed>();
    REQUIRE(typed);
    CHECK(typed->extracted_data == R"({"total":"1.00"})");
    CHECK(typed->page_count == 2);
    // The stored body parses again into the same event (the inbox re-parses bodies).
    auto again = hookrx::parse_event(hookrx::provider::perfectparser, ev->raw_json());
    REQUIRE(again);
    CHECK(again->key() == ev->key());
  }

  TEST_CASE("a document read from the API keeps every field it had in the rebuilt event") {
    hookrx::pp_document d;
    d.extraction_id = "e";
    d.document_id = "d";
    d.status = "failed";
    d.raw_json = R"({"document_id":"d","status":"failed","error_message":"unreadable","vendor_extra":1})";
    auto ev = hookrx::to_event(d);
    REQUIRE(ev);
    CHECK(ev->get_if<hookrx::document_completed>()->error_message == "unreadable");
    CHECK(std::string(ev->raw_json()).find("vendor_extra") != std::string::npos);
  }

  TEST_CASE("a document whose raw JSON the webhook parser would refuse still becomes its event") {
    auto d = hookrx::detail::api::parse_document(
        R"({"document":{"document_id":"d","extraction_id":"e","status":"completed","page_count":"two","extracted_data":{"a":1}}})");
    REQUIRE(d);
    auto ev = hookrx::to_event(*d);
    REQUIRE(ev);
    CHECK(ev->key() == "perfectparser:extraction.document_completed:e:d");
    CHECK(ev->get_if<hookrx::document_completed>()->extracted_data == R"({"a":1})");
    CHECK_FALSE(ev->get_if<hookrx::document_completed>()->page_count);
  }

  TEST_CASE("documents and extractions that are not terminal make no event") {
    hookrx::pp_document d;
    d.extraction_id = "e";
    d.document_id = "d";
    d.status = "processing";
    CHECK(hookrx::to_event(d).error().code == api_errc::invalid_argument);
    hookrx::pp_extraction e;
    e.extraction_id = "e";
    e.status = "processing";
    CHECK_FALSE(hookrx::to_event(e));
    CHECK_FALSE(hookrx::to_batch_event(e));
  }

  TEST_CASE("job and batch events carry the webhook keys and a document summary") {
    hookrx::pp_extraction e;
    e.extraction_id = "ext_5";
    e.status = "partial";
    e.documents.push_back({"d1", "completed", {}, {}, {}, {}, {}, {}});
    e.documents.push_back({"d2", "failed", {}, {}, {}, {}, {}, {}});
    auto job = hookrx::to_event(e);
    REQUIRE(job);
    CHECK(job->key() == "perfectparser:extraction.job_completed:ext_5");
    REQUIRE(job->get_if<hookrx::job_completed>()->summary);
    CHECK(job->get_if<hookrx::job_completed>()->summary->failed == 1);
    auto batch = hookrx::to_batch_event(e);
    REQUIRE(batch);
    CHECK(batch->key() == "perfectparser:batch.partial:ext_5");
    CHECK(batch->get_if<hookrx::batch_finished>()->outcome == hookrx::batch_outcome::partial);
  }

  TEST_CASE("a polled Parashift document makes the terminal topic's event and key") {
    hookrx::parashift_document d;
    d.id = "107786";
    d.status = "done";
    d.updated_at = "2021-05-12T10:07:00.000Z";
    d.document_id = 107786;
    auto ev = hookrx::to_event(d);
    REQUIRE(ev);
    CHECK(ev->key() == "parashift:processing-finished:107786:2021-05-12T10:07:00.000Z");
    CHECK(ev->get_if<hookrx::document_event>()->topic == hookrx::parashift_topic::processing_finished);
    d.status = "failed";
    CHECK(hookrx::to_event(d)->key() == "parashift:processing-failed:107786:2021-05-12T10:07:00.000Z");
    d.status = "in_progress";
    CHECK_FALSE(hookrx::to_event(d));
  }
}

TEST_SUITE("api base URLs") {
  TEST_CASE("base URLs are scheme, host, optional port and path, nothing else") {
    auto a = hookrx::detail::api::parse_base_url("https://api.perfectparser.com");
    REQUIRE(a);
    CHECK(a->https);
    CHECK(a->origin == "https://api.perfectparser.com");
    CHECK(a->prefix.empty());
    auto b = hookrx::detail::api::parse_base_url("http://127.0.0.1:8080/proxy/");
    REQUIRE(b);
    CHECK_FALSE(b->https);
    CHECK(b->origin == "http://127.0.0.1:8080");
    CHECK(b->prefix == "/proxy");
    for (const char* bad : {"", "ftp://x", "api.perfectparser.com", "https://", "https://user:pw@host", "https://h:0",
                            "https://h:99999", "https://h:port", "https://h/p?q=1", "https://h /x"}) {
      CAPTURE(bad);
      auto r = hookrx::detail::api::parse_base_url(bad);
      REQUIRE_FALSE(r);
      CHECK(r.error().detail.find("base_url") == 0);
    }
  }

  TEST_CASE("every documented status and vendor code maps to its own error") {
    using hookrx::detail::api::error_for_status;
    CHECK(error_for_status(401, R"({"error":{"code":"UNAUTHORIZED"}})").code == api_errc::unauthorized);
    CHECK(error_for_status(402, R"({"error":{"code":"INSUFFICIENT_CREDITS"}})").code == api_errc::insufficient_credits);
    CHECK(error_for_status(404, R"({"error":{"code":"RESOURCE_NOT_FOUND"}})").code == api_errc::not_found);
    CHECK(error_for_status(400, R"({"code":"INVALID_PAYLOAD"})").code == api_errc::invalid_request);
    CHECK(error_for_status(409, R"({"code":"CONFLICT"})").code == api_errc::conflict);
    CHECK(error_for_status(429, "").code == api_errc::rate_limited);
    CHECK(error_for_status(503, "<html>").code == api_errc::server_error);
    CHECK(error_for_status(418, "").code == api_errc::http_status);
    const auto e = error_for_status(400, R"({"error":{"code":"INSUFFICIENT_CREDITS","message":"top up"}})");
    CHECK(e.code == api_errc::insufficient_credits);
    CHECK(e.vendor_code == "INSUFFICIENT_CREDITS");
    CHECK(e.http_status == 400);
    CHECK(e.detail == "top up");
    CHECK(e.message() == "insufficient_credits (HTTP 400 INSUFFICIENT_CREDITS): top up");
  }
}

TEST_SUITE("api counters") {
  TEST_CASE("the counters render as Prometheus text: _total counters, time in seconds, no empty series") {
    hookrx::api_counters c;
    c.count_request(hookrx::api_endpoint::submit, hookrx::api_outcome::s4xx);
    c.count_request(hookrx::api_endpoint::submit, hookrx::api_outcome::s4xx);
    c.count_rate_limited();
    c.count_wait(std::chrono::milliseconds(1500));
    c.count_wait(std::chrono::milliseconds(250));
    const std::string text = c.snapshot().to_prometheus();
    CHECK(text.find("hookrx_api_requests_total{endpoint=\"submit\",outcome=\"4xx\"} 2\n") != std::string::npos);
    CHECK(text.find("hookrx_api_rate_limited_total 1\n") != std::string::npos);
    CHECK(text.find("hookrx_api_waits_total 2\n") != std::string::npos);
    CHECK(text.find("hookrx_api_wait_seconds_total 1.75") != std::string::npos);
    CHECK(text.find("milliseconds") == std::string::npos);
    CHECK(text.find("outcome=\"2xx\"") == std::string::npos);  // endpoints never called are not listed
  }
}
