// The shared conformance vectors (shared/vectors/*.json), read at run time so that a vector added
// there is exercised without touching this file. An expect field this file does not know fails the
// run instead of being skipped.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hookrx/events.hpp"
#include "hookrx/verify.hpp"
#include "support.hpp"

using hookrx_test::base64_decode;
using hookrx_test::shared_path;
using hookrx_test::test_request;

namespace {

simdjson::dom::element load_vectors(simdjson::dom::parser& parser, std::string_view file) {
  const std::string path = shared_path(file);
  INFO("vector file: " << path);
  simdjson::dom::element root;
  const auto err = parser.load(path).get(root);
  REQUIRE_MESSAGE(err == simdjson::SUCCESS, simdjson::error_message(err));
  return root;
}

simdjson::dom::array vectors_of(simdjson::dom::element root) {
  simdjson::dom::array vectors;
  REQUIRE(root["vectors"].get(vectors) == simdjson::SUCCESS);
  REQUIRE(vectors.size() > 0);
  return vectors;
}

std::string_view string_of(simdjson::dom::element e) {
  std::string_view s;
  REQUIRE_MESSAGE(e.get(s) == simdjson::SUCCESS, "expected a JSON string");
  return s;
}

std::int64_t int_of(simdjson::dom::element e) {
  std::int64_t i = 0;
  REQUIRE_MESSAGE(e.get(i) == simdjson::SUCCESS, "expected a JSON integer");
  return i;
}

bool bool_of(simdjson::dom::element e) {
  bool b = false;
  REQUIRE_MESSAGE(e.get(b) == simdjson::SUCCESS, "expected a JSON boolean");
  return b;
}

simdjson::dom::element member(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element e;
  INFO("member: " << std::string(key));
  REQUIRE(obj.at_key(key).get(e) == simdjson::SUCCESS);
  return e;
}

/// A nullable string member: nullopt for JSON null.
std::optional<std::string> nullable_string(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element e = member(obj, key);
  if (e.is_null()) return std::nullopt;
  return std::string(string_of(e));
}

std::string kind_of(const hookrx::event& ev) {
  if (ev.is<hookrx::document_completed>()) return "document_completed";
  if (ev.is<hookrx::job_completed>()) return "job_completed";
  if (ev.is<hookrx::batch_finished>()) return "batch_finished";
  if (ev.is<hookrx::document_event>()) return "parashift_document";
  if (ev.is<hookrx::unknown_event>()) return "unknown_event";
  return "?";
}

void check_extraction_id(const hookrx::event& ev, std::string_view want) {
  if (const auto* d = ev.get_if<hookrx::document_completed>()) {
    CHECK(d->extraction_id == want);
  } else if (const auto* j = ev.get_if<hookrx::job_completed>()) {
    CHECK(j->extraction_id == want);
  } else if (const auto* b = ev.get_if<hookrx::batch_finished>()) {
    CHECK(b->extraction_id == want);
  } else if (const auto* u = ev.get_if<hookrx::unknown_event>()) {
    REQUIRE(u->extraction_id.has_value());
    CHECK(*u->extraction_id == want);
  } else {
    FAIL_CHECK("extraction_id expected on a " << kind_of(ev) << ", which has none");
  }
}

void check_document_id(const hookrx::event& ev, simdjson::dom::element want) {
  if (want.is_int64()) {
    const auto* p = ev.get_if<hookrx::document_event>();
    REQUIRE_MESSAGE(p != nullptr, "an integer document_id is a Parashift attribute");
    REQUIRE(p->document_id.has_value());
    CHECK(*p->document_id == int_of(want));
    return;
  }
  const std::string_view id = string_of(want);
  if (const auto* d = ev.get_if<hookrx::document_completed>()) {
    CHECK(d->document_id == id);
  } else if (const auto* u = ev.get_if<hookrx::unknown_event>()) {
    REQUIRE(u->document_id.has_value());
    CHECK(*u->document_id == id);
  } else {
    FAIL_CHECK("a string document_id expected on a " << kind_of(ev) << ", which has none");
  }
}

void check_status(const hookrx::event& ev, std::string_view want) {
  std::optional<std::string> got;
  if (const auto* d = ev.get_if<hookrx::document_completed>()) {
    got = d->status;
  } else if (const auto* j = ev.get_if<hookrx::job_completed>()) {
    got = j->status;
  } else if (const auto* b = ev.get_if<hookrx::batch_finished>()) {
    got = b->status;
  } else if (const auto* p = ev.get_if<hookrx::document_event>()) {
    got = p->status;
  } else {
    FAIL_CHECK("status expected on a " << kind_of(ev) << ", which has none");
    return;
  }
  REQUIRE(got.has_value());
  CHECK(*got == want);
}

const hookrx::document_event& parashift_payload(const hookrx::event& ev) {
  const auto* p = ev.get_if<hookrx::document_event>();
  REQUIRE_MESSAGE(p != nullptr, "field expected only on a Parashift document event, got " << kind_of(ev));
  return *p;
}

}  // namespace

