// The bodies `hookrx send` builds: every PerfectParser event and Parashift topic parses with
// hookrx's own parser into the right typed event, with the key the spec gives it, and carries the
// fields the spec lists under their exact names.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include "event_builder.hpp"
#include "hookrx/events.hpp"
#include "support.hpp"

using hookrx::provider;
using hookrx::cli::build_event_body;
using hookrx::cli::event_spec;
using hookrx_test::contains;
using hookrx_test::why;

namespace {

// 2026-06-20T10:00:45.123Z
const std::chrono::system_clock::time_point fixed_time =
    std::chrono::system_clock::time_point{std::chrono::milliseconds(1781949645123)};

event_spec spec_for(provider source, std::string_view name) {
  event_spec spec;
  spec.source = source;
  spec.name = std::string(name);
  spec.extraction_id = "ext_0a1b2c";
  spec.document_id = source == provider::perfectparser ? "doc_9z" : "107786";
  spec.at = fixed_time;
  return spec;
}

// Top-level member names of a JSON object, checked to be one.
std::set<std::string> members_of(const std::string& body, std::string_view object = {}) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(body).get(root) == simdjson::SUCCESS);
  simdjson::dom::object obj;
  if (object.empty()) {
    REQUIRE(root.get(obj) == simdjson::SUCCESS);
  } else {
    REQUIRE(root[object].get(obj) == simdjson::SUCCESS);
  }
  std::set<std::string> names;
  for (auto field : obj) names.emplace(field.key);
  return names;
}

}  // namespace

