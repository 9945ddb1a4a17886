#include "address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace hookrx::detail {
namespace {
constexpr unsigned v4_offset = 96;  // bits of the ::ffff:0:0/96 prefix
}  // namespace

std::optional<ip_address> parse_ip(std::string_view text) noexcept {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  char buf[INET6_ADDRSTRLEN + 1] = {};
  // inet_pton reads a C string: a NUL inside the text would end it early and "1.2.3.4\0junk" would
  // pass as 1.2.3.4 (found by fuzz/fuzz_forwarded_for.cpp).
  if (text.empty() || text.size() >= sizeof buf || text.find('\0') != std::string_view::npos) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  ip_address out;
  if (text.find(':') == std::string_view::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) != 1) return std::nullopt;
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::memcpy(out.bytes.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) != 1) return std::nullopt;
  std::memcpy(out.bytes.data(), &v6, 16);
  return out;
}

std::optional<cidr> parse_cidr(std::string_view text) noexcept {
  const std::size_t slash = text.find('/');
  const auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  const unsigned max_bits = v4 ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || bits > max_bits) {
      return std::nullopt;
    }
  }
  const unsigned prefix = v4 ? bits + v4_offset : bits;
  return cidr{*addr, prefix, is_v4(*addr) && prefix >= v4_offset};
}

bool is_v4(const ip_address& addr) noexcept {
  static constexpr std::array<std::uint8_t, 12> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(mapped.begin(), mapped.end(), addr.bytes.begin());
}

bool contains(const cidr& range, const ip_address& addr) noexcept {
  if (range.v4 != is_v4(addr)) return false;
  unsigned bits = range.prefix;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - take));
    if ((range.base.bytes[i] & mask) != (addr.bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

bool contains_any(const std::vector<cidr>& ranges, const ip_address& addr) noexcept {
  for (const cidr& r : ranges) {
    if (contains(r, addr)) return true;
  }
  return false;
}

}  // namespace hookrx::detail
