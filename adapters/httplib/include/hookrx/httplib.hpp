// hookrx/httplib.hpp: serve a hookrx::receiver from a cpp-httplib server (target hookrx::httplib).
//
// One call mounts a webhook endpoint: the route reads the body itself, bounded by the receiver's
// cap, and hands the core the bytes as they came off the wire (after chunked decoding), the
// headers and the peer address; the core's status, body and Content-Type go back unchanged.
//
//   auto rx = hookrx::receiver::create(creds);          // see hookrx/receiver.hpp
//   httplib::Server server;
//   hookrx::mount(server, "/webhooks/perfectparser", *rx);
//   server.listen("127.0.0.1", 8080);
//
// What mount() changes on the server, and why:
//  - set_payload_max_length(cap): a Content-Length above the receiver's cap is refused with 413
//    before any of the body is buffered; httplib 0.11 does not close that connection (no
//    "Connection: close"), although the refused body is still owed on it. httplib 0.11 applies
//    that limit to Content-Length only, so the route also stops reading a chunked body at the
//    cap (413, connection closed). The limit is server-wide: mounting receivers with different
//    caps on one server leaves the last one's cap in force for every route; mount the receiver
//    with the largest cap last.
//  - set_tcp_nodelay(true): without it httplib answers small POSTs ~100x slower (Nagle meets
//    delayed ACK).
// What it leaves to you: httplib closes a kept-alive connection after 5 requests unless
// set_keep_alive_max_count() says otherwise, and serves at most 8 connections at once with its
// default thread pool (new_task_queue); examples/httplib_receiver.cpp sets both.
//
// Content-Encoding: httplib inflates gzip/deflate/br request bodies before any handler sees
// them, so the signed wire bytes of such a request are gone. The header stays on the request, and
// the core refuses every encoding but identity (415 unsupported_content_encoding) before it
// verifies anything: an inflated body is never verified. The route also stops reading an inflated
// body at the cap, so a compressed body cannot expand past it in memory. httplib likewise only
// hands out a multipart/form-data body parsed into parts: such a request is refused unread with the
// core's unsupported_content_encoding answer (415).
//
// Cost per delivery beyond httplib's own: none allocated in steady state. The body is read once
// into a per-thread buffer that is reused across requests (returned to the allocator when a body
// larger than 64 KiB has grown it), instead of into httplib's Request::body; header views sit in a
// stack array.
//
// Lifetime: `rx` must outlive the server (the route keeps a reference to it).
#pragma once

#include <string>

#include <httplib.h>

#include "hookrx/receiver.hpp"

namespace hookrx {

/// Serves `rx` at POST `pattern` (an httplib route pattern, i.e. a regular expression) on
/// `server`, and sets the server's payload limit and TCP_NODELAY as described above.
void mount(httplib::Server& server, const std::string& pattern, const receiver& rx);

namespace httplib_adapter {

/// The route handler mount() installs, for servers that register routes themselves, e.g.
/// `server.Post("/hooks", hookrx::httplib_adapter::make_handler(rx))`. It enforces the cap while
/// reading; call set_payload_max_length(rx.options().max_body_bytes) on the server too, so that a
/// declared oversized body is refused before it is read.
[[nodiscard]] httplib::Server::HandlerWithContentReader make_handler(const receiver& rx);

}  // namespace httplib_adapter
}  // namespace hookrx
