// CivetWeb adapter: a bounded body read into a reused per-thread buffer, then the core.
#include "hookrx/civetweb.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

#include "adapter_support.hpp"

namespace hookrx {
namespace civetweb_adapter {
namespace {

// Kept across requests up to this capacity; a larger buffer is given back after its request.
constexpr std::size_t kept_buffer_capacity = std::size_t{64} * 1024;
constexpr std::size_t min_buffer_capacity = std::size_t{4} * 1024;

// Uninitialised storage that mg_read() writes into directly (std::string::resize would zero it).
class body_buffer {
 public:
  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    std::unique_ptr<char[]> bigger(new char[n]);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = n;
  }
  [[nodiscard]] char* tail() noexcept { return data_.get() + size_; }
  [[nodiscard]] std::size_t room() const noexcept { return capacity_ - size_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  void commit(std::size_t n) noexcept { size_ += n; }
  [[nodiscard]] std::string_view view() const noexcept { return {data_.get(), size_}; }
  void release_if_large() noexcept {
    if (capacity_ > kept_buffer_capacity) {
      data_.reset();
      capacity_ = 0;
      size_ = 0;
    }
  }

  static body_buffer& for_this_thread() {
    thread_local body_buffer b;
    return b;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
};

enum class read_result { complete, over_cap, failed };

// Reads the whole body, or stops one byte past `cap` (a chunked body declares no length).
read_result read_body(mg_connection* conn, long long declared, std::size_t cap, body_buffer& body) {
  const std::size_t limit = cap + 1;
  if (declared >= 0) body.reserve(static_cast<std::size_t>(declared) + 1);  // +1: see the end
  for (;;) {
    if (body.size() >= limit) return read_result::over_cap;
    if (body.room() == 0) {
      body.reserve(std::min(limit, std::max(min_buffer_capacity, body.capacity() * 2)));
    }
    const std::size_t want = std::min(body.room(), limit - body.size());
    const int n = mg_read(conn, body.tail(), want);
    if (n < 0) return read_result::failed;
    if (n == 0) return read_result::complete;
    body.commit(static_cast<std::size_t>(n));
  }
}

// Ends the connection after this answer. A "Connection: close" header alone does not: after the
// handler returns, CivetWeb reads and discards the rest of the declared body unless it was told
// the connection will close, so a sender that never sends that body (one waiting for "100
// Continue", one that gave up) would hold a worker thread until request_timeout_ms.
void close_after_answer(mg_connection* conn) { mg_disable_connection_keep_alive(conn); }

void send(mg_connection* conn, const response& out, bool close) {
  const std::string_view type = response::content_type;
  char length[24];
  const auto [end, ec] = std::to_chars(std::begin(length), std::end(length), out.body.size());
  static_cast<void>(ec);  // 24 characters hold any size_t
  // The unread rest of a refused body is still on the socket: this connection is done. CivetWeb
  // writes "Connection: close" itself once keep-alive is off.
  if (close) close_after_answer(conn);
  mg_response_header_start(conn, out.status);
  mg_response_header_add(conn, "Content-Type", type.data(), static_cast<int>(type.size()));
  mg_response_header_add(conn, "Content-Length", length, static_cast<int>(end - length));
  mg_response_header_send(conn);
  if (!out.body.empty()) mg_write(conn, out.body.data(), out.body.size());
}

// The same answer written as raw bytes, for a connection on which raw bytes ("100 Continue") were
// already written: CivetWeb's mg_response_header_* refuse to start after that. CivetWeb's own
// keep-alive choice is not visible from here, so this answer closes the connection.
void send_raw(mg_connection* conn, const response& out) {
  close_after_answer(conn);
  mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            out.status, mg_get_response_code_text(conn, out.status), static_cast<int>(response::content_type.size()),
            response::content_type.data(), out.body.size());
  if (!out.body.empty()) mg_write(conn, out.body.data(), out.body.size());
}

}  // namespace

int handle(mg_connection* conn, void* cbdata) {
  const receiver& rx = *static_cast<const receiver*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  if (info == nullptr) return 0;

  if (std::strcmp(info->request_method, "POST") != 0) {
    mg_response_header_start(conn, 405);
    mg_response_header_add(conn, "Allow", "POST", 4);
    mg_response_header_add(conn, "Content-Length", "0", 1);
    mg_response_header_send(conn);
    return 405;
  }

  adapter_detail::header_list headers;
  for (int i = 0; i < info->num_headers; ++i) {
    headers.push(info->http_headers[i].name, info->http_headers[i].value);
  }
  const std::string_view peer = info->remote_addr;
  const std::size_t cap = rx.options().max_body_bytes;

  if (info->content_length >= 0 && static_cast<unsigned long long>(info->content_length) > cap) {
    const response out = adapter_detail::refuse(rx, headers.view({}, peer), errc::body_too_large);
    send(conn, out, true);
    return out.status;
  }

  // CivetWeb does not answer "Expect: 100-continue" for request handlers: a sender that waits
  // for permission would stall until its own time-out before sending the body.
  const char* expect = mg_get_header(conn, "Expect");
  const bool continued =
      expect != nullptr && iequals(expect, "100-continue") && std::strcmp(info->http_version, "1.1") == 0;
  if (continued) {
    static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    mg_write(conn, go_on.data(), go_on.size());
  }

  body_buffer& body = body_buffer::for_this_thread();
  body.clear();
  const read_result read = read_body(conn, info->content_length, cap, body);
  response out;
  bool close = false;
  if (read == read_result::complete) {
    out = rx.handle(headers.view(body.view(), peer));
  } else if (read == read_result::over_cap) {
    out = adapter_detail::refuse(rx, headers.view({}, peer), errc::body_too_large);
    close = true;
  } else {
    // The client went away or sent broken chunking: nothing to hand over, nobody to answer.
    body.release_if_large();
    close_after_answer(conn);
    mg_response_header_start(conn, 400);
    mg_response_header_add(conn, "Content-Length", "0", 1);
    mg_response_header_send(conn);
    return 400;
  }
  body.release_if_large();
  if (continued) {
    send_raw(conn, out);
  } else {
    send(conn, out, close);
  }
  return out.status;
}

}  // namespace civetweb_adapter

void mount(mg_context* ctx, const std::string& uri, const receiver& rx) {
  // CivetWeb's callback data is a non-const void*; handle() only ever reads through it.
  mg_set_request_handler(ctx, uri.c_str(), &civetweb_adapter::handle,
                         const_cast<receiver*>(&rx));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

}  // namespace hookrx
