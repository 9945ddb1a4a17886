#include <doctest/doctest.h>

#include <string>

#include "hookrx/api.hpp"
#include "parse_api.hpp"

namespace api = hookrx::detail::api;
using hookrx::api_errc;

TEST_SUITE("api response parsers") {
  TEST_CASE("a documented document answer is read into every field") {
    const std::string body = R"({"document": {"document_id": "doc_1", "extraction_id": "ext_1", "parser_id": "prs_1",
      "parser_name": "Invoices", "filename": "a.pdf", "file_type": "application/pdf", "file_size": 2048,
      "status": "completed", "page_count": 2, "credits_used": 2, "confidence": 0.93, "processing_time_ms": 1500,
      "extracted_data": {"total": "42.00", "lines": [1, 2]}, "error_message": null,
      "created_at": "2026-06-20T10:00:00.000Z", "updated_at": "2026-06-20T10:00:45.000Z", "new_field": {"x": 1}}})";
    auto d = api::parse_document(body);
    REQUIRE(d);
    CHECK(d->document_id == "doc_1");
    CHECK(d->extraction_id == "ext_1");
    CHECK(d->status == "completed");
    CHECK(d->parser_name == "Invoices");
    CHECK(d->file_size == 2048);
    CHECK(d->page_count == 2);
    CHECK(d->confidence == doctest::Approx(0.93));
    CHECK(d->processing_time_ms == 1500);
    CHECK(d->extracted_data == R"({"total": "42.00", "lines": [1, 2]})");
    CHECK_FALSE(d->error_message);
    CHECK(d->updated_at == "2026-06-20T10:00:45.000Z");
    CHECK(d->raw_json.find("new_field") != std::string::npos);
    CHECK(d->raw_json.front() == '{');
    CHECK(d->raw_json.back() == '}');
  }

  TEST_CASE("a document without its extraction id takes the one the call named") {
    auto d = api::parse_document(R"({"document":{"document_id":"d","status":"failed"}})", "ext_9");
    REQUIRE(d);
    CHECK(d->extraction_id == "ext_9");
  }

  TEST_CASE("an optional field of the wrong type is left absent rather than failing the answer") {
    auto d = api::parse_document(
        R"({"document":{"document_id":"d","status":"completed","page_count":"two","confidence":"high"}})");
    REQUIRE(d);
    CHECK_FALSE(d->page_count);
    CHECK_FALSE(d->confidence);
  }

  TEST_CASE("a required field missing or mistyped is unparsable and named") {
    auto a = api::parse_document(R"({"document":{"status":"completed"}})");
    REQUIRE_FALSE(a);
    CHECK(a.error().code == api_errc::unparsable);
    CHECK(a.error().detail.find("document_id") != std::string::npos);
    auto b = api::parse_document(R"({"document":{"document_id":"d","status":7}})");
    REQUIRE_FALSE(b);
    CHECK(b.error().detail.find("status") != std::string::npos);
    auto c = api::parse_extraction(R"({"extraction":{"status":"completed"}})");
    REQUIRE_FALSE(c);
    CHECK(c.error().detail.find("extraction_id") != std::string::npos);
  }

  TEST_CASE("bodies that are not JSON objects are unparsable, never a crash") {
    for (const char* body : {"", "null", "[]", "{", "{\"document\":", "<html>502 Bad Gateway</html>", "{} trailing",
                             "{\"document\": []}", "{\"extractions\": 5}", "\xff\xfe"}) {
      CAPTURE(body);
      CHECK(api::parse_document(body).error().code == api_errc::unparsable);
      CHECK(api::parse_extraction(body).error().code == api_errc::unparsable);
      CHECK(api::parse_extraction_page(body).error().code == api_errc::unparsable);
      CHECK(api::parse_user(body).error().code == api_errc::unparsable);
      CHECK(api::parse_parashift_document(body).error().code == api_errc::unparsable);
    }
    const std::string deep = std::string(5000, '[') + std::string(5000, ']');
    CHECK_FALSE(api::parse_results("{\"documents\":" + deep + "}"));
  }

  TEST_CASE("an extraction answer lists its documents without extracted data") {
    auto e = api::parse_extraction(R"({"extraction": {"extraction_id": "ext_1", "parser_id": "p", "parser_name": "P",
      "status": "partial", "file_count": 2, "page_count": 3, "credits_used": 3, "created_at": "2026-06-20T10:00:00.000Z",
      "updated_at": "2026-06-20T10:01:00.000Z", "completed_at": "2026-06-20T10:01:00.000Z",
      "documents": [{"document_id": "d1", "filename": "a.pdf", "status": "completed", "page_count": 1, "credits_used": 1},
                    {"document_id": "d2", "status": "failed", "error_message": "unreadable"}]}})");
    REQUIRE(e);
    CHECK(e->status == "partial");
    REQUIRE(e->documents.size() == 2);
    CHECK(e->documents[1].document_id == "d2");
    CHECK(e->documents[1].error_message == "unreadable");
    CHECK(e->completed_at == "2026-06-20T10:01:00.000Z");
  }

  TEST_CASE("a list page carries its items, summaries and the cursor") {
    auto p = api::parse_extraction_page(R"({"extractions": [
        {"extraction_id": "e1", "status": "completed", "document_summary": {"total": 3, "completed": 2, "failed": 1, "processing": 0}},
        {"extraction_id": "e2", "status": "processing"}],
      "pagination": {"limit": 2, "has_next_page": true, "next_cursor": "abc"}})");
    REQUIRE(p);
    REQUIRE(p->extractions.size() == 2);
    REQUIRE(p->extractions[0].summary);
    CHECK(p->extractions[0].summary->failed == 1);
    CHECK_FALSE(p->extractions[1].summary);
    CHECK(p->has_next_page);
    CHECK(p->next_cursor == "abc");
    auto last = api::parse_extraction_page(
        R"({"extractions": [], "pagination": {"has_next_page": false, "next_cursor": null}})");
    REQUIRE(last);
    CHECK_FALSE(last->has_next_page);
    auto broken = api::parse_extraction_page(R"({"extractions": [], "pagination": {"has_next_page": true}})");
    REQUIRE_FALSE(broken);
    CHECK(broken.error().detail.find("next_cursor") != std::string::npos);
  }

  TEST_CASE("results are found under documents, results or extraction") {
    for (
        const char* body :
        {R"({"extraction_id":"e","status":"completed","documents":[{"document_id":"d","status":"completed","extracted_data":{"a":1}}]})",
         R"({"results":[{"document_id":"d","status":"completed","extracted_data":{"a":1}}]})",
         R"({"extraction":{"extraction_id":"e","status":"completed","documents":[{"document_id":"d","status":"completed","extracted_data":{"a":1}}]}})",
         R"({"results":{"documents":[{"document_id":"d","status":"completed","extracted_data":{"a":1}}]}})"}) {
      CAPTURE(body);
      auto r = api::parse_results(body, "e");
      REQUIRE(r);
      REQUIRE(r->documents.size() == 1);
      CHECK(r->documents[0].extraction_id == "e");
      CHECK(r->documents[0].extracted_data == R"({"a":1})");
    }
  }

  TEST_CASE("the user answer and a submission answer are read") {
    auto u = api::parse_user(R"({"user":{"user_id":"u","email":"a@b","credits_available":42,"key_expires_at":null}})");
    REQUIRE(u);
    CHECK(u->credits_available == 42);
    CHECK_FALSE(u->key_expires_at);
    auto s = api::parse_submission(
        R"({"extraction":{"extraction_id":"ext_7","status":"queued","page_count":3,"credits_used":3,
      "documents":[{"document_id":"d1","status":"queued"}]}})");
    REQUIRE(s);
    CHECK(s->extraction_id == "ext_7");
    CHECK(s->credits_used == 3);
    CHECK(s->documents.size() == 1);
    auto flat = api::parse_submission(R"({"extraction_id":"ext_8","page_count":1})");
    REQUIRE(flat);
    CHECK(flat->extraction_id == "ext_8");
  }

  TEST_CASE("a Parashift document is read from its JSON:API envelope") {
    auto d = api::parse_parashift_document(R"({"data":{"id":"107786","type":"documents","attributes":{"status":"done",
      "tenant_id":1385,"sla_deadline":null,"custom_fields":{"SomeCustomField":"free text"},"external_id":"EX1",
      "created_at":"2021-05-12T10:05:46.229Z","updated_at":"2021-05-12T10:07:00.000Z","document_id":107786}},
      "included":[{"type":"document_fields","id":"1"}]})");
    REQUIRE(d);
    CHECK(d->id == "107786");
    CHECK(d->status == "done");
    CHECK(d->document_id == 107786);
    REQUIRE(d->custom_fields.size() == 1);
    CHECK(d->custom_fields[0].second == "free text");
    CHECK(d->included_json == R"([{"type":"document_fields","id":"1"}])");
    CHECK(d->attributes_json.find("tenant_id") != std::string::npos);
    auto numeric = api::parse_parashift_document(R"({"data":{"id":5,"attributes":{"status":"failed"}}})");
    REQUIRE(numeric);
    CHECK(numeric->id == "5");
    CHECK(api::parse_parashift_document(R"({"data":{"attributes":{}}})").error().detail.find("id") !=
          std::string::npos);
  }

  TEST_CASE("error bodies give their code at the top level or under error") {
    auto a = api::parse_error_body(R"({"error":{"code":"RESOURCE_NOT_FOUND","message":"no such document"}})");
    CHECK(a.code == "RESOURCE_NOT_FOUND");
    CHECK(a.message == "no such document");
    auto b = api::parse_error_body(R"({"code":"INSUFFICIENT_CREDITS","message":"top up"})");
    CHECK(b.code == "INSUFFICIENT_CREDITS");
    auto c = api::parse_error_body(R"({"error":"plain message"})");
    CHECK(c.code.empty());
    CHECK(c.message == "plain message");
    auto d = api::parse_error_body("<html>oops</html>");
    CHECK(d.code.empty());
  }
}