TEST_SUITE("event builder") {
  TEST_CASE("iso8601 writes UTC with milliseconds like the vendors") {
    CHECK(hookrx::cli::iso8601(fixed_time) == "2026-06-20T10:00:45.123Z");
    CHECK(hookrx::cli::iso8601(std::chrono::system_clock::time_point{std::chrono::milliseconds(5)}) ==
          "1970-01-01T00:00:00.005Z");
  }

  TEST_CASE("every event name belongs to exactly one provider") {
    CHECK(hookrx::cli::event_names(provider::perfectparser).size() == 5);
    CHECK(hookrx::cli::event_names(provider::parashift).size() == 22);
    for (provider p : {provider::perfectparser, provider::parashift})
      for (std::string_view name : hookrx::cli::event_names(p)) CHECK(hookrx::cli::provider_of_event(name) == p);
    CHECK_FALSE(hookrx::cli::provider_of_event("extraction.started").has_value());
    CHECK_FALSE(hookrx::cli::provider_of_event("").has_value());
  }

  TEST_CASE("a document_completed body parses into a completed document with its key and data") {
    auto body = build_event_body(spec_for(provider::perfectparser, "extraction.document_completed"));
    REQUIRE_MESSAGE(body, why(body));
    auto ev = hookrx::parse_event(provider::perfectparser, *body);
    REQUIRE_MESSAGE(ev, why(ev));
    CHECK(ev->name() == "extraction.document_completed");
    CHECK(ev->key() == "perfectparser:extraction.document_completed:ext_0a1b2c:doc_9z");
    CHECK(ev->is_test());
    const auto* doc = ev->get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    CHECK(doc->status == "completed");
    CHECK(doc->updated_at == "2026-06-20T10:00:45.123Z");
    CHECK(doc->created_at == "2026-06-20T10:00:00.123Z");
    CHECK(doc->page_count == 2);
    CHECK(doc->confidence.has_value());
    CHECK(contains(doc->extracted_data, "\"invoice_number\":\"INV-2026-0042\""));
    const std::set<std::string> expected = {"event",         "extraction_id", "document_id",        "status",
                                            "parser_id",     "parser_name",   "filename",           "page_count",
                                            "credits_used",  "confidence",    "processing_time_ms", "extracted_data",
                                            "error_message", "created_at",    "updated_at",         "test"};
    CHECK(members_of(*body) == expected);
  }

  TEST_CASE("a job_completed body carries the extraction's summary and documents") {
    auto body = build_event_body(spec_for(provider::perfectparser, "extraction.job_completed"));
    REQUIRE_MESSAGE(body, why(body));
    auto ev = hookrx::parse_event(provider::perfectparser, *body);
    REQUIRE_MESSAGE(ev, why(ev));
    CHECK(ev->key() == "perfectparser:extraction.job_completed:ext_0a1b2c");
    const auto* job = ev->get_if<hookrx::job_completed>();
    REQUIRE(job != nullptr);
    CHECK(job->status == "completed");
    REQUIRE(job->summary.has_value());
    CHECK(job->summary->total == 1);
    CHECK(job->summary->completed == 1);
    CHECK(contains(job->documents, "\"document_id\":\"doc_9z\""));
    CHECK(members_of(*body, "document_summary") == std::set<std::string>{"total", "completed", "failed", "processing"});
  }

  TEST_CASE("each batch event parses into its outcome with a summary that adds up") {
    const struct {
      std::string_view name;
      hookrx::batch_outcome outcome;
      std::int64_t completed, failed;
    } cases[] = {{"batch.completed", hookrx::batch_outcome::completed, 3, 0},
                 {"batch.failed", hookrx::batch_outcome::failed, 0, 3},
                 {"batch.partial", hookrx::batch_outcome::partial, 2, 1}};
    for (const auto& c : cases) {
      CAPTURE(c.name);
      auto body = build_event_body(spec_for(provider::perfectparser, c.name));
      REQUIRE_MESSAGE(body, why(body));
      auto ev = hookrx::parse_event(provider::perfectparser, *body);
      REQUIRE_MESSAGE(ev, why(ev));
      CHECK(ev->key() == "perfectparser:" + std::string(c.name) + ":ext_0a1b2c");
      const auto* batch = ev->get_if<hookrx::batch_finished>();
      REQUIRE(batch != nullptr);
      CHECK(batch->outcome == c.outcome);
      REQUIRE(batch->summary.has_value());
      CHECK(batch->summary->completed == c.completed);
      CHECK(batch->summary->failed == c.failed);
      CHECK(batch->summary->total == 3);
    }
  }

  TEST_CASE("every Parashift topic parses into a document event with the documented fields") {
    for (std::string_view topic : hookrx::cli::event_names(provider::parashift)) {
      CAPTURE(topic);
      auto body = build_event_body(spec_for(provider::parashift, topic));
      REQUIRE_MESSAGE(body, why(body));
      auto ev = hookrx::parse_event(provider::parashift, *body);
      REQUIRE_MESSAGE(ev, why(ev));
      CHECK(ev->name() == topic);
      CHECK(ev->key() == "parashift:" + std::string(topic) + ":107786:2026-06-20T10:00:45.123Z");
      const auto* doc = ev->get_if<hookrx::document_event>();
      REQUIRE(doc != nullptr);
      CHECK(doc->topic == hookrx::parse_parashift_topic(topic));
      CHECK(doc->topic != hookrx::parashift_topic::unknown);
      CHECK(doc->id == "107786");
      CHECK(doc->document_id == 107786);
      CHECK(doc->tenant_id == 1385);
      CHECK(doc->type == "documents");
      CHECK(doc->custom_fields.size() == 1);
      CHECK(members_of(*body) == std::set<std::string>{"id", "type", "attributes", "request_id", "topic", "test"});
      CHECK(members_of(*body, "attributes") == std::set<std::string>{"status", "tenant_id", "sla_deadline",
                                                                     "custom_fields", "external_id", "created_at",
                                                                     "updated_at", "document_id"});
    }
  }

  TEST_CASE("a Parashift document's status follows its workflow stage") {
    auto status_of = [](std::string_view topic) {
      auto body = build_event_body(spec_for(provider::parashift, topic));
      REQUIRE(body);
      auto ev = hookrx::parse_event(provider::parashift, *body);
      REQUIRE(ev);
      return ev->get_if<hookrx::document_event>()->status.value_or("");
    };
    CHECK(status_of("document-received") == "pending");
    CHECK(status_of("ready-for-extraction-qc") == "in_progress");
    CHECK(status_of("processing-finished") == "done");
    CHECK(status_of("processing-failed") == "failed");
  }

  TEST_CASE("live leaves the test flag out of every body") {
    for (provider p : {provider::perfectparser, provider::parashift})
      for (std::string_view name : hookrx::cli::event_names(p)) {
        CAPTURE(name);
        event_spec spec = spec_for(p, name);
        spec.test = false;
        auto body = build_event_body(spec);
        REQUIRE(body);
        CHECK(members_of(*body).count("test") == 0);
        auto ev = hookrx::parse_event(p, *body);
        REQUIRE(ev);
        CHECK_FALSE(ev->is_test());
      }
  }

  TEST_CASE("bodies without given ids get fresh ones, so two sends are two events") {
    for (provider p : {provider::perfectparser, provider::parashift}) {
      event_spec spec;
      spec.source = p;
      spec.name = std::string(hookrx::cli::event_names(p).front());
      auto a = build_event_body(spec);
      auto b = build_event_body(spec);
      REQUIRE(a);
      REQUIRE(b);
      auto ea = hookrx::parse_event(p, *a);
      auto eb = hookrx::parse_event(p, *b);
      REQUIRE(ea);
      REQUIRE(eb);
      CHECK(ea->key() != eb->key());
      CHECK_FALSE(contains(ea->key(), "sha256"));
    }
  }

  TEST_CASE("ids with quotes and control characters are escaped, not injected") {
    event_spec spec = spec_for(provider::perfectparser, "extraction.job_completed");
    spec.extraction_id = "ext_\"x\\y\n\x01";
    auto body = build_event_body(spec);
    REQUIRE(body);
    auto ev = hookrx::parse_event(provider::perfectparser, *body);
    REQUIRE_MESSAGE(ev, why(ev));
    CHECK(ev->get_if<hookrx::job_completed>()->extraction_id == spec.extraction_id);
  }

  TEST_CASE("an unknown event name is refused with the flag named") {
    auto pp = build_event_body(spec_for(provider::perfectparser, "document-received"));
    REQUIRE_FALSE(pp);
    CHECK(pp.error() == hookrx::errc::invalid_config);
    CHECK(contains(pp.error().detail(), "--event"));
    CHECK(contains(pp.error().detail(), "batch.partial"));
    auto ps = build_event_body(spec_for(provider::parashift, "batch.completed"));
    REQUIRE_FALSE(ps);
    CHECK(contains(ps.error().detail(), "--event"));
  }

  TEST_CASE("a Parashift document id that is not a number is refused with the flag named") {
    for (std::string_view bad : {"doc_1", "12a", "-5", "1234567890123456789"}) {
      event_spec spec = spec_for(provider::parashift, "document-received");
      spec.document_id = std::string(bad);
      auto body = build_event_body(spec);
      REQUIRE_FALSE(body);
      CHECK(contains(body.error().detail(), "--document-id"));
    }
  }
}
