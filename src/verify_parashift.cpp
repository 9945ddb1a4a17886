#include <optional>

#include "address.hpp"
#include "crypto.hpp"
#include "hookrx/verify.hpp"
#include "wire_parashift.hpp"

namespace hookrx {
namespace spec = wire::parashift;
namespace {

result<std::vector<detail::cidr>> parse_ranges(const std::vector<std::string>& texts, std::string_view what) {
  std::vector<detail::cidr> out;
  for (const std::string& t : texts) {
    auto r = detail::parse_cidr(t);
    if (!r) return error(errc::invalid_config, std::string(what) + " entry is not a CIDR range: " + t);
    out.push_back(*r);
  }
  return out;
}

}  // namespace

struct parashift_verifier::impl {
  struct check {
    std::string header;
    detail::token_set accepted;
  };
  std::vector<check> checks;
  bool restrict_sources = false;
  std::vector<detail::cidr> allowed;
  std::vector<detail::cidr> proxies;

  // The address the delivery came from: the direct peer, or, when that peer is a trusted proxy,
  // the right-most X-Forwarded-For entry that is not itself a trusted proxy.
  [[nodiscard]] std::optional<detail::ip_address> client_address(const request_view& request) const;
};

std::optional<detail::ip_address> parashift_verifier::impl::client_address(const request_view& request) const {
  auto client = detail::parse_ip(request.peer());
  if (!client || !detail::contains_any(proxies, *client)) return client;
  // Header lines are read last to first and each line right to left: the nearest hop comes first.
  for (const header_view* h = request.end(); h != request.begin();) {
    --h;
    if (!iequals(h->name, spec::forwarded_for_header)) continue;
    std::string_view list = h->value;
    while (true) {
      const std::size_t comma = list.rfind(',');
      const std::string_view entry = detail::trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
      auto hop = detail::parse_ip(entry);
      if (!hop) return std::nullopt;  // garbage from a trusted chain: the client is unknown
      client = hop;
      if (!detail::contains_any(proxies, *hop)) return client;
      if (comma == std::string_view::npos) break;
      list = list.substr(0, comma);
    }
  }
  return client;
}

result<parashift_verifier> parashift_verifier::create(const parashift_credentials& credentials) {
  if (credentials.headers.empty() && !credentials.allow_unauthenticated) {
    return error(errc::invalid_config,
                 "no credential header configured; configure one (e.g. Authorization), or set "
                 "allow_unauthenticated to accept unverified deliveries");
  }
  auto p = std::make_unique<impl>();
  for (const header_credential& h : credentials.headers) {
    if (h.name.empty()) return error(errc::invalid_config, "a credential header has no name");
    if (h.accepted_values.empty()) {
      return error(errc::invalid_config, "credential header " + h.name + " has no accepted value");
    }
    for (const std::string& v : h.accepted_values) {
      if (v.empty()) return error(errc::invalid_config, "credential header " + h.name + " accepts an empty value");
    }
    auto tokens = detail::token_set::create(h.accepted_values);
    if (!tokens) return tokens.error();
    p->checks.push_back({h.name, std::move(*tokens)});
  }
  p->restrict_sources = credentials.restrict_sources;
  auto allowed = parse_ranges(credentials.allowed_sources, "allowed_sources");
  if (!allowed) return allowed.error();
  p->allowed = std::move(*allowed);
  auto proxies = parse_ranges(credentials.trusted_proxies, "trusted_proxies");
  if (!proxies) return proxies.error();
  p->proxies = std::move(*proxies);
  return parashift_verifier(std::move(p));
}

result<verified> parashift_verifier::verify(const request_view& request) const {
  if (impl_->restrict_sources) {
    const auto client = impl_->client_address(request);
    if (!client || !detail::contains_any(impl_->allowed, *client)) return errc::source_not_allowed;
  }
  verified out;
  for (std::size_t i = 0; i < impl_->checks.size(); ++i) {
    const impl::check& c = impl_->checks[i];
    const auto header = request.header(c.header);
    if (!header) return error(errc::missing_credentials, c.header);
    const int index = c.accepted.find(detail::trim_ows(*header));
    if (index < 0) return error(errc::credentials_mismatch, c.header);
    if (i == 0) out.secret_index = index;
  }
  return out;
}

parashift_verifier::parashift_verifier(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
parashift_verifier::parashift_verifier(parashift_verifier&&) noexcept = default;
parashift_verifier& parashift_verifier::operator=(parashift_verifier&&) noexcept = default;
parashift_verifier::~parashift_verifier() = default;

}  // namespace hookrx
