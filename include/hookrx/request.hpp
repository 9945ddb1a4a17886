// hookrx/request.hpp: a server-independent view of one webhook delivery.
//
// Adapters build a `request_view` from their server's request without copying: the body and every
// header stay in the server's own buffers, so a view lives no longer than the request it looks at.
//
//   hookrx::header_view headers[] = {{"X-PerfectParser-Signature", sig}, {"Content-Type", "application/json"}};
//   hookrx::request_view req(body, headers, "203.0.113.7");
//   auto sig_value = req.header("x-perfectparser-signature");   // names compare case-insensitively
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace hookrx {

/// One header line as received: views into the server's buffers.
struct header_view {
  std::string_view name;
  std::string_view value;
};

/// ASCII case-insensitive equality, as HTTP header names compare.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// The raw body bytes, the headers and the direct peer address of one delivery.
/// All members are views: the request they point into must outlive this object.
class request_view {
 public:
  request_view() = default;
  /// `peer` is the direct peer's address as text ("203.0.113.7", "2001:db8::1"), no port.
  request_view(std::string_view body, const header_view* headers, std::size_t header_count,
               std::string_view peer = {}) noexcept
      : body_(body), headers_(headers), header_count_(header_count), peer_(peer) {}
  template <std::size_t N>
  request_view(std::string_view body, const header_view (&headers)[N], std::string_view peer = {}) noexcept
      : request_view(body, headers, N, peer) {}

  /// The body exactly as it came off the wire (never assumed to be UTF-8).
  [[nodiscard]] std::string_view body() const noexcept { return body_; }
  [[nodiscard]] std::string_view peer() const noexcept { return peer_; }

  /// The first value of header `name`, compared case-insensitively; nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept;

  [[nodiscard]] const header_view* begin() const noexcept { return headers_; }
  [[nodiscard]] const header_view* end() const noexcept { return headers_ + header_count_; }
  [[nodiscard]] std::size_t header_count() const noexcept { return header_count_; }

 private:
  std::string_view body_;
  const header_view* headers_ = nullptr;
  std::size_t header_count_ = 0;
  std::string_view peer_;
};

}  // namespace hookrx
