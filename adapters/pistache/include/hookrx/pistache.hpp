// hookrx/pistache.hpp: serve a hookrx::receiver from a Pistache endpoint (target hookrx::pistache).
//
// Pistache caps a whole request (request line, headers and body) at maxRequestSize, 4096 bytes by
// default, and buffers a request whole before any handler runs. options() raises that cap to the
// receiver's body cap plus header_allowance, so a webhook body up to the cap fits and a larger one
// is refused by Pistache itself with 413 once that much has been buffered (its own plain-text
// answer: the core never sees such a request). A body just above the cap that still fits in
// maxRequestSize reaches the core, which answers 413 as usual.
//
//   auto rx = hookrx::receiver::create(creds);          // see hookrx/receiver.hpp
//   Pistache::Http::Endpoint endpoint(Pistache::Address(Pistache::Ipv4::loopback(), Pistache::Port(8080)));
//   endpoint.init(hookrx::pistache_adapter::options(*rx));
//   Pistache::Rest::Router router;
//   hookrx::mount(router, "/webhooks/perfectparser", *rx);
//   endpoint.setHandler(router.handler());
//   endpoint.serve();
//
// Pistache reads a whole request before any handler runs, so it never answers
// "Expect: 100-continue": a sender that waits for it sends its body after its own time-out.
//
// Pistache 0.0.5 keeps a connection open only when the request says "Connection: keep-alive"; an
// HTTP/1.1 request without that header (persistent by default) is answered "Connection: Close"
// and the connection is closed, so such a sender opens one connection per delivery (measured
// with wrk: about 2.5x the server's CPU per request; bench/RESULTS.md, "Adapter throughput").
//
// Pistache 0.0.5 does not decode Content-Encoding; it parses the header into an enum, which this
// adapter writes back ("gzip", "unknown", ...), so the core refuses any encoding but identity
// (415) before it verifies anything.
//
// Cost: Pistache's Rest::Router copies each request (body included) into a Rest::Request before a
// route runs; make_handler() serves one path without the router and without those copies, for an
// endpoint dedicated to webhooks. Pistache hands out header values and the peer address only as
// copied std::strings (Header::Raw::value(), Address::host()), and typed headers only through
// their write(): the adapter gathers those into a per-thread buffer reused across requests, so
// the copies Pistache's API forces (values over 15 characters) are its only per-request
// allocations. The body is seen in place.
//
// Lifetime: `rx` must outlive the endpoint.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/router.h>

#include "hookrx/receiver.hpp"

namespace hookrx {

/// Serves `rx` at POST `path` on `router` (a Pistache route path, e.g. "/webhooks/perfectparser").
/// Start the endpoint with pistache_adapter::options(rx) so that bodies up to the cap fit.
void mount(Pistache::Rest::Router& router, const std::string& path, const receiver& rx);

namespace pistache_adapter {

/// Room left in maxRequestSize for the request line and headers, on top of the body cap.
inline constexpr std::size_t header_allowance = std::size_t{16} * 1024;

/// `base` with maxRequestSize set to rx's body cap + header_allowance.
[[nodiscard]] Pistache::Http::Endpoint::Options options(const receiver& rx, Pistache::Http::Endpoint::Options base);
/// Endpoint::options() (Pistache's defaults) with maxRequestSize set as above.
[[nodiscard]] Pistache::Http::Endpoint::Options options(const receiver& rx);

/// Answers one request with the core's response (status, body, Content-Type).
void handle(const receiver& rx, const Pistache::Http::Request& request, Pistache::Http::ResponseWriter& response);

/// An endpoint handler that serves `rx` at POST `path` and nothing else (404 for other paths, 405
/// for other methods on it), without Rest::Router's per-request copies.
[[nodiscard]] std::shared_ptr<Pistache::Http::Handler> make_handler(const receiver& rx, std::string path);

}  // namespace pistache_adapter
}  // namespace hookrx
