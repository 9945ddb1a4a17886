// parashift_verifier: header checks, source allow-lists (IPv4, IPv6, mapped), X-Forwarded-For
// from trusted proxies only, and configuration checks.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "hookrx/verify.hpp"
#include "support.hpp"

using hookrx_test::contains;
using hookrx_test::test_request;

namespace {

const std::string token = "Bearer ps_live_token_1";
const std::string old_token = "Bearer ps_live_token_0";
const std::string body = R"({"id":"1","topic":"document-received","attributes":{"document_id":1}})";

hookrx::header_credential authorization(std::vector<std::string> values) {
  hookrx::header_credential h;
  h.accepted_values = std::move(values);
  return h;
}

hookrx::parashift_verifier make(hookrx::parashift_credentials creds) {
  auto v = hookrx::parashift_verifier::create(std::move(creds));
  REQUIRE_MESSAGE(v.has_value(), hookrx_test::why(v));
  return std::move(v).value();
}

/// Authorization check with `token`, source allow-list on with `sources`.
hookrx::parashift_verifier with_sources(std::vector<std::string> sources, std::vector<std::string> proxies = {}) {
  hookrx::parashift_credentials creds;
  creds.headers = {authorization({token})};
  creds.restrict_sources = true;
  creds.allowed_sources = std::move(sources);
  creds.trusted_proxies = std::move(proxies);
  return make(std::move(creds));
}

test_request from(std::string peer, std::vector<std::pair<std::string, std::string>> extra = {}) {
  test_request r(body, {{"Authorization", token}}, std::move(peer));
  for (auto& h : extra) r.header(std::move(h.first), std::move(h.second));
  return r;
}

bool allowed(const hookrx::parashift_verifier& v, const test_request& r) {
  const auto verdict = v.verify(r.view());
  if (verdict) return true;
  INFO("peer " << r.peer << ": " << verdict.error().message());
  CHECK(verdict.error().code() == hookrx::errc::source_not_allowed);
  return false;
}

hookrx::errc verdict_of(const hookrx::parashift_verifier& v, const test_request& r) {
  const auto verdict = v.verify(r.view());
  REQUIRE_FALSE(verdict.has_value());
  return verdict.error().code();
}

hookrx::errc config_error(hookrx::parashift_credentials creds) {
  const auto v = hookrx::parashift_verifier::create(std::move(creds));
  REQUIRE_FALSE(v.has_value());
  return v.error().code();
}

}  // namespace

