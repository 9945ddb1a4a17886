// hookrx/beast.hpp: serve a hookrx::receiver with Boost.Beast (target hookrx::beast).
//
// Beast has no router or server of its own, so this adapter offers two layers:
//  - building blocks for an existing Beast server: limit() sets a request parser's body limit
//    from the receiver's cap (Beast then refuses an oversized body, declared or chunked, before
//    buffering it: http::error::body_limit), handle() turns one parsed request into the core's
//    response, refuse_too_large() answers the request whose body the parser refused;
//  - listener: a small multi-threaded HTTP/1.1 server (keep-alive, timeouts, pipelining, drain on
//    shutdown) that serves one or more POST webhook routes with those blocks, and optionally GET
//    routes of the application's own (health, metrics), for services that have no HTTP server yet.
//
//   auto rx = hookrx::receiver::create(creds);          // see hookrx/receiver.hpp
//   auto server = hookrx::beast_adapter::listener::start(*rx, "/webhooks/perfectparser", {"127.0.0.1", 8080});
//   if (!server) return fail(server.error().message());
//   wait_for_shutdown_signal();                         // (*server)->stop() runs in the destructor
//
// Beast never decodes Content-Encoding, so an encoded body reaches the core with its header and
// is refused there (415) before anything verifies it. The body is Beast's own string_body, seen
// in place; header views sit in a stack array; the core's response body is moved, not copied.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http.hpp>

#include "hookrx/error.hpp"
#include "hookrx/receiver.hpp"

namespace hookrx::beast_adapter {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using request_parser = http::request_parser<http::string_body>;

/// Sets `parser`'s body limit to `rx`'s cap. Call on a fresh parser, before reading.
void limit(request_parser& parser, const receiver& rx);

/// The core's answer to one complete request, from direct peer `peer` (address text, no port).
/// Keeps the request's HTTP version and keep-alive choice.
[[nodiscard]] response handle(const receiver& rx, const request& req, std::string_view peer);

/// The core's answer to a request whose body the parser refused (http::error::body_limit); `head`
/// is parser.get(), whose headers are complete. Says Connection: close: the rest of the refused
/// body is still unread, so the connection cannot carry another request.
[[nodiscard]] response refuse_too_large(const receiver& rx, const request& head, std::string_view peer);

/// One path a listener serves: POST to a receiver, or GET to the application's function.
struct route {
  std::string path;                             ///< matched exactly against the target without its query
  const receiver* rx = nullptr;                 ///< POST path: the receiver's answer (must outlive the listener)
  std::function<response(const request&)> get;  ///< GET path: the function's answer (rx unset)
};

/// A small HTTP/1.1 server for webhook routes (and optional GET routes). Where a request goes is
/// decided once, from its header: an unknown path is 404 and a known path with another method 405
/// (with Allow), both answered without reading a body. Connections are kept alive and pipelined
/// requests answered in order; each request has its own parser, limited by its receiver's cap, so
/// a declared oversized body is refused unread and "Expect: 100-continue" is answered. A request
/// Beast cannot parse gets 400 and the connection is closed.
class listener {
 public:
  struct options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  ///< 0: any free port (see port())
    int threads = 1;         ///< threads running the I/O and the receiver's handlers
    /// A kept-alive connection whose next request header has not arrived within this is closed.
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
    /// A request's header (once it has started) and then its body must each arrive within this.
    std::chrono::milliseconds read_timeout{std::chrono::seconds(10)};
    /// Told of every request's outcome: the route's path ("" for none) and the status sent, 400
    /// for a request that could not be parsed, 408 for one that timed out (nothing is sent then).
    /// Called on I/O threads; keep it cheap.
    std::function<void(std::string_view path, int status)> on_answer{};
  };

  /// Binds, listens and starts serving `routes` on its own threads. Fails with errc::invalid_config
  /// (the detail says why) when the address cannot be bound or a route has neither rx nor get.
  [[nodiscard]] static result<std::unique_ptr<listener>> start(std::vector<route> routes, options opts);
  /// One POST route.
  [[nodiscard]] static result<std::unique_ptr<listener>> start(const receiver& rx, std::string path, options opts);
  [[nodiscard]] static result<std::unique_ptr<listener>> start(const receiver& rx, std::string path) {
    return start(rx, std::move(path), options{});
  }

  /// The bound port (the one chosen by the system when options::port was 0).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// Connections accepted so far (for keep-alive diagnostics and tests).
  [[nodiscard]] std::uint64_t connections_accepted() const noexcept;
  /// Graceful shutdown: stops accepting, closes connections waiting for a request, lets requests
  /// in progress finish (their responses say Connection: close), then stop()s. True when every
  /// connection finished within `grace`; false when the rest were cut off.
  bool drain(std::chrono::milliseconds grace);
  /// Stops accepting, closes every connection (requests in progress are not answered) and joins
  /// the threads. Idempotent; the destructor calls it.
  void stop();

  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  struct impl;

 private:
  explicit listener(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace hookrx::beast_adapter
