// adapters/common/adapter_support.hpp: private helpers every server adapter shares (never installed).
//
// An adapter translates; it decides nothing. What is common to that translation lives here: the
// header list a request_view points at (a stack array, a vector only for unusually many headers),
// and the one way an adapter answers a body its server refused or transformed before hookrx
// could see it.
//
//   hookrx::adapter_detail::header_list headers;
//   for (const auto& [name, value] : server_request.headers) headers.push(name, value);
//   hookrx::response res = rx.handle(headers.view(body, peer));
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

#include "hookrx/receiver.hpp"
#include "hookrx/request.hpp"
#include "hookrx/response.hpp"

namespace hookrx::adapter_detail {

/// Header views pointing into a server's own header storage. The first `inline_capacity` live in
/// this object (on the caller's stack); a request with more spills into a vector, once.
class header_list {
 public:
  static constexpr std::size_t inline_capacity = 64;

  header_list() = default;
  header_list(const header_list&) = delete;  // views into inline_ would dangle in a copy
  header_list& operator=(const header_list&) = delete;

  void push(std::string_view name, std::string_view value) {
    if (count_ < inline_capacity) {
      inline_[count_] = header_view{name, value};
    } else {
      if (overflow_.empty()) {
        overflow_.reserve(inline_capacity * 2);
        overflow_.assign(inline_.begin(), inline_.end());
      }
      overflow_.push_back(header_view{name, value});
    }
    ++count_;
  }

  /// Forgets every header (a server reusing the list for its next request).
  void clear() noexcept {
    count_ = 0;
    overflow_.clear();
  }

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] const header_view* data() const noexcept {
    return count_ <= inline_capacity ? inline_.data() : overflow_.data();
  }

  /// The request the core sees. Views only: `body`, `peer` and the pushed headers must outlive it.
  [[nodiscard]] request_view view(std::string_view body, std::string_view peer) const noexcept {
    return {body, data(), count_, peer};
  }

 private:
  std::array<header_view, inline_capacity> inline_;
  std::vector<header_view> overflow_;
  std::size_t count_ = 0;
};

/// The answer to a delivery the server could not hand over as the bytes that were sent: `code` is
/// errc::body_too_large when the server's own limit (set from `rx`'s cap) refused the body, or
/// errc::unsupported_content_encoding when the server transforms such a body before any handler
/// sees it (httplib parses multipart bodies), so the signed bytes are not at hand. The core decides
/// the status and body and tells the on_error handlers, exactly as for a request it refuses itself;
/// `head` is the request's headers and peer (no body).
[[nodiscard]] inline response refuse(const receiver& rx, const request_view& head, errc code) {
  return rx.refuse(head, code);
}

}  // namespace hookrx::adapter_detail