TEST_SUITE("verify parashift") {
  TEST_CASE("the default credential header is Authorization") {
    const hookrx::header_credential h;
    CHECK(h.name == "Authorization");
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token})};
    const auto v = make(creds);
    const auto ok = v.verify(test_request(body, {{"authorization", token}}).view());
    REQUIRE(ok.has_value());
    CHECK(ok->secret_index == 0);
  }

  TEST_CASE("parashift sources are not restricted unless asked and default to 34.65.0.0/16") {
    const hookrx::parashift_credentials defaults;
    CHECK_FALSE(defaults.restrict_sources);
    REQUIRE(defaults.allowed_sources.size() == 1);
    CHECK(defaults.allowed_sources[0] == "34.65.0.0/16");
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token})};
    const auto v = make(creds);
    CHECK(v.verify(from("203.0.113.9").view()).has_value());
  }

  TEST_CASE("any of several accepted values is valid and secret_index says which") {
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token, old_token})};
    const auto v = make(creds);
    const auto by_new = v.verify(test_request(body, {{"Authorization", token}}).view());
    REQUIRE(by_new.has_value());
    CHECK(by_new->secret_index == 0);
    const auto by_old = v.verify(test_request(body, {{"Authorization", old_token}}).view());
    REQUIRE(by_old.has_value());
    CHECK(by_old->secret_index == 1);
  }

  TEST_CASE("an absent credential header is missing_credentials and a wrong one credentials_mismatch") {
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token})};
    const auto v = make(creds);
    CHECK(verdict_of(v, test_request(body)) == hookrx::errc::missing_credentials);
    CHECK(verdict_of(v, test_request(body, {{"X-Authorization", token}})) == hookrx::errc::missing_credentials);
    CHECK(verdict_of(v, test_request(body, {{"Authorization", "Bearer wrong"}})) == hookrx::errc::credentials_mismatch);
    CHECK(verdict_of(v, test_request(body, {{"Authorization", token.substr(0, token.size() - 1)}})) ==
          hookrx::errc::credentials_mismatch);
    CHECK(verdict_of(v, test_request(body, {{"Authorization", token + "1"}})) == hookrx::errc::credentials_mismatch);
    CHECK(verdict_of(v, test_request(body, {{"Authorization", ""}})) == hookrx::errc::credentials_mismatch);
  }

  TEST_CASE("two header checks are both required") {
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token, old_token}), hookrx::header_credential{"X-Tenant-Key", {"tenant-secret-1"}}};
    const auto v = make(creds);
    const auto ok =
        v.verify(test_request(body, {{"Authorization", old_token}, {"x-tenant-key", "tenant-secret-1"}}).view());
    REQUIRE(ok.has_value());
    CHECK(ok->secret_index == 1);
    CHECK(verdict_of(v, test_request(body, {{"Authorization", token}})) == hookrx::errc::missing_credentials);
    CHECK(verdict_of(v, test_request(body, {{"X-Tenant-Key", "tenant-secret-1"}})) ==
          hookrx::errc::missing_credentials);
    CHECK(verdict_of(v, test_request(body, {{"Authorization", token}, {"X-Tenant-Key", "tenant-secret-2"}})) ==
          hookrx::errc::credentials_mismatch);
    CHECK(verdict_of(v, test_request(body, {{"Authorization", "nope"}, {"X-Tenant-Key", "tenant-secret-1"}})) ==
          hookrx::errc::credentials_mismatch);
  }

  TEST_CASE("a source inside the default Parashift range is allowed and one outside is refused") {
    const auto v = with_sources({"34.65.0.0/16"});
    CHECK(allowed(v, from("34.65.1.2")));
    CHECK(allowed(v, from("34.65.0.0")));
    CHECK(allowed(v, from("34.65.255.255")));
    CHECK_FALSE(allowed(v, from("34.66.0.1")));
    CHECK_FALSE(allowed(v, from("34.64.255.255")));
    CHECK_FALSE(allowed(v, from("203.0.113.9")));
  }

  TEST_CASE("a prefix that is not byte-aligned is applied bit by bit") {
    const auto v = with_sources({"10.1.16.0/20"});
    CHECK(allowed(v, from("10.1.16.0")));
    CHECK(allowed(v, from("10.1.31.255")));
    CHECK_FALSE(allowed(v, from("10.1.32.0")));
    CHECK_FALSE(allowed(v, from("10.1.15.255")));
  }

  TEST_CASE("IPv6 ranges match IPv6 peers") {
    const auto v = with_sources({"2001:db8::/32", "2001:db8:8000::/33"});
    CHECK(allowed(v, from("2001:db8::1")));
    CHECK(allowed(v, from("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
    CHECK(allowed(v, from("2001:DB8::abcd")));
    CHECK_FALSE(allowed(v, from("2001:db9::1")));
    CHECK_FALSE(allowed(v, from("2001:db7:ffff::1")));
    CHECK_FALSE(allowed(v, from("::1")));

    const auto half = with_sources({"2001:db8:8000::/33"});
    CHECK(allowed(half, from("2001:db8:8000::1")));
    CHECK(allowed(half, from("2001:db8:ffff::1")));
    CHECK_FALSE(allowed(half, from("2001:db8:7fff::1")));
  }

  TEST_CASE("an IPv4-mapped IPv6 peer matches an IPv4 range") {
    const auto v = with_sources({"34.65.0.0/16"});
    CHECK(allowed(v, from("::ffff:34.65.1.2")));
    CHECK(allowed(v, from("::FFFF:34.65.1.2")));
    CHECK_FALSE(allowed(v, from("::ffff:34.66.0.1")));
  }

  TEST_CASE("a /0 range allows every address of its family and no other") {
    const auto any4 = with_sources({"0.0.0.0/0"});
    CHECK(allowed(any4, from("1.2.3.4")));
    CHECK(allowed(any4, from("255.255.255.255")));
    CHECK_FALSE(allowed(any4, from("2001:db8::1")));
    const auto any6 = with_sources({"::/0"});
    CHECK(allowed(any6, from("2001:db8::1")));
    CHECK(allowed(any6, from("::1")));
    // An IPv6 range never admits IPv4 peers, in either notation.
    CHECK_FALSE(allowed(any6, from("1.2.3.4")));
    CHECK_FALSE(allowed(any6, from("::ffff:1.2.3.4")));
  }

  TEST_CASE("a /32 IPv4 and a /128 IPv6 range allow exactly one address") {
    const auto v = with_sources({"34.65.1.2/32", "2001:db8::7/128"});
    CHECK(allowed(v, from("34.65.1.2")));
    CHECK_FALSE(allowed(v, from("34.65.1.3")));
    CHECK_FALSE(allowed(v, from("34.65.1.1")));
    CHECK(allowed(v, from("2001:db8::7")));
    CHECK(allowed(v, from("2001:db8:0:0:0:0:0:7")));
    CHECK_FALSE(allowed(v, from("2001:db8::6")));
    CHECK_FALSE(allowed(v, from("2001:db8::8")));
  }

  TEST_CASE("a malformed CIDR in the configuration is invalid_config") {
    for (const char* bad : {"34.65.0.0/33", "34.65.0.0/", "/16", "34.65.0/16", "300.1.2.3/8", "34.65.0.0/16x",
                            "34.65.0.0/-1", "2001:db8::/129", "2001:db8:::/32", "not-an-address/8", ""}) {
      INFO("allowed source: [" << bad << "]");
      hookrx::parashift_credentials creds;
      creds.headers = {authorization({token})};
      creds.restrict_sources = true;
      creds.allowed_sources = {"34.65.0.0/16", bad};
      CHECK(config_error(creds) == hookrx::errc::invalid_config);
    }
  }

  TEST_CASE("a malformed trusted proxy CIDR is invalid_config") {
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token})};
    creds.restrict_sources = true;
    creds.trusted_proxies = {"10.0.0.0/40"};
    CHECK(config_error(creds) == hookrx::errc::invalid_config);
  }

  TEST_CASE("a peer address that does not parse is source_not_allowed") {
    const auto v = with_sources({"0.0.0.0/0", "::/0"});
    for (const char* peer : {"", "34.65.1", "34.65.1.2.3", "34.65.1.256", "localhost", "2001:db8::g",
                             "::ffff:34.65.1.300", "1.2.3.4/32"}) {
      INFO("peer: [" << peer << "]");
      CHECK(verdict_of(v, from(peer)) == hookrx::errc::source_not_allowed);
    }
  }

  TEST_CASE("X-Forwarded-For from a peer that is not a trusted proxy is ignored") {
    const auto v = with_sources({"34.65.0.0/16"}, {"10.0.0.0/8"});
    // A forged header cannot let an outsider in ...
    CHECK(verdict_of(v, from("203.0.113.9", {{"X-Forwarded-For", "34.65.1.2"}})) == hookrx::errc::source_not_allowed);
    // ... nor lock an allowed sender out.
    CHECK(allowed(v, from("34.65.1.2", {{"X-Forwarded-For", "203.0.113.9"}})));
    // Without any trusted proxy configured the header is never believed.
    const auto no_proxy = with_sources({"34.65.0.0/16"});
    CHECK(verdict_of(no_proxy, from("10.0.0.5", {{"X-Forwarded-For", "34.65.1.2"}})) ==
          hookrx::errc::source_not_allowed);
  }

  TEST_CASE("X-Forwarded-For from a trusted proxy names the client") {
    const auto v = with_sources({"34.65.0.0/16"}, {"10.0.0.0/8", "fd00::/8"});
    CHECK(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "34.65.1.2"}})));
    CHECK(allowed(v, from("fd00::5", {{"x-forwarded-for", "34.65.1.2"}})));
    CHECK_FALSE(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "34.66.0.1"}})));
    // The proxy itself is not the client.
    CHECK_FALSE(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "203.0.113.9"}})));
  }

  TEST_CASE("the client is the right-most X-Forwarded-For entry that is not a trusted proxy") {
    const auto v = with_sources({"34.65.0.0/16"}, {"10.0.0.0/8"});
    // A chain of proxies: skip the trusted hops from the right.
    CHECK(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "198.51.100.7, 34.65.1.2, 10.0.0.3"}})));
    CHECK(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "198.51.100.7,34.65.1.2,10.0.0.3,10.9.9.9"}})));
    CHECK(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "  34.65.1.2  ,   10.0.0.3 "}})));
    // A client can prepend anything: the left-most entry is never believed over the right-most.
    CHECK_FALSE(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "34.65.1.2, 198.51.100.7"}})));
    CHECK_FALSE(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "34.65.1.2, 198.51.100.7, 10.0.0.3"}})));
  }

  TEST_CASE("several X-Forwarded-For lines form one list with the last line nearest") {
    const auto v = with_sources({"34.65.0.0/16"}, {"10.0.0.0/8"});
    CHECK(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "34.65.1.2"}, {"X-Forwarded-For", "10.0.0.3"}})));
    CHECK(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-For", "34.65.1.2"}})));
    CHECK_FALSE(allowed(v, from("10.0.0.5", {{"X-Forwarded-For", "34.65.1.2"}, {"X-Forwarded-For", "198.51.100.7"}})));
  }

  TEST_CASE("a trusted proxy seen as an IPv4-mapped IPv6 peer is still trusted") {
    const auto v = with_sources({"34.65.0.0/16"}, {"10.0.0.0/8"});
    CHECK(allowed(v, from("::ffff:10.0.0.5", {{"X-Forwarded-For", "34.65.1.2"}})));
    CHECK_FALSE(allowed(v, from("::ffff:203.0.113.9", {{"X-Forwarded-For", "34.65.1.2"}})));
  }

  TEST_CASE("garbage in X-Forwarded-For from a trusted proxy is source_not_allowed") {
    const auto v = with_sources({"34.65.0.0/16"}, {"10.0.0.0/8"});
    for (const char* xff : {"garbage", "34.65.1.2, garbage", "34.65.1", ",", "34.65.1.2;34.65.1.3"}) {
      INFO("X-Forwarded-For: [" << xff << "]");
      CHECK(verdict_of(v, from("10.0.0.5", {{"X-Forwarded-For", xff}})) == hookrx::errc::source_not_allowed);
    }
  }

  TEST_CASE("an address with a NUL inside is not an address, in the configuration or in X-Forwarded-For") {
    using namespace std::string_literals;
    for (const std::string& bad : {"34.65.0.0\0junk/16"s, "::\0\0\0005"s, "34.65.0.0/16\0"s}) {
      hookrx::parashift_credentials creds;
      creds.headers = {authorization({token})};
      creds.restrict_sources = true;
      creds.allowed_sources = {bad};
      CHECK(config_error(creds) == hookrx::errc::invalid_config);
      creds.allowed_sources = {"34.65.0.0/16"};
      creds.trusted_proxies = {bad};
      CHECK(config_error(creds) == hookrx::errc::invalid_config);
    }
    const auto v = with_sources({"34.65.0.0/16"}, {"10.0.0.0/8"});
    CHECK(verdict_of(v, from("10.0.0.5", {{"X-Forwarded-For", "34.65.1.2\0junk"s}})) ==
          hookrx::errc::source_not_allowed);
    CHECK(verdict_of(v, from("34.65.1.2\0"s)) == hookrx::errc::source_not_allowed);
  }

  TEST_CASE("the source is checked before the credentials") {
    const auto v = with_sources({"34.65.0.0/16"});
    test_request wrong("{}", {{"Authorization", "Bearer wrong"}}, "203.0.113.9");
    CHECK(verdict_of(v, wrong) == hookrx::errc::source_not_allowed);
    test_request none("{}", {}, "203.0.113.9");
    CHECK(verdict_of(v, none) == hookrx::errc::source_not_allowed);
    // From an allowed source the credential verdicts come through.
    test_request wrong_inside("{}", {{"Authorization", "Bearer wrong"}}, "34.65.1.2");
    CHECK(verdict_of(v, wrong_inside) == hookrx::errc::credentials_mismatch);
    test_request none_inside("{}", {}, "34.65.1.2");
    CHECK(verdict_of(v, none_inside) == hookrx::errc::missing_credentials);
  }

  TEST_CASE("no header check configured is invalid_config unless explicitly unauthenticated") {
    CHECK(config_error(hookrx::parashift_credentials{}) == hookrx::errc::invalid_config);

    hookrx::parashift_credentials sources_only;
    sources_only.restrict_sources = true;
    CHECK(config_error(sources_only) == hookrx::errc::invalid_config);

    hookrx::parashift_credentials open;
    open.allow_unauthenticated = true;
    const auto v = make(open);
    const auto ok = v.verify(hookrx::request_view{});
    REQUIRE(ok.has_value());
    CHECK(ok->secret_index == -1);

    // Unauthenticated but restricted: the allow-list still applies.
    open.restrict_sources = true;
    const auto restricted = make(open);
    CHECK(restricted.verify(test_request(body, {}, "34.65.9.9").view()).has_value());
    CHECK(verdict_of(restricted, test_request(body, {}, "198.51.100.1")) == hookrx::errc::source_not_allowed);
  }

  TEST_CASE("an empty accepted value is invalid_config") {
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token, ""})};
    CHECK(config_error(creds) == hookrx::errc::invalid_config);
  }

  TEST_CASE("no parashift error reveals an accepted credential value") {
    hookrx::parashift_credentials creds;
    creds.headers = {authorization({token, old_token}), hookrx::header_credential{"X-Tenant-Key", {"tenant-secret-1"}}};
    creds.restrict_sources = true;
    const auto v = make(creds);
    const std::vector<test_request> failing = {
        test_request(body, {}, "34.65.1.2"),
        test_request(body, {{"Authorization", "Bearer ps_live_token_"}}, "34.65.1.2"),
        test_request(body, {{"Authorization", token}, {"X-Tenant-Key", "tenant-secret-"}}, "34.65.1.2"),
        test_request(body, {{"Authorization", token}, {"X-Tenant-Key", "tenant-secret-1"}}, "198.51.100.1"),
    };
    for (const auto& r : failing) {
      const auto verdict = v.verify(r.view());
      REQUIRE_FALSE(verdict.has_value());
      const std::string msg = verdict.error().message();
      INFO("message: " << msg);
      for (const std::string& secret : {token, old_token, std::string("tenant-secret-1")}) {
        CHECK_FALSE(contains(msg, secret));
      }
    }
  }

}  // TEST_SUITE
