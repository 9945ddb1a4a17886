// parse_event: every event type's fields, idempotency keys (shared/spec), and error reporting.
#include <doctest/doctest.h>

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hookrx/events.hpp"
#include "support.hpp"

using hookrx_test::contains;
using hookrx_test::sha256_hex;

namespace {

hookrx::event parse_ok(hookrx::provider p, std::string_view body) {
  auto ev = hookrx::parse_event(p, body);
  INFO("body: " << std::string(body.substr(0, 200)));
  REQUIRE_MESSAGE(ev.has_value(), hookrx_test::why(ev));
  return std::move(ev).value();
}

hookrx::event pp(std::string_view body) { return parse_ok(hookrx::provider::perfectparser, body); }
hookrx::event ps(std::string_view body) { return parse_ok(hookrx::provider::parashift, body); }

hookrx::error parse_error(hookrx::provider p, std::string_view body) {
  auto ev = hookrx::parse_event(p, body);
  INFO("body: " << std::string(body.substr(0, 200)));
  REQUIRE_FALSE(ev.has_value());
  return ev.error();
}

hookrx::error pp_error(std::string_view body) { return parse_error(hookrx::provider::perfectparser, body); }
hookrx::error ps_error(std::string_view body) { return parse_error(hookrx::provider::parashift, body); }

const std::vector<std::string> spec_topics = {
    "document-received",
    "preprocessing-done",
    "automatic-separation-done",
    "ready-for-separation-first-level",
    "ready-for-separation-second-level",
    "ready-for-separation-third-level",
    "ready-for-separation-qc",
    "separation-done",
    "automatic-classification-done",
    "ready-for-classification-first-level",
    "ready-for-classification-second-level",
    "ready-for-classification-third-level",
    "ready-for-classification-qc",
    "classification-done",
    "automatic-extraction-done",
    "ready-for-extraction-first-level",
    "ready-for-extraction-second-level",
    "ready-for-extraction-third-level",
    "ready-for-extraction-qc",
    "extraction-done",
    "processing-finished",
    "processing-failed",
};

std::string parashift_body(std::string_view topic) {
  return std::string(R"({"id":"107786","type":"documents","attributes":{"status":"pending","tenant_id":1385,)") +
         R"("updated_at":"2021-05-12T10:05:46.302Z","document_id":107786},"topic":")" + std::string(topic) + "\"}";
}

}  // namespace

