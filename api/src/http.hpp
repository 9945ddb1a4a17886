// Private: the one HTTP path of both clients. Base URL checks, a small pool of kept-alive
// httplib clients, the rate budget, the retry loop within the call's deadline, and the mapping of
// every answer and failure onto api_error.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hookrx/api.hpp"

namespace hookrx::detail::api {

struct base_url {
  std::string origin;  ///< "https://host[:port]"
  std::string prefix;  ///< path prefix without a trailing '/', may be empty
  bool https = true;
};
/// http(s)://host[:port][/path]; nothing else (no user info, query or fragment).
[[nodiscard]] api_result<base_url> parse_base_url(std::string_view url);

/// Percent-encodes everything but RFC 3986 unreserved characters.
[[nodiscard]] std::string url_encode(std::string_view s);

struct http_request {
  api_endpoint endpoint = api_endpoint::me;
  call_kind kind = call_kind::read;
  std::string method = "GET";
  std::string target;  ///< path and query, below the base URL's prefix
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;
};

struct http_answer {
  int status = 0;
  std::string body;
  bool replayed = false;  ///< Idempotent-Replayed: true
};

/// The largest answer body read; a larger one fails the attempt (transport) rather than filling
/// memory.
inline constexpr std::size_t max_answer_bytes = std::size_t{64} << 20;

/// What a non-2xx answer means, as an api_error (the vendor code is read from the body).
[[nodiscard]] api_error error_for_status(int status, std::string_view body);

class caller {
 public:
  struct auth {
    std::string header;  ///< "X-API-Key" or "Authorization"
    std::string value;   ///< the key, or "Bearer <key>"
    std::string accept;  ///< Accept (and, with json_api, Content-Type) value
    bool json_api = false;
  };
  [[nodiscard]] static api_result<std::unique_ptr<caller>> create(const api_client_options& options,
                                                                  std::string_view base_url, auth a);
  ~caller();
  caller(const caller&) = delete;
  caller& operator=(const caller&) = delete;

  /// One call: budget, attempts, retries. A 2xx answer, or the typed failure.
  [[nodiscard]] api_result<http_answer> call(const http_request& request);

  [[nodiscard]] rate_budget& budget() noexcept;
  [[nodiscard]] api_counters& counters() noexcept;
  [[nodiscard]] const std::string& url() const noexcept;

  struct state;

 private:
  explicit caller(std::unique_ptr<state> s);
  std::unique_ptr<state> s_;
};

}  // namespace hookrx::detail::api
