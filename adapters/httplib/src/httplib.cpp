// cpp-httplib adapter: reads the body through the route's ContentReader (bounded by the receiver's
// cap) and hands the core a request_view over httplib's own header strings.
#include "hookrx/httplib.hpp"

#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "adapter_support.hpp"

namespace hookrx {
namespace {

// A per-thread body buffer is kept across requests up to this capacity; a larger one (a body
// near a big cap) is given back after the request instead of being held by every pool thread.
constexpr std::size_t kept_buffer_capacity = std::size_t{64} * 1024;

std::string& thread_body_buffer() {
  thread_local std::string buffer;
  return buffer;
}

void release_if_large(std::string& buffer) {
  if (buffer.capacity() > kept_buffer_capacity) std::string().swap(buffer);
}

// httplib::Response::set_content() takes the type as std::string (and copies the body): one
// static string spares a per-request allocation for the 16-character "application/json".
const std::string& content_type() {
  static const std::string type(response::content_type);
  return type;
}

const std::string& plain_text() {
  static const std::string type("text/plain");
  return type;
}

// A length too large for 64 bits is over any cap. Anything that is not a plain number is left to
// httplib's own reading of it, and to its limit (set by mount()).
std::uint64_t declared_length(std::string_view value) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (end != value.data() + value.size()) return 0;
  if (ec == std::errc::result_out_of_range) return UINT64_MAX;
  return ec == std::errc() ? n : 0;
}

struct read_state {
  std::string* body;
  std::size_t cap;
  bool over_cap;
};

void send(httplib::Response& res, response&& out) {
  res.status = out.status;
  res.body = std::move(out.body);
  res.set_header("Content-Type", content_type());
}

// For an answer after which the connection must close, because part of the request is still
// unread on it. httplib 0.11 decides keep-alive from the request alone: a "Connection: close"
// set on the response is sent but not obeyed, and the unread bytes would be parsed as the next
// request. It does close when writing a response fails, so the body goes out through a content
// provider that reports failure once all of it is written. `body` must not be empty: httplib
// drops a provider of length 0 and would keep the connection.
void send_and_close(httplib::Response& res, int status, std::string body, const std::string& type) {
  assert(!body.empty());
  res.status = status;
  res.set_header("Connection", "close");
  const std::size_t size = body.size();
  res.set_content_provider(size, type,
                           [body = std::move(body)](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             sink.write(body.data() + offset, length);
                             return false;  // written: "failing" now makes httplib close the connection
                           });
}

void send_and_close(httplib::Response& res, response&& out) {
  send_and_close(res, out.status, std::move(out.body), content_type());
}

void serve(const receiver& rx, const httplib::Request& req, httplib::Response& res,
           const httplib::ContentReader& read) {
  adapter_detail::header_list headers;
  std::uint64_t length = 0;
  std::optional<std::string_view> type;
  for (const auto& [name, value] : req.headers) {
    headers.push(name, value);
    if (iequals(name, "Content-Length")) length = declared_length(value);
    if (!type && iequals(name, "Content-Type")) type = value;
  }
  const std::string_view peer = req.remote_addr;

  // httplib's own test (Request::is_multipart_form_data(), which copies the header to decide).
  if (type && type->rfind("multipart/form-data", 0) == 0) {
    // httplib only ever hands out a multipart body parsed into parts: the bytes that were signed
    // are not at hand, as for a body it inflated. Refused unread, so the connection is done.
    send_and_close(res, adapter_detail::refuse(rx, headers.view({}, peer), errc::unsupported_content_encoding));
    return;
  }

  const std::size_t cap = rx.options().max_body_bytes;
  if (length > cap) {
    // Refused from the headers, none of the body read. Left to httplib (read() below), the
    // declared body would be read and discarded until a read timed out, and the connection kept.
    send_and_close(res, adapter_detail::refuse(rx, headers.view({}, peer), errc::body_too_large));
    return;
  }

  std::string& body = thread_body_buffer();
  body.clear();
  read_state state{&body, cap, false};
  if (length > 0) body.reserve(static_cast<std::size_t>(length));

  // The content receiver captures one pointer, so std::function keeps it inline (no allocation). It sees
  // the bytes after httplib's chunked decoding and, for an encoded body, after its inflating:
  // both are bounded by the cap here, since httplib 0.11 limits only a declared Content-Length.
  const bool complete = read([s = &state](const char* data, std::size_t n) {
    if (n > s->cap - s->body->size()) {
      s->over_cap = true;
      return false;
    }
    s->body->append(data, n);
    return true;
  });

  if (state.over_cap || (!complete && res.status == 413)) {
    // over_cap: we stopped mid-body, the rest is still on the socket. 413 from httplib: its own
    // limit refused a Content-Length that it reads differently (the first of two, say), after
    // discarding what arrived before a read timed out.
    send_and_close(res, adapter_detail::refuse(rx, headers.view({}, peer), errc::body_too_large));
  } else if (!complete) {
    // Broken framing or a body that failed to inflate: no delivery reached us, and where the
    // body ends is unknown. httplib has set its own status (400) as it does for any route.
    send_and_close(res, res.status < 400 ? 400 : res.status, "malformed request body\n", plain_text());
  } else {
    send(res, rx.handle(headers.view(body, peer)));
  }
  release_if_large(body);
}

}  // namespace

void mount(httplib::Server& server, const std::string& pattern, const receiver& rx) {
  server.set_payload_max_length(rx.options().max_body_bytes);
  server.set_tcp_nodelay(true);
  server.Post(pattern, httplib_adapter::make_handler(rx));
}

namespace httplib_adapter {

httplib::Server::HandlerWithContentReader make_handler(const receiver& rx) {
  return [r = &rx](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    serve(*r, req, res, read);
  };
}

}  // namespace httplib_adapter
}  // namespace hookrx
