// errc names and messages, error, and the result/status types.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hookrx/error.hpp"
#include "hookrx/events.hpp"
#include "hookrx/response.hpp"
#include "support.hpp"

using hookrx_test::contains;

namespace {

std::vector<hookrx::errc> all_codes() {
  std::vector<hookrx::errc> codes;
  for (int i = 0; i <= static_cast<int>(hookrx::errc::invalid_config); ++i) {
    codes.push_back(static_cast<hookrx::errc>(i));
  }
  return codes;
}

bool is_snake_case(std::string_view s) {
  if (s.empty() || s.front() == '_' || s.back() == '_') return false;
  if (!(s.front() >= 'a' && s.front() <= 'z')) return false;
  char prev = '\0';
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok || (c == '_' && prev == '_')) return false;
    prev = c;
  }
  return true;
}

}  // namespace

TEST_SUITE("error") {
  TEST_CASE("every error code has a unique snake_case name") {
    const auto codes = all_codes();
    REQUIRE(codes.size() == 18);
    std::set<std::string_view> names;
    for (auto code : codes) {
      const std::string_view name = hookrx::to_string(code);
      INFO("code #" << static_cast<int>(code) << ": " << std::string(name));
      CHECK(is_snake_case(name));
      CHECK(names.insert(name).second);
    }
    CHECK(names.size() == codes.size());
  }

  TEST_CASE("the error names are the verdict names of the spec") {
    CHECK(hookrx::to_string(hookrx::errc::missing_signature) == "missing_signature");
    CHECK(hookrx::to_string(hookrx::errc::malformed_signature) == "malformed_signature");
    CHECK(hookrx::to_string(hookrx::errc::signature_mismatch) == "signature_mismatch");
    CHECK(hookrx::to_string(hookrx::errc::missing_static_secret) == "missing_static_secret");
    CHECK(hookrx::to_string(hookrx::errc::static_secret_mismatch) == "static_secret_mismatch");
    CHECK(hookrx::to_string(hookrx::errc::missing_credentials) == "missing_credentials");
    CHECK(hookrx::to_string(hookrx::errc::credentials_mismatch) == "credentials_mismatch");
    CHECK(hookrx::to_string(hookrx::errc::source_not_allowed) == "source_not_allowed");
    CHECK(hookrx::to_string(hookrx::errc::invalid_json) == "invalid_json");
    CHECK(hookrx::to_string(hookrx::errc::missing_field) == "missing_field");
    CHECK(hookrx::to_string(hookrx::errc::wrong_type) == "wrong_type");
  }

  TEST_CASE("every error code has a default message that is a non-empty sentence") {
    std::set<std::string_view> messages;
    for (auto code : all_codes()) {
      INFO("code: " << std::string(hookrx::to_string(code)));
      const std::string_view msg = hookrx::default_message(code);
      CHECK_FALSE(msg.empty());
      CHECK(msg != hookrx::to_string(code));
      CHECK(messages.insert(msg).second);
    }
  }

  TEST_CASE("an error message names the code and carries the detail") {
    const hookrx::error e(hookrx::errc::missing_field, "document_id");
    CHECK(e.code() == hookrx::errc::missing_field);
    CHECK(e.detail() == "document_id");
    const std::string msg = e.message();
    CHECK(contains(msg, "missing_field"));
    CHECK(contains(msg, "document_id"));
    CHECK(contains(msg, hookrx::default_message(hookrx::errc::missing_field)));
    CHECK(e == hookrx::errc::missing_field);
    CHECK(e != hookrx::errc::wrong_type);
  }

  TEST_CASE("an error without detail still has a message naming its code") {
    for (auto code : all_codes()) {
      const hookrx::error e(code);
      INFO("code: " << std::string(hookrx::to_string(code)));
      CHECK(e.detail().empty());
      CHECK(contains(e.message(), hookrx::to_string(code)));
    }
  }

  TEST_CASE("a result holding a value behaves like std::expected with a value") {
    hookrx::result<std::string> r(std::string("abc"));
    REQUIRE(r.has_value());
    CHECK(static_cast<bool>(r));
    CHECK(r.value() == "abc");
    CHECK(*r == "abc");
    CHECK(r->size() == 3);
    r.value() += "d";
    CHECK(*r == "abcd");
    const std::string moved = *std::move(r);
    CHECK(moved == "abcd");
  }

  TEST_CASE("a result holding an error behaves like std::expected with an error") {
    const hookrx::result<int> by_code(hookrx::errc::wrong_type);
    REQUIRE_FALSE(by_code.has_value());
    CHECK_FALSE(static_cast<bool>(by_code));
    CHECK(by_code.error().code() == hookrx::errc::wrong_type);
    CHECK(by_code.error().detail().empty());

    const hookrx::result<int> with_detail(hookrx::error(hookrx::errc::missing_field, "status"));
    REQUIRE_FALSE(with_detail.has_value());
    CHECK(with_detail.error() == hookrx::errc::missing_field);
    CHECK(with_detail.error().detail() == "status");
  }

  TEST_CASE("a result can hold a move-only value") {
    hookrx::result<std::unique_ptr<int>> r(std::make_unique<int>(7));
    REQUIRE(r.has_value());
    CHECK(**r == 7);
    std::unique_ptr<int> p = std::move(r).value();
    REQUIRE(p != nullptr);
    CHECK(*p == 7);
  }

  TEST_CASE("a status is success by default and failure when built from an error") {
    const hookrx::status ok;
    CHECK(ok.has_value());
    CHECK(static_cast<bool>(ok));

    const hookrx::status failed(hookrx::errc::handler_failed);
    CHECK_FALSE(failed.has_value());
    CHECK_FALSE(static_cast<bool>(failed));
    CHECK(failed.error().code() == hookrx::errc::handler_failed);

    const hookrx::status detailed(hookrx::error(hookrx::errc::store_unavailable, "timeout"));
    REQUIRE_FALSE(detailed.has_value());
    CHECK(detailed.error().code() == hookrx::errc::store_unavailable);
    CHECK(detailed.error().detail() == "timeout");
  }

  TEST_CASE("provider and disposition names are unique and non-empty") {
    CHECK(hookrx::to_string(hookrx::provider::perfectparser) == "perfectparser");
    CHECK(hookrx::to_string(hookrx::provider::parashift) == "parashift");
    std::set<std::string_view> names;
    for (auto d : {hookrx::disposition::processed, hookrx::disposition::queued, hookrx::disposition::duplicate,
                   hookrx::disposition::test_delivery}) {
      const std::string_view name = hookrx::to_string(d);
      CHECK(is_snake_case(name));
      CHECK(names.insert(name).second);
    }
  }

}  // TEST_SUITE