TEST_SUITE("events") {
  TEST_CASE("a document_completed event carries every documented field") {
    const std::string extracted =
        R"({"invoice_number": "INV-001", "total": 1250.50, "lines": [ {"sku": "A1", "qty": 2} ]})";
    const std::string body =
        R"({"event":"extraction.document_completed","extraction_id":"ext_123","document_id":"doc_1",)"
        R"("status":"completed","parser_id":"prs_999","parser_name":"Invoices","filename":"invoice.pdf",)"
        R"("page_count":3,"credits_used":4,"confidence":0.97,"processing_time_ms":4210,)"
        R"("extracted_data":)" +
        extracted +
        R"(,"error_message":"none","created_at":"2026-06-20T10:00:00.000Z",)"
        R"("updated_at":"2026-06-20T10:00:45.000Z"})";
    const hookrx::event ev = pp(body);
    CHECK(ev.source() == hookrx::provider::perfectparser);
    CHECK(ev.name() == "extraction.document_completed");
    CHECK_FALSE(ev.is_test());
    CHECK(ev.raw_json() == body);
    CHECK(ev.key() == "perfectparser:extraction.document_completed:ext_123:doc_1");
    const auto* doc = ev.get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    CHECK(doc->extraction_id == "ext_123");
    CHECK(doc->document_id == "doc_1");
    CHECK(doc->status == "completed");
    CHECK(doc->parser_id == std::optional<std::string>("prs_999"));
    CHECK(doc->parser_name == std::optional<std::string>("Invoices"));
    CHECK(doc->filename == std::optional<std::string>("invoice.pdf"));
    CHECK(doc->error_message == std::optional<std::string>("none"));
    CHECK(doc->created_at == std::optional<std::string>("2026-06-20T10:00:00.000Z"));
    CHECK(doc->updated_at == std::optional<std::string>("2026-06-20T10:00:45.000Z"));
    CHECK(doc->page_count == std::optional<std::int64_t>(3));
    CHECK(doc->credits_used == std::optional<std::int64_t>(4));
    CHECK(doc->processing_time_ms == std::optional<std::int64_t>(4210));
    REQUIRE(doc->confidence.has_value());
    CHECK(*doc->confidence == doctest::Approx(0.97));
    // Kept exactly as sent: spacing and number spelling included.
    CHECK(doc->extracted_data == extracted);
  }

  TEST_CASE("a document_completed event with only the required fields leaves the optional ones absent") {
    const hookrx::event ev =
        pp(R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":"failed"})");
    const auto* doc = ev.get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    CHECK(doc->status == "failed");
    CHECK_FALSE(doc->parser_id.has_value());
    CHECK_FALSE(doc->parser_name.has_value());
    CHECK_FALSE(doc->filename.has_value());
    CHECK_FALSE(doc->error_message.has_value());
    CHECK_FALSE(doc->created_at.has_value());
    CHECK_FALSE(doc->updated_at.has_value());
    CHECK_FALSE(doc->page_count.has_value());
    CHECK_FALSE(doc->credits_used.has_value());
    CHECK_FALSE(doc->processing_time_ms.has_value());
    CHECK_FALSE(doc->confidence.has_value());
    CHECK(doc->extracted_data.empty());
  }

  TEST_CASE("null optional fields are absent and null extracted_data is empty") {
    const hookrx::event ev =
        pp(R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":"failed",)"
           R"("parser_id":null,"parser_name":null,"filename":null,"error_message":null,"created_at":null,)"
           R"("updated_at":null,"page_count":null,"credits_used":null,"processing_time_ms":null,"confidence":null,)"
           R"("extracted_data":null})");
    const auto* doc = ev.get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    CHECK_FALSE(doc->parser_id.has_value());
    CHECK_FALSE(doc->parser_name.has_value());
    CHECK_FALSE(doc->filename.has_value());
    CHECK_FALSE(doc->error_message.has_value());
    CHECK_FALSE(doc->created_at.has_value());
    CHECK_FALSE(doc->updated_at.has_value());
    CHECK_FALSE(doc->page_count.has_value());
    CHECK_FALSE(doc->credits_used.has_value());
    CHECK_FALSE(doc->processing_time_ms.has_value());
    CHECK_FALSE(doc->confidence.has_value());
    CHECK(doc->extracted_data.empty());
  }

  TEST_CASE("an integer confidence is read as a number") {
    const hookrx::event ev = pp(
        R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":"completed","confidence":1})");
    const auto* doc = ev.get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    REQUIRE(doc->confidence.has_value());
    CHECK(*doc->confidence == doctest::Approx(1.0));
  }

  TEST_CASE("a job_completed event carries its summary and the raw documents array") {
    const std::string documents =
        R"([{"document_id": "doc_1", "status": "completed"}, {"document_id": "doc_2", "status": "failed"}])";
    const std::string body = R"({"event":"extraction.job_completed","extraction_id":"ext_123","status":"partial",)"
                             R"("parser_id":"prs_999","file_count":3,"page_count":7,"credits_used":8,)"
                             R"("document_summary":{"total":3,"completed":2,"failed":1,"processing":0},)"
                             R"("documents":)" +
                             documents + R"(,"completed_at":"2026-06-20T10:01:10.000Z"})";
    const hookrx::event ev = pp(body);
    CHECK(ev.name() == "extraction.job_completed");
    CHECK(ev.key() == "perfectparser:extraction.job_completed:ext_123");
    CHECK(ev.raw_json() == body);
    const auto* job = ev.get_if<hookrx::job_completed>();
    REQUIRE(job != nullptr);
    CHECK(job->extraction_id == "ext_123");
    CHECK(job->status == std::optional<std::string>("partial"));
    CHECK(job->parser_id == std::optional<std::string>("prs_999"));
    CHECK(job->completed_at == std::optional<std::string>("2026-06-20T10:01:10.000Z"));
    CHECK(job->file_count == std::optional<std::int64_t>(3));
    CHECK(job->page_count == std::optional<std::int64_t>(7));
    CHECK(job->credits_used == std::optional<std::int64_t>(8));
    REQUIRE(job->summary.has_value());
    CHECK(job->summary->total == 3);
    CHECK(job->summary->completed == 2);
    CHECK(job->summary->failed == 1);
    CHECK(job->summary->processing == 0);
    CHECK(job->documents == documents);
  }

  TEST_CASE("a job_completed event without optional fields has no summary and no documents") {
    const hookrx::event ev = pp(R"({"event":"extraction.job_completed","extraction_id":"x","documents":null})");
    const auto* job = ev.get_if<hookrx::job_completed>();
    REQUIRE(job != nullptr);
    CHECK_FALSE(job->status.has_value());
    CHECK_FALSE(job->summary.has_value());
    CHECK_FALSE(job->file_count.has_value());
    CHECK(job->documents.empty());
    CHECK_FALSE(ev.is_test());
  }

  TEST_CASE("a test delivery is flagged as a test") {
    const hookrx::event ev = pp(R"({"event":"extraction.job_completed","extraction_id":"ext_test_1","test":true})");
    CHECK(ev.is_test());
    CHECK(ev.is<hookrx::job_completed>());
    CHECK_FALSE(pp(R"({"event":"extraction.job_completed","extraction_id":"x","test":false})").is_test());
  }

  TEST_CASE("each batch event announces its outcome") {
    const std::pair<const char*, hookrx::batch_outcome> cases[] = {
        {"batch.completed", hookrx::batch_outcome::completed},
        {"batch.failed", hookrx::batch_outcome::failed},
        {"batch.partial", hookrx::batch_outcome::partial},
    };
    for (const auto& c : cases) {
      INFO("event: " << c.first);
      const std::string body = std::string(R"({"event":")") + c.first +
                               R"(","extraction_id":"ext_9","parser_id":"prs_1","parser_name":"Receipts",)"
                               R"("status":"done","file_count":2,"completed_at":"2026-06-20T11:00:00.000Z",)"
                               R"("document_summary":{"total":2,"completed":1,"failed":1,"processing":0}})";
      const hookrx::event ev = pp(body);
      CHECK(ev.name() == c.first);
      CHECK(ev.key() == std::string("perfectparser:") + c.first + ":ext_9");
      const auto* batch = ev.get_if<hookrx::batch_finished>();
      REQUIRE(batch != nullptr);
      CHECK(batch->outcome == c.second);
      CHECK(batch->extraction_id == "ext_9");
      CHECK_FALSE(batch->batch_id.has_value());
      CHECK(batch->parser_id == std::optional<std::string>("prs_1"));
      CHECK(batch->parser_name == std::optional<std::string>("Receipts"));
      CHECK(batch->status == std::optional<std::string>("done"));
      CHECK(batch->completed_at == std::optional<std::string>("2026-06-20T11:00:00.000Z"));
      CHECK(batch->file_count == std::optional<std::int64_t>(2));
      REQUIRE(batch->summary.has_value());
      CHECK(batch->summary->total == 2);
      CHECK(batch->summary->failed == 1);
    }
  }

  TEST_CASE("a batch event without extraction_id falls back to batch_id") {
    const hookrx::event ev = pp(R"({"event":"batch.failed","batch_id":"ext_10"})");
    const auto* batch = ev.get_if<hookrx::batch_finished>();
    REQUIRE(batch != nullptr);
    CHECK(batch->extraction_id == "ext_10");
    CHECK(batch->batch_id == std::optional<std::string>("ext_10"));
    CHECK(batch->outcome == hookrx::batch_outcome::failed);
    CHECK(ev.key() == "perfectparser:batch.failed:ext_10");
    // extraction_id wins when both are there.
    const hookrx::event both = pp(R"({"event":"batch.completed","batch_id":"b_1","extraction_id":"ext_11"})");
    CHECK(both.get_if<hookrx::batch_finished>()->extraction_id == "ext_11");
    CHECK(both.get_if<hookrx::batch_finished>()->batch_id == std::optional<std::string>("b_1"));
    CHECK(both.key() == "perfectparser:batch.completed:ext_11");
    // Neither: the id is required.
    const hookrx::error e = pp_error(R"({"event":"batch.completed","status":"completed"})");
    CHECK(e.code() == hookrx::errc::missing_field);
    CHECK(contains(e.detail(), "extraction_id"));
  }

  TEST_CASE("fields inside data are read when the top level lacks them") {
    const hookrx::event ev =
        pp(R"({"event":"extraction.document_completed","data":{"extraction_id":"ext_123","document_id":"doc_1",)"
           R"("status":"completed","page_count":2,"extracted_data":{"a": 1}}})");
    const auto* doc = ev.get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    CHECK(doc->extraction_id == "ext_123");
    CHECK(doc->document_id == "doc_1");
    CHECK(doc->page_count == std::optional<std::int64_t>(2));
    CHECK(doc->extracted_data == R"({"a": 1})");
    CHECK(ev.key() == "perfectparser:extraction.document_completed:ext_123:doc_1");
  }

  TEST_CASE("a top-level field takes precedence over the same field inside data") {
    const hookrx::event ev =
        pp(R"({"event":"extraction.document_completed","extraction_id":"ext_top","status":"failed",)"
           R"("data":{"extraction_id":"ext_data","document_id":"doc_data","status":"completed"}})");
    const auto* doc = ev.get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    CHECK(doc->extraction_id == "ext_top");
    CHECK(doc->status == "failed");
    CHECK(doc->document_id == "doc_data");
    CHECK(ev.key() == "perfectparser:extraction.document_completed:ext_top:doc_data");
  }

  TEST_CASE("the event name is read from type when event is absent") {
    const hookrx::event ev = pp(R"({"type":"extraction.job_completed","extraction_id":"x"})");
    CHECK(ev.name() == "extraction.job_completed");
    CHECK(ev.is<hookrx::job_completed>());
    // event wins over type.
    const hookrx::event both = pp(R"({"event":"batch.partial","type":"extraction.job_completed","extraction_id":"x"})");
    CHECK(both.name() == "batch.partial");
    CHECK(both.is<hookrx::batch_finished>());
    // type before event, or not a string, does not matter while event names the event.
    const hookrx::event later = pp(R"({"type":7,"extraction_id":"x","event":"extraction.job_completed"})");
    CHECK(later.name() == "extraction.job_completed");
    CHECK(later.is<hookrx::job_completed>());
    CHECK(pp_error(R"({"type":7,"extraction_id":"x"})").code() == hookrx::errc::wrong_type);
    CHECK(pp_error(R"({"type":7,"extraction_id":"x"})").detail() == "type");
  }

  TEST_CASE("keys written with JSON escapes are read like the same keys written plainly") {
    const hookrx::event ev = pp(R"({"\u0065vent":"extraction.document_completed","extraction\u005fid":"ext_1",)"
                                R"("document_id":"doc_1","st\u0061tus":"completed","file\/name":"x"})");
    REQUIRE(ev.is<hookrx::document_completed>());
    CHECK(ev.key() == "perfectparser:extraction.document_completed:ext_1:doc_1");
    CHECK(ev.get_if<hookrx::document_completed>()->status == "completed");
    CHECK_FALSE(ev.get_if<hookrx::document_completed>()->filename.has_value());  // "file/name" is another key
    const hookrx::event p = ps(R"({"t\u006fpic":"document-received","id":"9","attributes":{"st\u0061tus":"done"}})");
    REQUIRE(p.is<hookrx::document_event>());
    CHECK(p.get_if<hookrx::document_event>()->topic == hookrx::parashift_topic::document_received);
    CHECK(p.get_if<hookrx::document_event>()->status == "done");
  }

  TEST_CASE("keys of every length, with bytes above 0x7F or an escape at any position, are read exactly") {
    // Keys are scanned a word at a time: the closing quote or a backslash may sit at any byte of a
    // word, and a byte above 0x7F is neither.
    for (std::size_t length = 1; length <= 24; ++length) {
      CAPTURE(length);
      const std::string filler(length, 'k');
      const std::string unicode = "\xC3\xA9" + std::string(length, 'x');  // "é", then x's
      const hookrx::event ev = pp(R"({"event":"extraction.document_completed","extraction_id":"ext_1",")" + filler +
                                  R"(":1,")" + unicode + R"(":2,"document_id":"doc_1","status":"completed",)" +
                                  R"("page_\u0063ount":7,")" + filler + R"(\u0041":3})");
      REQUIRE(ev.is<hookrx::document_completed>());
      CHECK(ev.key() == "perfectparser:extraction.document_completed:ext_1:doc_1");
      CHECK(ev.get_if<hookrx::document_completed>()->page_count == 7);
      // A key that is a modelled name plus an escaped suffix is another key.
      const hookrx::event other = pp(R"({"event":"extraction.document_completed","extraction_id":"ext_1",)"
                                     R"("document_id":"doc_1","status":"completed","page_count\u0041":5,")" +
                                     filler + R"(":0})");
      CHECK_FALSE(other.get_if<hookrx::document_completed>()->page_count.has_value());
    }
  }

  TEST_CASE("an unknown PerfectParser event is accepted with whatever ids it carries") {
    const hookrx::event both =
        pp(R"({"event":"extraction.document_reprocessed","extraction_id":"e1","document_id":"d1"})");
    const auto* u = both.get_if<hookrx::unknown_event>();
    REQUIRE(u != nullptr);
    CHECK(u->extraction_id == std::optional<std::string>("e1"));
    CHECK(u->document_id == std::optional<std::string>("d1"));
    CHECK(both.key() == "perfectparser:extraction.document_reprocessed:e1:d1");

    const hookrx::event ext_only = pp(R"({"event":"extraction.started","extraction_id":"e2"})");
    CHECK(ext_only.key() == "perfectparser:extraction.started:e2");
    CHECK_FALSE(ext_only.get_if<hookrx::unknown_event>()->document_id.has_value());

    const hookrx::event doc_only = pp(R"({"event":"document.archived","document_id":"d3"})");
    CHECK(doc_only.key() == "perfectparser:document.archived:d3");
    CHECK_FALSE(doc_only.get_if<hookrx::unknown_event>()->extraction_id.has_value());
  }

  TEST_CASE("an unknown event without ids is keyed on the SHA-256 of its raw body") {
    const std::string body = "{\"event\": \"account.credits_low\",  \"remaining\": 12}\n";
    const hookrx::event ev = pp(body);
    CHECK(ev.is<hookrx::unknown_event>());
    CHECK(ev.name() == "account.credits_low");
    CHECK(ev.key() == "perfectparser:sha256:" + sha256_hex(body));
    // A byte more is another key.
    CHECK(pp(body + " ").key() == "perfectparser:sha256:" + sha256_hex(body + " "));
    CHECK(pp(body + " ").key() != ev.key());
  }

  TEST_CASE("raw_json is the body exactly as received") {
    const std::string body =
        "{ \"event\" : \"extraction.job_completed\" ,\n \"extraction_id\":\"x\", \"extra\": [1, 2.50] }\r\n";
    CHECK(pp(body).raw_json() == body);
  }

  TEST_CASE("a Parashift document event carries every documented field") {
    const std::string body =
        R"({"id": "107786", "type": "documents", "attributes": {"status": "in_progress", "tenant_id": 1385,)"
        R"( "sla_deadline": "2021-05-13T10:05:46.229Z", "custom_fields": {"SomeCustomField": "free text", "Other": "2"},)"
        R"( "external_id": "EX123456789", "created_at": "2021-05-12T10:05:46.229Z",)"
        R"( "updated_at": "2021-05-12T10:05:46.302Z", "document_id": 107786},)"
        R"( "request_id": "ef083852541ff078340a516432aee2f4", "topic": "document-received"})";
    const hookrx::event ev = ps(body);
    CHECK(ev.source() == hookrx::provider::parashift);
    CHECK(ev.name() == "document-received");
    CHECK(ev.raw_json() == body);
    CHECK_FALSE(ev.is_test());
    CHECK(ev.key() == "parashift:document-received:107786:2021-05-12T10:05:46.302Z");
    const auto* doc = ev.get_if<hookrx::document_event>();
    REQUIRE(doc != nullptr);
    CHECK(doc->topic == hookrx::parashift_topic::document_received);
    CHECK(doc->topic_name == "document-received");
    CHECK(doc->id == std::optional<std::string>("107786"));
    CHECK(doc->type == std::optional<std::string>("documents"));
    CHECK(doc->request_id == std::optional<std::string>("ef083852541ff078340a516432aee2f4"));
    CHECK(doc->document_id == std::optional<std::int64_t>(107786));
    CHECK(doc->tenant_id == std::optional<std::int64_t>(1385));
    CHECK(doc->status == std::optional<std::string>("in_progress"));
    CHECK(doc->sla_deadline == std::optional<std::string>("2021-05-13T10:05:46.229Z"));
    CHECK(doc->external_id == std::optional<std::string>("EX123456789"));
    CHECK(doc->created_at == std::optional<std::string>("2021-05-12T10:05:46.229Z"));
    CHECK(doc->updated_at == std::optional<std::string>("2021-05-12T10:05:46.302Z"));
    const std::vector<std::pair<std::string, std::string>> custom = {{"SomeCustomField", "free text"}, {"Other", "2"}};
    CHECK(doc->custom_fields == custom);
  }

  TEST_CASE("a Parashift event without optional attributes leaves them absent") {
    const hookrx::event ev = ps(
        R"({"id":"5","attributes":{"sla_deadline":null,"updated_at":"2021-05-12T10:07:00.000Z"},"topic":"processing-failed"})");
    const auto* doc = ev.get_if<hookrx::document_event>();
    REQUIRE(doc != nullptr);
    CHECK(doc->topic == hookrx::parashift_topic::processing_failed);
    CHECK_FALSE(doc->sla_deadline.has_value());
    CHECK_FALSE(doc->external_id.has_value());
    CHECK_FALSE(doc->document_id.has_value());
    CHECK_FALSE(doc->tenant_id.has_value());
    CHECK_FALSE(doc->status.has_value());
    CHECK_FALSE(doc->request_id.has_value());
    CHECK(doc->custom_fields.empty());
    CHECK(ev.key() == "parashift:processing-failed:5:2021-05-12T10:07:00.000Z");
  }

  TEST_CASE("there are 22 Parashift topics and each name round-trips") {
    CHECK(static_cast<int>(hookrx::parashift_topic::unknown) == 22);
    REQUIRE(spec_topics.size() == 22);
    std::set<std::string_view> names;
    for (int i = 0; i < 22; ++i) {
      const auto topic = static_cast<hookrx::parashift_topic>(i);
      const std::string_view name = hookrx::to_string(topic);
      INFO("topic #" << i << ": " << std::string(name));
      CHECK(name == spec_topics[static_cast<std::size_t>(i)]);
      CHECK(hookrx::parse_parashift_topic(name) == topic);
      CHECK(names.insert(name).second);
    }
    CHECK(hookrx::to_string(hookrx::parashift_topic::unknown) == "unknown");
    CHECK(hookrx::parse_parashift_topic("") == hookrx::parashift_topic::unknown);
    CHECK(hookrx::parse_parashift_topic("document-received-") == hookrx::parashift_topic::unknown);
    CHECK(hookrx::parse_parashift_topic("document_received") == hookrx::parashift_topic::unknown);
    CHECK(hookrx::parse_parashift_topic("ready-for-validation-fourth-level") == hookrx::parashift_topic::unknown);
  }

  TEST_CASE("each documented topic in a body parses to its enum value") {
    for (std::size_t i = 0; i < spec_topics.size(); ++i) {
      INFO("topic: " << spec_topics[i]);
      const hookrx::event ev = ps(parashift_body(spec_topics[i]));
      const auto* doc = ev.get_if<hookrx::document_event>();
      REQUIRE(doc != nullptr);
      CHECK(doc->topic == static_cast<hookrx::parashift_topic>(i));
      CHECK(doc->topic_name == spec_topics[i]);
      CHECK(ev.key() == "parashift:" + spec_topics[i] + ":107786:2021-05-12T10:05:46.302Z");
    }
  }

  TEST_CASE("an unknown Parashift topic is a document event with topic unknown") {
    const hookrx::event ev = ps(parashift_body("ready-for-validation-fourth-level"));
    const auto* doc = ev.get_if<hookrx::document_event>();
    REQUIRE(doc != nullptr);
    CHECK(doc->topic == hookrx::parashift_topic::unknown);
    CHECK(doc->topic_name == "ready-for-validation-fourth-level");
    CHECK(ev.name() == "ready-for-validation-fourth-level");
    CHECK(doc->document_id == std::optional<std::int64_t>(107786));
  }

  TEST_CASE("a Parashift event without id or updated_at is keyed on the SHA-256 of its body") {
    const std::string no_id =
        R"({"type":"documents","attributes":{"updated_at":"2021-05-12T10:05:46.302Z"},"topic":"separation-done"})";
    CHECK(ps(no_id).key() == "parashift:sha256:" + sha256_hex(no_id));
    const std::string no_updated = R"({"id":"9","attributes":{"status":"done"},"topic":"separation-done"})";
    CHECK(ps(no_updated).key() == "parashift:sha256:" + sha256_hex(no_updated));
    const std::string no_attributes = R"({"id":"9","topic":"separation-done"})";
    CHECK(ps(no_attributes).key() == "parashift:sha256:" + sha256_hex(no_attributes));
  }

  TEST_CASE("a missing required field is missing_field naming the field") {
    struct c {
      const char* body;
      const char* field;
    };
    const c cases[] = {
        {R"({"event":"extraction.document_completed","extraction_id":"e","status":"completed"})", "document_id"},
        {R"({"event":"extraction.document_completed","document_id":"d","status":"completed"})", "extraction_id"},
        {R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d"})", "status"},
        {R"({"event":"extraction.job_completed","status":"completed"})", "extraction_id"},
        {R"({"extraction_id":"e","document_id":"d"})", "event"},
    };
    for (const auto& x : cases) {
      INFO("body: " << x.body);
      const hookrx::error e = pp_error(x.body);
      CHECK(e.code() == hookrx::errc::missing_field);
      CHECK(contains(e.detail(), x.field));
      CHECK(contains(e.message(), x.field));
    }
    const hookrx::error topic = ps_error(R"({"id":"1","attributes":{"document_id":1}})");
    CHECK(topic.code() == hookrx::errc::missing_field);
    CHECK(contains(topic.detail(), "topic"));
  }

  TEST_CASE("a field of the wrong type is wrong_type naming the field") {
    struct c {
      const char* body;
      const char* field;
    };
    const c cases[] = {
        {R"({"event":"extraction.document_completed","extraction_id":123,"document_id":"d","status":"completed"})",
         "extraction_id"},
        {R"({"event":"extraction.document_completed","extraction_id":"e","document_id":7,"status":"completed"})",
         "document_id"},
        {R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":true})", "status"},
        {R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":"completed","page_count":"3"})",
         "page_count"},
        {R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":"completed","confidence":"high"})",
         "confidence"},
        {R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":"completed","filename":["a"]})",
         "filename"},
        {R"({"event":"extraction.job_completed","extraction_id":"e","file_count":1.5})", "file_count"},
        {R"({"event":"extraction.job_completed","extraction_id":"e","document_summary":[1,2]})", "document_summary"},
        {R"({"event":42,"extraction_id":"e"})", "event"},
    };
    for (const auto& x : cases) {
      INFO("body: " << x.body);
      const hookrx::error e = pp_error(x.body);
      CHECK(e.code() == hookrx::errc::wrong_type);
      CHECK(contains(e.detail(), x.field));
    }
    struct p {
      const char* body;
      const char* field;
    };
    const p ps_cases[] = {
        {R"({"id":"1","attributes":{"document_id":"107786"},"topic":"document-received"})", "document_id"},
        {R"({"id":"1","attributes":{"tenant_id":"1385"},"topic":"document-received"})", "tenant_id"},
        {R"({"id":"1","attributes":{"custom_fields":{"A":1}},"topic":"document-received"})", "custom_fields"},
        {R"({"id":"1","attributes":{},"topic":5})", "topic"},
    };
    for (const auto& x : ps_cases) {
      INFO("body: " << x.body);
      const hookrx::error e = ps_error(x.body);
      CHECK(e.code() == hookrx::errc::wrong_type);
      CHECK(contains(e.detail(), x.field));
    }
  }

  TEST_CASE("a body that is not one well-formed JSON object is invalid_json") {
    const std::string valid = R"({"event":"extraction.job_completed","extraction_id":"x"})";
    const std::vector<std::string> bodies = {
        "",
        "   ",
        "null",
        "\"extraction.job_completed\"",
        "[{\"event\":\"extraction.job_completed\",\"extraction_id\":\"x\"}]",
        valid + "x",
        valid + valid,
        valid + ",",
        valid.substr(0, valid.size() - 1),
        // Invalid UTF-8 inside a string (a lone continuation byte, an overlong encoding).
        R"({"event":"extraction.job_completed","extraction_id":"x)" + std::string("\x80") + R"("})",
        R"({"event":"extraction.job_completed","extraction_id":"x)" + std::string("\xC0\xAF") + R"("})",
        R"({"event":"extraction.job_completed","extraction_id":"x","extra":")" + std::string("\xFF") + R"("})",
        // A raw control character (NUL) inside a string.
        R"({"event":"extraction.job_completed","extraction_id":"x)" + std::string(1, '\0') + R"("})",
    };
    for (const auto& body : bodies) {
      INFO("body: [" << body << "]");
      CHECK(pp_error(body).code() == hookrx::errc::invalid_json);
      CHECK(ps_error(body).code() == hookrx::errc::invalid_json);
    }
  }

  TEST_CASE("whitespace after the object is not trailing garbage") {
    CHECK(pp("{\"event\":\"extraction.job_completed\",\"extraction_id\":\"x\"}\r\n\t ").is<hookrx::job_completed>());
  }

  TEST_CASE("deep nesting is invalid_json and does not crash") {
    for (std::size_t depth : {2000u, 100000u}) {
      INFO("depth " << depth);
      const std::string nested = std::string(depth, '[') + std::string(depth, ']');
      const std::string body = R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d",)"
                               R"("status":"completed","extracted_data":)" +
                               nested + "}";
      CHECK(pp_error(body).code() == hookrx::errc::invalid_json);
      const std::string unknown_field = R"({"event":"x.y","extra":)" + nested + "}";
      CHECK(pp_error(unknown_field).code() == hookrx::errc::invalid_json);
      const std::string objects = [&] {
        std::string s;
        for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
        s += "1";
        s += std::string(depth, '}');
        return s;
      }();
      CHECK(ps_error(objects).code() == hookrx::errc::invalid_json);
    }
  }

  TEST_CASE("moderate nesting inside extracted_data is kept") {
    const std::string nested = std::string(50, '[') + "1" + std::string(50, ']');
    const hookrx::event ev = pp(R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d",)"
                                R"("status":"completed","extracted_data":{"x":)" +
                                nested + "}}");
    CHECK(ev.get_if<hookrx::document_completed>()->extracted_data == R"({"x":)" + nested + "}");
  }

}  // TEST_SUITE
