// parse_event(source, body, ev): parsing into an event that already holds another delivery gives
// exactly what a fresh parse gives. The receiver parses every delivery into one event per thread,
// so a value left over from an earlier body would reach a handler as if this body had sent it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "describe_event.hpp"
#include "event_lease.hpp"
#include "hookrx/events.hpp"
#include "parse.hpp"
#include "support.hpp"

namespace {

using hookrx::provider;
using hookrx_test::describe;

struct delivery {
  provider source;
  std::string body;
};

// Bodies that leave different members filled, empty, null or nested, for every event type, plus
// every body of shared/vectors/events.json (errors included).
std::vector<delivery> corpus() {
  std::vector<delivery> out = {
      {provider::perfectparser,
       R"({"event":"extraction.document_completed","extraction_id":"ext_full_0000000001","document_id":"doc_full_000000001",)"
       R"("status":"completed","parser_id":"prs_invoice_eu_v3","parser_name":"Invoices EU v3, long name",)"
       R"("filename":"invoice-2026-000123.pdf","error_message":"none at all, really","created_at":"2026-06-20T10:00:41.000Z",)"
       R"("updated_at":"2026-06-20T10:00:45.000Z","page_count":2,"credits_used":2,"processing_time_ms":4180,)"
       R"("confidence":0.974,"extracted_data":{"invoice_number":"INV-2026-000123","lines":[{"sku":"A1"}]},"test":true})"},
      {provider::perfectparser,
       R"({"event":"extraction.document_completed","extraction_id":"e","document_id":"d","status":"failed"})"},
      {provider::perfectparser,
       R"({"event":"extraction.document_completed","extraction_id":"ext_nulls_000000001","document_id":"doc_nulls_00000001",)"
       R"("status":"completed","parser_id":null,"filename":null,"page_count":null,"confidence":null,)"
       R"("extracted_data":null,"test":null})"},
      {provider::perfectparser,
       R"({"type":"extraction.document_completed","data":{"extraction_id":"ext_nested_00000001",)"
       R"("document_id":"doc_nested_00000001","status":"completed","filename":"nested-file-name.pdf",)"
       R"("extracted_data":[1,2,3],"test":false}})"},
      {provider::perfectparser,
       R"({"event":"extraction.document_completed","extraction_id":"ext_top_0000000001","filename":null,)"
       R"("data":{"extraction_id":"ext_ignored_0000001","document_id":"doc_from_data_00001","status":"completed",)"
       R"("filename":"from-data-because-top-was-null.pdf"}})"},
      {provider::perfectparser,
       R"({"event":"extraction.job_completed","extraction_id":"ext_job_0000000001","status":"partial",)"
       R"("parser_id":"prs_job_parser_00001","completed_at":"2026-06-20T10:05:00.000Z","file_count":3,"page_count":7,)"
       R"("credits_used":7,"document_summary":{"total":3,"completed":2,"failed":1,"processing":0},)"
       R"("documents":[{"document_id":"doc_a"},{"document_id":"doc_b"}]})"},
      {provider::perfectparser, R"({"event":"extraction.job_completed","extraction_id":"j"})"},
      {provider::perfectparser,
       R"({"event":"batch.partial","batch_id":"bat_only_000000000001","parser_name":"Batch parser name here",)"
       R"("status":"partial","document_summary":{"total":2,"completed":1,"failed":1,"processing":0}})"},
      {provider::perfectparser, R"({"event":"batch.completed","extraction_id":"b"})"},
      {provider::perfectparser,
       R"({"event":"extraction.something_new","extraction_id":"ext_unknown_0000001","document_id":42})"},
      {provider::perfectparser, R"({"event":"extraction.something_else","document_id":"doc_unknown_0000001"})"},
      {provider::perfectparser,
       R"({"event":"extraction.document_completed","extraction_id":"ext_broken_00000001","document_id":7})"},
      {provider::parashift,
       R"({"id":"107786","type":"documents","request_id":"req_0000000000000001","topic":"extraction-done",)"
       R"("attributes":{"status":"done","tenant_id":1385,"document_id":107786,"updated_at":"2021-05-12T10:05:46.302Z",)"
       R"("created_at":"2021-05-12T10:00:00.000Z","external_id":"ext-ref-0000000000001",)"
       R"("sla_deadline":"2021-05-13T10:00:00.000Z","custom_fields":{"department":"accounts payable","cost_center":"4711"}}})"},
      {provider::parashift, R"({"topic":"document-received"})"},
  };
  simdjson::dom::parser parser;
  simdjson::dom::element vectors;
  REQUIRE(parser.load(hookrx_test::shared_path("vectors/events.json")).get(vectors) == simdjson::SUCCESS);
  std::size_t found = 0;
  for (simdjson::dom::element v : vectors["vectors"].get_array()) {
    std::string_view body;
    REQUIRE(v["body"].get(body) == simdjson::SUCCESS);
    const bool parashift = hookrx_test::contains(body, "\"topic\"");
    out.push_back({parashift ? provider::parashift : provider::perfectparser, std::string(body)});
    ++found;
  }
  REQUIRE(found >= 20);
  return out;
}

// What a fresh parse makes of `d`: the description, or the error.
std::string fresh(const delivery& d) { return describe(hookrx::parse_event(d.source, d.body)); }

std::string reused(const delivery& d, hookrx::event& ev) {
  const hookrx::status st = hookrx::parse_event(d.source, d.body, ev);
  return describe(st, ev);
}

}  // namespace

