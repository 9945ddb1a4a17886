// Property of PerfectParser signatures: a body signed with a configured secret always verifies (in
// either hex case, with optional whitespace around the header, under either secret of a rotation),
// and any single-bit change of the body, the header or the secret never does, except a bit that
// only changes the case of a hex letter, which must still verify (the spec accepts either case).
// Input: 4 bytes choosing the bit to flip, the secret up to '\n', then the body.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "hookrx/verify.hpp"

namespace {

using hookrx_fuzz::require;

hookrx::result<hookrx::verified> verify(const hookrx::perfectparser_verifier& v, std::string_view body,
                                        std::string_view signature) {
  const hookrx::header_view headers[] = {{"Content-Type", "application/json"},
                                         {"X-PerfectParser-Signature", signature}};
  return v.verify(hookrx::request_view(body, headers, "203.0.113.7"));
}

bool is_hex_letter(char c) { return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hookrx_fuzz::cursor in(data, size);
  const std::uint32_t selector = in.u32();
  std::string secret(in.line());
  if (secret.empty()) secret = "wh_sec_default";
  std::string body(in.rest());

  // Building a verifier costs more than verifying: the one for the last secret is kept (libFuzzer
  // mutates the body more often than the secret).
  static std::string cached_secret;
  static std::optional<hookrx::perfectparser_verifier> v;
  if (!v || cached_secret != secret) {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {"wh_sec_other_secret_of_the_rotation", secret};
    auto created = hookrx::perfectparser_verifier::create(creds);
    require(created.has_value(), "a non-empty secret is accepted");
    v.emplace(std::move(*created));
    cached_secret = secret;
  }

  std::string signature = hookrx_fuzz::reference_hmac_hex(secret, body);
  // The case of each letter and the whitespace around come from the selector: all must verify.
  for (std::size_t i = 0; i < signature.size(); ++i) {
    if (((selector >> (i % 32)) & 1U) != 0 && is_hex_letter(signature[i]))
      signature[i] = static_cast<char>(signature[i] - 32);
  }
  const std::string padded = ((selector & 1U) != 0 ? " " : "\t") + signature + ((selector & 2U) != 0 ? "\t " : "");
  const auto ok = verify(*v, body, padded);
  require(ok.has_value() && ok->secret_index == 1, "a signed body verifies with the secret that signed it");

  // One bit flipped, chosen by the selector, in the body, the header or the secret.
  const std::uint32_t where = selector % 3;
  const std::uint32_t bit = selector / 3;
  if (where == 0 && !body.empty()) {
    std::string changed = body;
    const std::size_t i = (bit / 8) % changed.size();
    changed[i] = static_cast<char>(static_cast<unsigned char>(changed[i]) ^ (1U << (bit % 8)));
    const auto r = verify(*v, changed, signature);
    require(!r && r.error().code() == hookrx::errc::signature_mismatch, "a changed body never verifies");
  } else if (where == 1) {
    std::string changed = signature;
    const std::size_t i = (bit / 8) % changed.size();
    const auto mask = static_cast<char>(1U << (bit % 8));
    changed[i] = static_cast<char>(changed[i] ^ mask);
    const auto r = verify(*v, body, changed);
    if (mask == 0x20 && is_hex_letter(signature[i])) {
      require(r.has_value(), "a hex letter in the other case still verifies");
    } else {
      require(!r && (r.error().code() == hookrx::errc::signature_mismatch ||
                     r.error().code() == hookrx::errc::malformed_signature),
              "a changed signature never verifies");
    }
  } else {
    std::string changed = secret;
    const std::size_t i = (bit / 8) % changed.size();
    changed[i] = static_cast<char>(static_cast<unsigned char>(changed[i]) ^ (1U << (bit % 8)));
    hookrx::perfectparser_credentials other;
    other.signing_secrets = {changed};
    const auto w = hookrx::perfectparser_verifier::create(other);
    require(w.has_value(), "a changed non-empty secret is accepted");
    const auto r = verify(*w, body, signature);
    require(!r && r.error().code() == hookrx::errc::signature_mismatch, "a changed secret never verifies");
  }
  return 0;
}