TEST_SUITE("conformance vectors") {
  TEST_CASE("every PerfectParser signature vector gets its expected verdict") {
    simdjson::dom::parser parser;
    const simdjson::dom::array vectors = vectors_of(load_vectors(parser, "vectors/perfectparser_signatures.json"));

    static const std::vector<std::string_view> known_keys = {
        "name",   "body_b64", "signature_header", "signing_secrets", "static_secret_header", "static_secret_config",
        "expect", "note"};

    std::size_t run = 0;
    for (simdjson::dom::element v : vectors) {
      simdjson::dom::object obj;
      REQUIRE(v.get(obj) == simdjson::SUCCESS);
      const std::string name(string_of(member(obj, "name")));
      INFO("vector: " << name);
      for (auto field : obj) {
        bool known = false;
        for (auto k : known_keys) known = known || field.key == k;
        CHECK_MESSAGE(known, "unknown vector field " << std::string(field.key));
      }

      hookrx::perfectparser_credentials creds;
      simdjson::dom::array secrets;
      REQUIRE(member(obj, "signing_secrets").get(secrets) == simdjson::SUCCESS);
      for (simdjson::dom::element s : secrets) creds.signing_secrets.emplace_back(string_of(s));
      if (auto static_config = nullable_string(obj, "static_secret_config")) {
        creds.static_secrets.push_back(*static_config);
      }
      // No vector configures nothing, but if one does, it still expects a verdict: let it through
      // verification so that the verdict below is what is checked.
      creds.allow_unauthenticated = creds.signing_secrets.empty() && creds.static_secrets.empty();

      auto verifier = hookrx::perfectparser_verifier::create(creds);
      REQUIRE_MESSAGE(verifier.has_value(), hookrx_test::why(verifier));

      test_request req(base64_decode(string_of(member(obj, "body_b64"))));
      if (auto sig = nullable_string(obj, "signature_header")) req.header("X-PerfectParser-Signature", *sig);
      if (auto tok = nullable_string(obj, "static_secret_header")) req.header("X-Webhook-Secret", *tok);

      const std::string expect(string_of(member(obj, "expect")));
      const hookrx::result<hookrx::verified> verdict = verifier->verify(req.view());
      if (expect == "valid") {
        CHECK_MESSAGE(verdict.has_value(), hookrx_test::why(verdict));
      } else {
        REQUIRE_FALSE(verdict.has_value());
        CHECK(hookrx::to_string(verdict.error().code()) == expect);
      }
      ++run;
    }
    CHECK(run == vectors.size());
    CHECK(run > 0);
  }

  TEST_CASE("every event vector parses to its expected event or error") {
    simdjson::dom::parser parser;
    const simdjson::dom::array vectors = vectors_of(load_vectors(parser, "vectors/events.json"));

    std::size_t run = 0;
    for (simdjson::dom::element v : vectors) {
      simdjson::dom::object obj;
      REQUIRE(v.get(obj) == simdjson::SUCCESS);
      const std::string name(string_of(member(obj, "name")));
      INFO("vector: " << name);
      const std::string body(string_of(member(obj, "body")));
      simdjson::dom::object expect;
      REQUIRE(member(obj, "expect").get(expect) == simdjson::SUCCESS);
      const std::string kind(string_of(member(expect, "kind")));

      const bool parashift = kind == "parashift_document" || name.rfind("parashift", 0) == 0;
      const hookrx::provider source = parashift ? hookrx::provider::parashift : hookrx::provider::perfectparser;
      const hookrx::result<hookrx::event> ev = hookrx::parse_event(source, body);
      ++run;

      if (kind == "error") {
        if (ev.has_value()) {
          FAIL_CHECK("expected an error, parsed a " << kind_of(*ev) << " with key " << ev->key());
          continue;
        }
        for (auto field : expect) {
          if (field.key == "kind") continue;
          if (field.key == "error") {
            CHECK(hookrx::to_string(ev.error().code()) == string_of(field.value));
          } else {
            FAIL_CHECK("unknown expect field for an error vector: " << std::string(field.key));
          }
        }
        continue;
      }

      if (!ev.has_value()) {
        FAIL_CHECK("expected a " << kind << ", got " << ev.error().message());
        continue;
      }
      CHECK(kind_of(*ev) == kind);
      CHECK(ev->source() == source);
      CHECK(ev->raw_json() == body);

      for (auto field : expect) {
        const std::string_view key = field.key;
        const simdjson::dom::element want = field.value;
        INFO("expect field: " << std::string(key));
        if (key == "kind") {
          continue;
        } else if (key == "event") {
          CHECK(ev->name() == string_of(want));
        } else if (key == "extraction_id") {
          check_extraction_id(*ev, string_of(want));
        } else if (key == "document_id") {
          check_document_id(*ev, want);
        } else if (key == "status") {
          check_status(*ev, string_of(want));
        } else if (key == "test") {
          CHECK(ev->is_test() == bool_of(want));
        } else if (key == "key") {
          CHECK(ev->key() == string_of(want));
        } else if (key == "error_message") {
          const auto* d = ev->get_if<hookrx::document_completed>();
          REQUIRE_MESSAGE(d != nullptr, "error_message is a document_completed field");
          REQUIRE(d->error_message.has_value());
          CHECK(*d->error_message == string_of(want));
        } else if (key == "topic") {
          CHECK(parashift_payload(*ev).topic_name == string_of(want));
          CHECK(ev->name() == string_of(want));
        } else if (key == "id") {
          const auto& p = parashift_payload(*ev);
          REQUIRE(p.id.has_value());
          CHECK(*p.id == string_of(want));
        } else if (key == "tenant_id") {
          const auto& p = parashift_payload(*ev);
          REQUIRE(p.tenant_id.has_value());
          CHECK(*p.tenant_id == int_of(want));
        } else if (key == "external_id") {
          const auto& p = parashift_payload(*ev);
          REQUIRE(p.external_id.has_value());
          CHECK(*p.external_id == string_of(want));
        } else if (key == "known_topic") {
          CHECK((parashift_payload(*ev).topic != hookrx::parashift_topic::unknown) == bool_of(want));
        } else {
          FAIL_CHECK("unknown expect field " << std::string(key) << ": teach test_vectors.cpp about it");
        }
      }
    }
    CHECK(run == vectors.size());
    CHECK(run > 0);
  }

}  // TEST_SUITE
