// hookrx/verify.hpp: authenticate a delivery before anything reads its body.
//
// PerfectParser signs the raw body with HMAC-SHA256 (X-PerfectParser-Signature) and may also send a
// static token (X-Webhook-Secret); Parashift sends a custom header and comes from a known IP range.
// Verifiers are built once, are immutable, and are safe to share across threads. Every comparison
// of secret material is constant time; verdicts and indices are reported, secrets never are.
//
//   hookrx::perfectparser_credentials creds;
//   creds.signing_secrets = {"wh_sec_new", "wh_sec_old"};           // rotation: either one is valid
//   auto v = hookrx::perfectparser_verifier::create(creds);
//   hookrx::result<hookrx::verified> ok = v->verify(request);
//   if (!ok) reject(ok.error().code());             // errc::signature_mismatch, ...
//   else log("signed with secret #", ok->secret_index);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hookrx/error.hpp"
#include "hookrx/request.hpp"

namespace hookrx {

/// What a successful verification established.
struct verified {
  /// Index of the signing secret (PerfectParser) or accepted header value (Parashift, first check)
  /// that matched; -1 when no such credential is configured.
  int secret_index = -1;
};

/// PerfectParser credentials. What is configured is what is required: signing secrets make the
/// signature mandatory, static secrets make X-Webhook-Secret mandatory, both make both mandatory.
struct perfectparser_credentials {
  /// Signing secrets used as HMAC keys as-is (the whole `wh_sec_...` string). Several during rotation.
  std::vector<std::string> signing_secrets;
  /// Accepted X-Webhook-Secret values (at least 8 characters each). Several during rotation.
  std::vector<std::string> static_secrets;
  /// Must be set to accept deliveries with no credential configured at all. Off by default, so a
  /// secret missing from the environment refuses to start instead of silently skipping verification.
  bool allow_unauthenticated = false;
};

/// One required header (name + several accepted values, for rotation).
struct header_credential {
  std::string name = "Authorization";
  std::vector<std::string> accepted_values;
};

/// Parashift credentials: header checks (all must pass) and an optional source allow-list.
struct parashift_credentials {
  std::vector<header_credential> headers;
  /// Check the client address against `allowed_sources`.
  bool restrict_sources = false;
  /// CIDR ranges deliveries may come from; Parashift's documented range by default. IPv4 ranges
  /// match IPv4 peers (also written ::ffff:a.b.c.d); IPv6 ranges match only IPv6 peers.
  std::vector<std::string> allowed_sources = {"34.65.0.0/16"};
  /// Direct peers (CIDRs) whose X-Forwarded-For is believed. From anyone else the header is ignored.
  std::vector<std::string> trusted_proxies;
  /// As for PerfectParser: required to run without any header check.
  bool allow_unauthenticated = false;
};

/// Verifies PerfectParser deliveries. Build once with create(); verify() is thread-safe, allocates
/// nothing of its own and runs in time independent of the secrets' contents.
class perfectparser_verifier {
 public:
  /// Fails with errc::invalid_config when no credential is configured (and allow_unauthenticated
  /// is false), or when a secret is empty or a static secret shorter than 8 characters.
  [[nodiscard]] static result<perfectparser_verifier> create(const perfectparser_credentials& credentials);

  /// Verifies `request.body()` against its X-PerfectParser-Signature / X-Webhook-Secret headers.
  [[nodiscard]] result<verified> verify(const request_view& request) const;

  perfectparser_verifier(perfectparser_verifier&&) noexcept;
  perfectparser_verifier& operator=(perfectparser_verifier&&) noexcept;
  ~perfectparser_verifier();

 private:
  struct impl;
  explicit perfectparser_verifier(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

/// Authenticates Parashift deliveries: source allow-list first, then every header check.
class parashift_verifier {
 public:
  /// Fails with errc::invalid_config for a malformed CIDR, an empty accepted value, or no header
  /// check at all without allow_unauthenticated.
  [[nodiscard]] static result<parashift_verifier> create(const parashift_credentials& credentials);

  [[nodiscard]] result<verified> verify(const request_view& request) const;

  parashift_verifier(parashift_verifier&&) noexcept;
  parashift_verifier& operator=(parashift_verifier&&) noexcept;
  ~parashift_verifier();

 private:
  struct impl;
  explicit parashift_verifier(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace hookrx
