// Static-token checks against a reference (a plain loop of string comparisons): PerfectParser's
// X-Webhook-Secret and Parashift's Authorization header, each with several accepted values
// (rotation), and the constant-time token_set underneath them. Same configuration verdict, same
// request verdict, and for Parashift the same index of the accepted value.
// Input: accepted values one per line up to a line "--", then request header lines "Name: value".
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto.hpp"
#include "fuzz_support.hpp"
#include "hookrx/verify.hpp"

namespace {

using hookrx_fuzz::require;

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Reference: the first header named `name` (any case).
std::optional<std::string_view> first_header(const std::vector<hookrx::header_view>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (iequal(h.name, name)) return h.value;
  }
  return std::nullopt;
}

// Reference: index of the first accepted value equal to `candidate`, or -1.
int reference_find(const std::vector<std::string>& accepted, std::string_view candidate) {
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    if (accepted[i] == candidate) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hookrx_fuzz::cursor in(data, size);
  std::vector<std::string> accepted;
  while (!in.empty()) {
    const std::string_view line = in.line();
    if (line == "--") break;
    if (accepted.size() < 8) accepted.emplace_back(line);
  }
  std::vector<hookrx::header_view> headers;
  while (!in.empty() && headers.size() < 16) {
    const std::string_view line = in.line();
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  const hookrx::request_view request("{}", headers.data(), headers.size(), "203.0.113.7");

  bool any_empty = false;
  bool any_short = false;
  for (const auto& a : accepted) {
    any_empty = any_empty || a.empty();
    any_short = any_short || a.size() < 8;
  }

  // The token set itself.
  if (const auto set = hookrx::detail::token_set::create(accepted)) {
    for (const auto& h : headers) {
      require(set->find(h.value) == reference_find(accepted, h.value), "token_set finds the first equal token");
    }
    for (const auto& a : accepted) require(set->find(a) == reference_find(accepted, a), "token_set finds each token");
  } else {
    require(false, "a token set of any tokens can be built");
  }

  // PerfectParser static secrets.
  {
    hookrx::perfectparser_credentials creds;
    creds.static_secrets = accepted;
    const auto v = hookrx::perfectparser_verifier::create(creds);
    if (accepted.empty() || any_short) {
      require(!v && v.error().code() == hookrx::errc::invalid_config, "no or short static secrets are refused");
    } else {
      require(v.has_value(), "static secrets of 8+ characters are accepted");
      const auto got = v->verify(request);
      const auto header = first_header(headers, "X-Webhook-Secret");
      if (!header) {
        require(!got && got.error().code() == hookrx::errc::missing_static_secret, "no X-Webhook-Secret: missing");
      } else if (reference_find(accepted, hookrx_fuzz::reference_trim(*header)) < 0) {
        require(!got && got.error().code() == hookrx::errc::static_secret_mismatch,
                "a wrong X-Webhook-Secret: mismatch");
      } else {
        require(got.has_value(), "an accepted X-Webhook-Secret verifies");
      }
    }
  }

  // Parashift Authorization values.
  {
    hookrx::parashift_credentials creds;
    creds.headers = {{"Authorization", accepted}};
    const auto v = hookrx::parashift_verifier::create(creds);
    if (accepted.empty() || any_empty) {
      require(!v && v.error().code() == hookrx::errc::invalid_config, "no or empty accepted values are refused");
    } else {
      require(v.has_value(), "non-empty accepted values are accepted");
      const auto got = v->verify(request);
      const auto header = first_header(headers, "authorization");
      const int want = header ? reference_find(accepted, hookrx_fuzz::reference_trim(*header)) : -1;
      if (!header) {
        require(!got && got.error().code() == hookrx::errc::missing_credentials, "no Authorization: missing");
      } else if (want < 0) {
        require(!got && got.error().code() == hookrx::errc::credentials_mismatch, "a wrong Authorization: mismatch");
      } else {
        require(got.has_value() && got->secret_index == want, "an accepted Authorization verifies, by its index");
      }
    }
  }
  return 0;
}
