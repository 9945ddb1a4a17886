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
// Bodies over the cap: the route refuses a Content-Length above the receiver's cap from the
// headers, before any of the body is read (413, the core's body_too_large), and stops reading a
// chunked or inflated body at the cap (413). After these answers, and after the multipart refusal
// and the 400 for a body whose framing or encoding is broken (both below), part of the request is
// still unread, so the connection is closed: what follows on it is never parsed as another request.
// httplib 0.11 keeps a connection whatever "Connection" header a handler sets on the response, so
// these answers go out through a content provider that reports failure once the whole answer is
// written, which makes httplib close the socket. They carry "Connection: close" (beside httplib's
// own "Keep-Alive" header, which it adds regardless). httplib offers no lingering close: a sender
// still writing a large refused body (beyond the socket buffers, about 1 MiB on loopback) may see
// the connection reset instead of reading the 413.
//
// Expect: 100-continue: httplib 0.11 says "100 Continue" before any route runs, so a sender that
// waits for it with a declared body over the cap is invited to send the body, then refused (413)
// and cut off as above, and may see a reset rather than the 413. httplib's expect handler could
// refuse earlier, but a response from it cannot close the connection, and a sender may send its
// body without waiting (curl does after 1 s without an answer): those bytes would then be read as
// the next request. The late refusal is kept, because it closes. (Beast and CivetWeb refuse such a
// request before saying Continue.)
//
// What mount() changes on the server, and why:
//  - set_payload_max_length(cap): a backstop for the route's own check, when httplib reads a
//    request's length differently (the first of two Content-Length headers, say). Left to itself,
//    httplib 0.11 answers such a request only after reading and discarding the declared body until
//    a read times out, and keeps the connection. The limit is server-wide: mounting receivers with
//    different caps on one server leaves the last one's cap in force for every route; mount the
//    receiver with the largest cap last.
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
/// `server.Post("/hooks", hookrx::httplib_adapter::make_handler(rx))`. It enforces the cap itself
/// and closes the connection after a refusal, as described above; call
/// set_payload_max_length(rx.options().max_body_bytes) on the server too, as the backstop.
[[nodiscard]] httplib::Server::HandlerWithContentReader make_handler(const receiver& rx);

}  // namespace httplib_adapter
}  // namespace hookrx
