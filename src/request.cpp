#include "hookrx/request.hpp"

namespace hookrx {
namespace {
constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // the common case: senders use the canonical spelling
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> request_view::header(std::string_view name) const noexcept {
  for (const header_view& h : *this) {
    if (iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

}  // namespace hookrx
