// request_view header lookup and iequals.
#include <doctest/doctest.h>

#include <optional>
#include <string_view>

#include "hookrx/request.hpp"
#include "support.hpp"

using hookrx_test::test_request;

TEST_SUITE("request") {
  TEST_CASE("iequals compares ASCII letters without regard to case") {
    CHECK(hookrx::iequals("X-PerfectParser-Signature", "x-perfectparser-signature"));
    CHECK(hookrx::iequals("AUTHORIZATION", "authorization"));
    CHECK(hookrx::iequals("", ""));
    CHECK_FALSE(hookrx::iequals("Authorization", "Authorisation"));
    CHECK_FALSE(hookrx::iequals("Authorization", "Authorization "));
    CHECK_FALSE(hookrx::iequals("abc", "ab"));
    CHECK_FALSE(hookrx::iequals("", "a"));
    CHECK_FALSE(hookrx::iequals("X-Webhook-Secret", "X_Webhook_Secret"));
    // '@' and '`' sit next to 'A' and 'a': only letters fold.
    CHECK_FALSE(hookrx::iequals("@", "`"));
    CHECK_FALSE(hookrx::iequals("[", "{"));
    // Bytes outside ASCII are compared as they are (no locale folding).
    CHECK_FALSE(hookrx::iequals("\xC4", "\xE4"));
    CHECK(hookrx::iequals("\xC4", "\xC4"));
  }

  TEST_CASE("a header is found whatever the case of its name") {
    test_request r("{}", {{"Content-Type", "application/json"}, {"X-PerfectParser-Signature", "abc"}});
    const hookrx::request_view v = r.view();
    REQUIRE(v.header("x-perfectparser-signature").has_value());
    CHECK(*v.header("x-perfectparser-signature") == "abc");
    CHECK(*v.header("X-PERFECTPARSER-SIGNATURE") == "abc");
    CHECK(*v.header("content-type") == "application/json");
  }

  TEST_CASE("the first of several values of a header wins") {
    test_request r("", {{"Authorization", "first"}, {"authorization", "second"}, {"AUTHORIZATION", "third"}});
    const auto value = r.view().header("Authorization");
    REQUIRE(value.has_value());
    CHECK(*value == "first");
  }

  TEST_CASE("an absent header is nullopt while a present empty one is an empty value") {
    test_request r("", {{"X-Empty", ""}});
    const hookrx::request_view v = r.view();
    CHECK_FALSE(v.header("X-Missing").has_value());
    CHECK_FALSE(v.header("X-Empt").has_value());
    CHECK_FALSE(v.header("X-Empty-").has_value());
    const auto empty = v.header("x-empty");
    REQUIRE(empty.has_value());
    CHECK(empty->empty());
  }

  TEST_CASE("a default request view has no body, no headers and no peer") {
    const hookrx::request_view v;
    CHECK(v.body().empty());
    CHECK(v.peer().empty());
    CHECK(v.header_count() == 0);
    CHECK(v.begin() == v.end());
    CHECK_FALSE(v.header("Authorization").has_value());
  }

  TEST_CASE("a request view exposes body, peer and every header in order") {
    const hookrx::header_view headers[] = {{"A", "1"}, {"B", "2"}, {"a", "3"}};
    const std::string_view body("x\0y", 3);
    const hookrx::request_view v(body, headers, "2001:db8::1");
    CHECK(v.body() == body);
    CHECK(v.body().size() == 3);
    CHECK(v.peer() == "2001:db8::1");
    REQUIRE(v.header_count() == 3);
    std::size_t i = 0;
    for (const hookrx::header_view& h : v) {
      CHECK(h.name == headers[i].name);
      CHECK(h.value == headers[i].value);
      ++i;
    }
    CHECK(i == 3);
    CHECK(*v.header("a") == "1");
  }

}  // TEST_SUITE