TEST_SUITE("event reuse") {
  TEST_CASE("parsing into a reused event gives exactly what a fresh parse gives, whatever it held before") {
    const std::vector<delivery> bodies = corpus();
    std::vector<std::size_t> order(bodies.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937 shuffle(20261123);
    std::size_t successes = 0;
    for (int round = 0; round < 8; ++round) {
      hookrx::event ev;
      for (const std::size_t i : order) {
        INFO("round " << round << ", body: " << bodies[i].body.substr(0, 160));
        const std::string want = fresh(bodies[i]);
        CHECK(reused(bodies[i], ev) == want);
        if (want.rfind("error", 0) != 0) ++successes;
      }
      std::shuffle(order.begin(), order.end(), shuffle);
    }
    CHECK(successes > 8 * 20);  // most bodies parse: the comparison covers real payloads, not only errors
  }

  TEST_CASE("a reused event that carried a poll origin is a webhook again after the next parse") {
    hookrx::event ev;
    REQUIRE(hookrx::parse_event(provider::perfectparser, corpus()[1].body, ev));
    CHECK(ev.origin() == hookrx::delivery_origin::webhook);
    ev.set_origin(hookrx::delivery_origin::poll);
    REQUIRE(hookrx::parse_event(provider::perfectparser, corpus()[0].body, ev));
    CHECK(ev.origin() == hookrx::delivery_origin::webhook);
    ev.set_origin(hookrx::delivery_origin::poll);
    CHECK_FALSE(hookrx::parse_event(provider::perfectparser, "not json", ev));
    REQUIRE(
        hookrx::parse_event(provider::parashift, R"({"id":"1","topic":"processing-finished","attributes":{}})", ev));
    CHECK(ev.origin() == hookrx::delivery_origin::webhook);
  }

  TEST_CASE("a member the new body does not send is absent, not left over from the previous body") {
    hookrx::event ev;
    REQUIRE(hookrx::parse_event(provider::perfectparser, corpus()[0].body, ev));
    REQUIRE(ev.is_test());
    REQUIRE(hookrx::parse_event(provider::perfectparser, corpus()[1].body, ev));
    const auto* doc = ev.get_if<hookrx::document_completed>();
    REQUIRE(doc != nullptr);
    CHECK(doc->extraction_id == "e");
    CHECK(doc->status == "failed");
    CHECK_FALSE(doc->filename.has_value());
    CHECK_FALSE(doc->confidence.has_value());
    CHECK(doc->extracted_data.empty());
    CHECK_FALSE(ev.is_test());
    CHECK(ev.key() == "perfectparser:extraction.document_completed:e:d");
  }

  TEST_CASE("a Parashift event parsed into a reused event keeps none of the previous custom fields") {
    hookrx::event ev;
    const std::vector<delivery> bodies = corpus();
    const auto full = std::find_if(bodies.begin(), bodies.end(),
                                   [](const delivery& d) { return hookrx_test::contains(d.body, "custom_fields"); });
    REQUIRE(full != bodies.end());
    REQUIRE(hookrx::parse_event(provider::parashift, full->body, ev));
    REQUIRE(ev.get_if<hookrx::document_event>()->custom_fields.size() == 2);
    REQUIRE(hookrx::parse_event(provider::parashift, R"({"topic":"document-received"})", ev));
    CHECK(ev.get_if<hookrx::document_event>()->custom_fields.empty());
    CHECK(ev.name() == "document-received");
  }

  TEST_CASE("a thread's kept event lets go of an outsized body's buffers, even those an acceptor left behind") {
    // The inbox moves the body copy, name and key out of the event and leaves the payload, whose
    // extracted_data here is as large as the body: the event must not keep it for the thread.
    const std::string big = R"({"event":"extraction.document_completed","extraction_id":"ext_1",)"
                            R"("document_id":"doc_1","status":"completed","extracted_data":{"text":")" +
                            std::string(200 * 1024, 'y') + R"("}})";
    {
      hookrx::detail::event_lease lease(big.size());
      REQUIRE(hookrx::parse_event(provider::perfectparser, big, lease.get()));
      REQUIRE(lease.get().get_if<hookrx::document_completed>()->extracted_data.size() > 200 * 1024);
      std::string name;
      std::string key;
      std::string raw;
      hookrx::detail::event_builder::take(lease.get(), name, key, raw);  // as the inbox does
    }
    hookrx::detail::event_lease next(1024);
    const auto* kept = next.get().get_if<hookrx::document_completed>();
    CHECK((kept == nullptr || kept->extracted_data.capacity() <= hookrx::detail::kept_body_bytes));
  }
}
