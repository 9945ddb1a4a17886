// PerfectParser signature verdicts, differentially against a plain reference: OpenSSL's one-shot
// HMAC() and a hex decode written the obvious way. On any input: the same verdict (verified under
// which secret, malformed, mismatch, missing, or a refused configuration), and decode_hex_digest()
// gives the reference's bytes whenever the reference accepts the text.
// Input: secret A line, secret B line, a mode byte, a header line, then the body. Mode bit 0 puts
// the header (else none); bit 1 replaces it with the true signature under A or B (bit 2) with its
// letters' case chosen by the header line's bytes, so matching deliveries are reached too.
#include <array>
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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reference decode: exactly 64 hex digits, either case.
std::optional<std::string> reference_decode(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string unhex(const std::string& lower) { return *reference_decode(lower); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hookrx_fuzz::cursor in(data, size);
  const std::string a(in.line());
  const std::string b(in.line());
  const std::uint8_t mode = in.byte();
  std::string header(in.line());
  const std::string_view body = in.rest();

  if ((mode & 2U) != 0) {
    std::string sig = hookrx_fuzz::reference_hmac_hex((mode & 4U) != 0 ? b : a, body);
    for (std::size_t i = 0; i < sig.size() && i < header.size(); ++i) {
      if ((header[i] & 1) != 0 && sig[i] >= 'a') sig[i] = static_cast<char>(sig[i] - 32);
    }
    header = (mode & 8U) != 0 ? " " + sig + "\t" : sig;
  }

  // decode_hex_digest() against the reference, on the raw header line.
  hookrx::detail::digest d{};
  const bool decoded = hookrx::detail::decode_hex_digest(header, d);
  const auto ref = reference_decode(header);
  require(decoded == ref.has_value(), "decode_hex_digest accepts exactly what the reference does");
  if (ref) require(std::string(d.begin(), d.end()) == *ref, "decode_hex_digest gives the reference's bytes");

  // The verifier against the reference verdict. Secrets: A alone, or A and B (rotation) when B is set.
  std::vector<std::string> secrets = {a};
  if (!b.empty()) secrets.push_back(b);
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = secrets;
  const auto v = hookrx::perfectparser_verifier::create(creds);
  if (a.empty()) {
    require(!v && v.error().code() == hookrx::errc::invalid_config, "an empty secret is refused");
    return 0;
  }
  require(v.has_value(), "non-empty secrets are accepted");

  std::vector<hookrx::header_view> headers = {{"Content-Type", "application/json"}};
  if ((mode & 1U) != 0 || (mode & 2U) != 0) headers.push_back({"x-perfectparser-signature", header});
  const auto got = v->verify(hookrx::request_view(body, headers.data(), headers.size(), "203.0.113.7"));

  std::optional<hookrx::errc> want_error;
  int want_index = -1;
  if (headers.size() == 1) {
    want_error = hookrx::errc::missing_signature;
  } else {
    const auto expected = reference_decode(hookrx_fuzz::reference_trim(header));
    if (!expected) {
      want_error = hookrx::errc::malformed_signature;
    } else {
      for (std::size_t k = 0; k < secrets.size() && want_index < 0; ++k) {
        if (unhex(hookrx_fuzz::reference_hmac_hex(secrets[k], body)) == *expected) want_index = static_cast<int>(k);
      }
      if (want_index < 0) want_error = hookrx::errc::signature_mismatch;
    }
  }
  if (want_error) {
    require(!got && got.error().code() == *want_error, "the verifier refuses as the reference does");
  } else {
    require(got.has_value() && got->secret_index == want_index, "the verifier accepts as the reference does");
  }
  return 0;
}
