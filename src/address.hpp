// Private: IP addresses and CIDR ranges for source allow-lists. IPv4 is held as IPv4-mapped IPv6
// (::ffff:a.b.c.d), so an IPv4 range also matches a dual-stack socket's "::ffff:34.65.1.2".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace hookrx::detail {

struct ip_address {
  std::array<std::uint8_t, 16> bytes{};
};

/// IPv4 ranges match only IPv4 clients (also as ::ffff:a.b.c.d) and IPv6 ranges only IPv6 clients,
/// so that "::/0" does not quietly admit every IPv4 address.
struct cidr {
  ip_address base;
  unsigned prefix = 128;  // in IPv6 bits: an IPv4 /16 is stored as /112
  bool v4 = false;
};

/// True for IPv4 addresses, including IPv4-mapped IPv6 ones.
[[nodiscard]] bool is_v4(const ip_address& addr) noexcept;

/// Parses "203.0.113.7", "2001:db8::1" or "[2001:db8::1]"; nullopt for anything else.
[[nodiscard]] std::optional<ip_address> parse_ip(std::string_view text) noexcept;
/// Parses "34.65.0.0/16", "2001:db8::/32", or a bare address (a single host).
[[nodiscard]] std::optional<cidr> parse_cidr(std::string_view text) noexcept;
[[nodiscard]] bool contains(const cidr& range, const ip_address& addr) noexcept;
[[nodiscard]] bool contains_any(const std::vector<cidr>& ranges, const ip_address& addr) noexcept;

}  // namespace hookrx::detail
