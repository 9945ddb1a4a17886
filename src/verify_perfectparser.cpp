#include <optional>

#include "crypto.hpp"
#include "hookrx/verify.hpp"
#include "wire_perfectparser.hpp"

namespace hookrx {
namespace spec = wire::perfectparser;

struct perfectparser_verifier::impl {
  std::optional<detail::hmac_keyring> signing;  // set when signing secrets are configured
  std::optional<detail::token_set> statics;     // set when static secrets are configured
};

result<perfectparser_verifier> perfectparser_verifier::create(const perfectparser_credentials& credentials) {
  if (credentials.signing_secrets.empty() && credentials.static_secrets.empty() && !credentials.allow_unauthenticated) {
    return error(errc::invalid_config,
                 "no signing secret and no static secret configured; configure one, or set "
                 "allow_unauthenticated to accept unverified deliveries");
  }
  for (const std::string& s : credentials.signing_secrets) {
    if (s.empty()) return error(errc::invalid_config, "a configured signing secret is empty");
  }
  for (const std::string& s : credentials.static_secrets) {
    if (s.size() < spec::min_static_secret_size) {
      return error(errc::invalid_config, "a configured static secret is shorter than 8 characters");
    }
  }
  auto p = std::make_unique<impl>();
  if (!credentials.signing_secrets.empty()) {
    auto ring = detail::hmac_keyring::create(credentials.signing_secrets);
    if (!ring) return ring.error();
    p->signing.emplace(std::move(*ring));
  }
  if (!credentials.static_secrets.empty()) {
    auto tokens = detail::token_set::create(credentials.static_secrets);
    if (!tokens) return tokens.error();
    p->statics.emplace(std::move(*tokens));
  }
  return perfectparser_verifier(std::move(p));
}

result<verified> perfectparser_verifier::verify(const request_view& request) const {
  verified out;
  if (impl_->signing) {
    const auto header = request.header(spec::signature_header);
    if (!header) return errc::missing_signature;
    detail::digest expected{};
    if (!detail::decode_hex_digest(detail::trim_ows(*header), expected)) return errc::malformed_signature;
    out.secret_index = impl_->signing->find_match(request.body(), expected);
    if (out.secret_index < 0) return errc::signature_mismatch;
  }
  if (impl_->statics) {
    const auto header = request.header(spec::static_secret_header);
    if (!header) return errc::missing_static_secret;
    if (impl_->statics->find(detail::trim_ows(*header)) < 0) return errc::static_secret_mismatch;
  }
  return out;
}

perfectparser_verifier::perfectparser_verifier(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
perfectparser_verifier::perfectparser_verifier(perfectparser_verifier&&) noexcept = default;
perfectparser_verifier& perfectparser_verifier::operator=(perfectparser_verifier&&) noexcept = default;
perfectparser_verifier::~perfectparser_verifier() = default;

}  // namespace hookrx
