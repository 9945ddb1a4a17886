// hookrx/civetweb.hpp: serve a hookrx::receiver from a CivetWeb server (target hookrx::civetweb).
//
// CivetWeb hands a request handler the headers and streams the body (mg_read), with no body limit
// of its own. The handler mount() registers refuses a declared Content-Length above the
// receiver's cap with the core's 413 before reading any of the body, and reads a chunked body at
// most one byte past the cap (413 as well, connection closed). A body within the cap is read once
// into a per-thread buffer reused across requests (given back when a body over 64 KiB has grown
// it), so steady-state deliveries allocate nothing beyond CivetWeb's own response headers; header
// views point into CivetWeb's request info; the peer is its remote_addr text.
//
//   auto rx = hookrx::receiver::create(creds);          // see hookrx/receiver.hpp
//   const char* options[] = {"listening_ports", "127.0.0.1:8080", "enable_keep_alive", "yes", nullptr};
//   mg_context* ctx = mg_start(nullptr, nullptr, options);
//   hookrx::mount(ctx, "/webhooks/perfectparser", *rx);
//   ...
//   mg_stop(ctx);
//
// CivetWeb does not answer "Expect: 100-continue" for request handlers; this one does, and since
// CivetWeb's response-header calls refuse to run after that interim answer, the final answer to
// such a request is written raw and closes the connection.
//
// CivetWeb matches handler URIs by prefix ("/hooks" also serves "/hooks/x"); methods other than
// POST are answered 405. It keeps connections alive only with "enable_keep_alive" set to "yes"
// (its default is "no"). It never decodes Content-Encoding: an encoded body reaches the core with
// its header and is refused there (415) before anything verifies it.
//
// Lifetime: `rx` must outlive the server (mg_stop), or the handler must be removed first.
#pragma once

#include <string>

#include <civetweb.h>

#include "hookrx/receiver.hpp"

namespace hookrx {

/// Registers a request handler for `uri` on `ctx` that serves `rx`.
void mount(mg_context* ctx, const std::string& uri, const receiver& rx);

namespace civetweb_adapter {

/// The mg_request_handler mount() registers; `cbdata` is a `const hookrx::receiver*`. For use with
/// mg_set_request_handler() directly, e.g. on a CivetServer's getContext().
int handle(mg_connection* conn, void* cbdata);

}  // namespace civetweb_adapter
}  // namespace hookrx
