// Source allow-lists: CIDR parsing and the client address behind trusted proxies (X-Forwarded-For),
// IPv4 and IPv6, checked against a simple reference (inet_pton for single addresses, everything
// else written out bit by bit). Same configuration verdict, same request verdict.
// Input, one item per line: the direct peer first, then "P <cidr>" (a trusted proxy),
// "A <cidr>" (an allowed source), "X <value>" (an X-Forwarded-For header line), "x <value>" (the
// same header named in lower case), anything else an unrelated header.
#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "hookrx/verify.hpp"

namespace {

using hookrx_fuzz::require;
using address = std::array<std::uint8_t, 16>;

struct range {
  address base{};
  unsigned prefix = 0;  // in IPv6 bits
  bool v4 = false;
};

bool mapped(const address& a) {
  for (std::size_t i = 0; i < 10; ++i) {
    if (a[i] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff;
}

std::optional<address> ref_ip(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  // A NUL ends a C string early: "1.2.3.4\0junk" is not an address.
  if (text.empty() || text.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string s(text);
  address out{};
  if (text.find(':') == std::string_view::npos) {
    unsigned char v4[4];
    if (inet_pton(AF_INET, s.c_str(), v4) != 1) return std::nullopt;
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, v4, 4);
  } else if (inet_pton(AF_INET6, s.c_str(), out.data()) != 1) {
    return std::nullopt;
  }
  return out;
}

std::optional<range> ref_cidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  const auto addr = ref_ip(addr_text);
  if (!addr) return std::nullopt;
  const bool v4 = addr_text.find(':') == std::string_view::npos;
  const unsigned max_bits = v4 ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty()) return std::nullopt;
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      bits = bits * 10 + static_cast<unsigned>(c - '0');
      if (bits > max_bits) return std::nullopt;
    }
  }
  range r;
  r.base = *addr;
  r.prefix = v4 ? bits + 96 : bits;
  r.v4 = mapped(*addr) && r.prefix >= 96;
  return r;
}

bool bit(const address& a, unsigned i) { return ((a[i / 8] >> (7 - i % 8)) & 1U) != 0; }

bool ref_contains(const std::vector<range>& ranges, const address& a) {
  for (const range& r : ranges) {
    if (r.v4 != mapped(a)) continue;
    bool all = true;
    for (unsigned i = 0; i < r.prefix && all; ++i) all = bit(r.base, i) == bit(a, i);
    if (all) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hookrx_fuzz::cursor in(data, size);
  const std::string_view peer = in.line();
  std::vector<std::string> proxies;
  std::vector<std::string> allowed;
  std::vector<std::string_view> forwarded;  // X-Forwarded-For values, in header order
  std::vector<hookrx::header_view> headers;
  while (!in.empty() && headers.size() < 32 && proxies.size() + allowed.size() < 32) {
    const std::string_view line = in.line();
    const std::string_view tag = line.substr(0, 2);
    const std::string_view value = line.substr(tag.size());
    if (tag == "P ") {
      proxies.emplace_back(value);
    } else if (tag == "A ") {
      allowed.emplace_back(value);
    } else if (tag == "X " || tag == "x ") {
      headers.push_back({tag == "X " ? "X-Forwarded-For" : "x-forwarded-for", value});
      forwarded.push_back(value);
    } else {
      headers.push_back({"X-Other", line});
    }
  }

  hookrx::parashift_credentials creds;
  creds.allow_unauthenticated = true;
  creds.restrict_sources = true;
  creds.allowed_sources = allowed;
  creds.trusted_proxies = proxies;
  const auto v = hookrx::parashift_verifier::create(creds);

  std::vector<range> ref_allowed;
  std::vector<range> ref_proxies;
  bool config_ok = true;
  for (const auto& t : allowed) {
    const auto r = ref_cidr(t);
    config_ok = config_ok && r.has_value();
    if (r) ref_allowed.push_back(*r);
  }
  for (const auto& t : proxies) {
    const auto r = ref_cidr(t);
    config_ok = config_ok && r.has_value();
    if (r) ref_proxies.push_back(*r);
  }
  if (!config_ok) {
    require(!v && v.error().code() == hookrx::errc::invalid_config, "a malformed CIDR is refused");
    return 0;
  }
  require(v.has_value(), "well-formed CIDRs are accepted");

  // Reference client address: the peer, unless it is a trusted proxy; then the X-Forwarded-For
  // hops (all lines, in order, split at commas) from the right, skipping trusted proxies; a hop
  // that is not an address makes the client unknown; if every hop is a proxy, the left-most one.
  std::optional<address> client = ref_ip(peer);
  if (client && ref_contains(ref_proxies, *client)) {
    std::vector<std::string_view> hops;
    for (std::string_view value : forwarded) {
      while (true) {
        const std::size_t comma = value.find(',');
        hops.push_back(value.substr(0, comma));
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
      }
    }
    for (std::size_t i = hops.size(); i-- > 0;) {
      client = ref_ip(hookrx_fuzz::reference_trim(hops[i]));
      if (!client || !ref_contains(ref_proxies, *client)) break;
    }
  }
  const bool want = client && ref_contains(ref_allowed, *client);

  const auto got = v->verify(hookrx::request_view("{}", headers.data(), headers.size(), peer));
  if (want) {
    require(got.has_value(), "a client in the allowed ranges is let in");
  } else {
    require(!got && got.error().code() == hookrx::errc::source_not_allowed, "any other client is refused");
  }
  return 0;
}
