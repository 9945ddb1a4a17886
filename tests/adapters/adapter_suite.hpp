// tests/adapters/adapter_suite.hpp: the one integration suite every server adapter runs.
//
// Each tests/adapters/test_<server>.cpp defines `start_server()` (serve a receiver at a path on a
// free loopback port) and `traits`, then includes this file: the cases below run against that
// real server, over real TCP, with cpp-httplib's client or a raw socket as the sender.
//
//   #define HOOKRX_ADAPTER_NAME "httplib"
//   #include "adapter_suite.hpp"
//   std::unique_ptr<running_server> hookrx_adapter_test::start_server(const hookrx::receiver& rx,
//                                                                     const std::string& route) { ... }
//
// Nothing here sleeps to wait for a server: readiness is polled with a bounded deadline, and every
// socket read has a time-out, so a broken adapter fails a case instead of hanging the run.
#pragma once

#ifndef HOOKRX_ADAPTER_NAME
#error "define HOOKRX_ADAPTER_NAME (a string literal naming the server) before including adapter_suite.hpp"
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#ifdef HOOKRX_TEST_HAVE_MEMORY_STORE
#include "hookrx/inbox.hpp"
#include "hookrx/memory_store.hpp"
#endif
#include "hookrx/hookrx.hpp"

namespace hookrx_adapter_test {

// ---------------------------------------------------------------------------------------------
// What each test_<server>.cpp provides.

/// A server under test, serving one receiver at one path on 127.0.0.1:port(). Stops when destroyed.
class running_server {
 public:
  virtual ~running_server() = default;
  [[nodiscard]] virtual std::uint16_t port() const = 0;
};

/// What legitimately differs between servers.
struct server_traits {
  /// Request headers the server accepts (CivetWeb stops at 64); the suite stays below it.
  std::size_t max_request_headers = 128;
  /// A body this many bytes over the cap is refused by the server's own limit, not by the core:
  /// its 413 then carries the server's body, not the core's JSON. 0: the core always answers.
  std::size_t server_refuses_beyond = 0;
  /// The server lets a handler run before the body has arrived, so "Expect: 100-continue" can be
  /// answered (Pistache buffers the whole request first and never answers it).
  bool answers_expect_continue = true;
  /// A request whose Content-Length is over the cap is answered 413 from its headers, before any
  /// of the body arrives, and the connection closed, at once or once the declared body has been
  /// discarded: no byte of that body is parsed as a request (Pistache reads the whole request first).
  bool refuses_declared_oversize_unread = true;
  /// A request that says "Expect: 100-continue" with a Content-Length over the cap is answered 413
  /// instead of "100 Continue", and the connection closed. (httplib 0.11 can answer it early only by
  /// keeping the connection, so its adapter lets it say Continue and refuses after: see its header.)
  bool refuses_expected_oversize_before_continue = true;
};

/// Starts a server that serves `rx` at POST `route`; returns once it listens (the suite still
/// polls the port before the first request).
std::unique_ptr<running_server> start_server(const hookrx::receiver& rx, const std::string& route);
extern const server_traits traits;

// ---------------------------------------------------------------------------------------------
// Helpers

inline constexpr std::string_view secret = "wh_sec_adapter_suite_0123456789abcdef";
inline constexpr std::string_view webhook_path = "/webhooks/perfectparser";
inline constexpr std::size_t cap = std::size_t{16} * 1024;
inline constexpr std::string_view signature_header = "X-PerfectParser-Signature";

// A test process talks to servers that may close early: a write to such a socket must fail with
// EPIPE, not kill the run.
inline const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

/// Lowercase hex HMAC-SHA256 of `body` keyed with `key` (OpenSSL's one-shot HMAC()).
inline std::string sign(std::string_view body, std::string_view key = secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), mac, &mac_size);
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < mac_size; ++i) {
    hex += digits[mac[i] >> 4U];
    hex += digits[mac[i] & 0x0fU];
  }
  return hex;
}

/// `data` compressed as a gzip member (zlib, window bits 15 + 16).
inline std::string gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2_(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                    static_cast<int>(sizeof(z_stream))) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

inline std::string document_event(std::string_view document_id = "doc_1", std::size_t padding = 0) {
  return std::string(R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":")") +
         std::string(document_id) + R"(","status":"completed","pad":")" + std::string(padding, 'x') + R"("})";
}
inline const std::string unknown_event = R"({"event":"extraction.reticulated","extraction_id":"ext_9"})";
inline const std::string failing_event = R"({"event":"batch.completed","extraction_id":"ext_fail"})";
inline const std::string not_json = R"({"event": "extraction.document_completed", )";

/// Waits until 127.0.0.1:port accepts a connection, for at most `deadline`.
inline bool wait_until_accepting(std::uint16_t port, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::yield();
  }
}

/// The local port of a connected socket: equal across requests = one TCP connection reused.
inline std::uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t size = sizeof a;
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size) != 0) return 0;
  return ntohs(a.sin_port);
}

struct raw_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  [[nodiscard]] std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// One TCP connection driven by hand: exact bytes out (chunked bodies, pipelining control), one
/// parsed reply in. Every read times out after 10 s.
class raw_connection {
 public:
  explicit raw_connection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("connect to the server under test failed");
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~raw_connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  void send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send to the server under test failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  [[nodiscard]] raw_reply read_reply() {
    raw_reply r;
    std::size_t end = 0;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) fill_or_throw();
    const std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) throw std::runtime_error("malformed status line: " + status_line);
    r.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      r.headers.emplace(std::move(name), std::move(value));
    }
    if (r.header("transfer-encoding") == "chunked") {
      for (;;) {
        std::size_t eol = 0;
        while ((eol = buffer_.find("\r\n")) == std::string::npos) fill_or_throw();
        const std::size_t size = std::stoul(buffer_.substr(0, eol), nullptr, 16);
        buffer_.erase(0, eol + 2);
        while (buffer_.size() < size + 2) fill_or_throw();
        r.body += buffer_.substr(0, size);
        buffer_.erase(0, size + 2);
        if (size == 0) break;
      }
    } else if (!r.header("content-length").empty()) {
      const std::size_t size = std::stoul(r.header("content-length"));
      while (buffer_.size() < size) fill_or_throw();
      r.body = buffer_.substr(0, size);
      buffer_.erase(0, size);
    }
    return r;
  }

  /// send_all() for a connection the server may already have closed: false instead of a throw.
  bool try_send_all(std::string_view bytes) noexcept {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// Whether the server has closed this connection (end of stream or a reset) without sending
  /// another byte. A connection it keeps open fails this, at the latest after the 10 s time-out.
  [[nodiscard]] bool closed_by_server() {
    if (!buffer_.empty()) return false;
    char byte = 0;
    const ssize_t n = ::recv(fd_, &byte, 1, 0);
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
  }

  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  void fill_or_throw() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) throw std::runtime_error("the server under test closed the connection or timed out");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }

  int fd_;
  std::string buffer_;
};

/// A POST of `body` to webhook_path as raw bytes: with Content-Length, or chunked in pieces of
/// `chunk_sizes` (the last piece takes the rest) when that is not empty.
inline std::string raw_post(std::string_view body, const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::vector<std::size_t>& chunk_sizes = {}) {
  std::string out =
      "POST " + std::string(webhook_path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (chunk_sizes.empty()) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    out += body;
    return out;
  }
  out += "Transfer-Encoding: chunked\r\n\r\n";
  std::size_t offset = 0;
  auto piece = [&out](std::string_view p) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", p.size());
    out += size;
    out += p;
    out += "\r\n";
  };
  for (const std::size_t n : chunk_sizes) {
    if (offset >= body.size()) break;
    const std::size_t take = std::min(n, body.size() - offset);
    piece(body.substr(offset, take));
    offset += take;
  }
  if (offset < body.size()) piece(body.substr(offset));
  out += "0\r\n\r\n";
  return out;
}

/// A receiver with the suite's secret and cap, counting what its handlers see, served by the
/// server under test. Handlers are registered before the server starts.
struct fixture {
  std::atomic<int> documents{0};
  std::atomic<int> unknowns{0};
  std::atomic<int> failures_raised{0};
  std::mutex errors_mutex;
  std::vector<std::pair<hookrx::errc, std::string>> errors_;  // code, peer as the core saw it

  hookrx::receiver rx;
  std::unique_ptr<running_server> server;

  fixture() : rx(make_receiver()) {
    rx.on<hookrx::document_completed>([this](const hookrx::document_completed&) { ++documents; });
    rx.on_unknown([this](const hookrx::unknown_event&) { ++unknowns; });
    rx.on<hookrx::batch_finished>([this](const hookrx::batch_finished&) -> hookrx::status {
      ++failures_raised;
      return hookrx::errc::handler_failed;
    });
    rx.on_error([this](const hookrx::request_view& request, const hookrx::error& e) {
      const std::lock_guard<std::mutex> lock(errors_mutex);
      errors_.emplace_back(e.code(), std::string(request.peer()));
    });
    server = start_server(rx, std::string(webhook_path));
    REQUIRE(server != nullptr);
    REQUIRE(wait_until_accepting(server->port()));
  }

  static hookrx::receiver make_receiver() {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {std::string(secret)};
    hookrx::receiver_options options;
    options.max_body_bytes = cap;
    auto rx = hookrx::receiver::create(std::move(creds), options);
    if (!rx) throw std::runtime_error(rx.error().message());
    return std::move(rx).value();
  }

  /// A keep-alive cpp-httplib client for the server under test.
  [[nodiscard]] std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    c->set_tcp_nodelay(true);
    c->set_keep_alive(true);
    c->set_connection_timeout(10);
    c->set_read_timeout(10);
    c->set_write_timeout(10);
    return c;
  }

  /// POSTs `body` with `headers` through a fresh client and returns the answer (fails the case
  /// when there is none).
  httplib::Result post(const std::string& body, const httplib::Headers& headers) const {
    auto c = client();
    httplib::Result res = c->Post(std::string(webhook_path), headers, body, "application/json");
    REQUIRE_MESSAGE(res, "no HTTP answer: " << httplib::to_string(res.error()));
    return res;
  }
  httplib::Result post_signed(const std::string& body) const {
    return post(body, {{std::string(signature_header), sign(body)}});
  }

  std::vector<std::pair<hookrx::errc, std::string>> seen_errors() {
    const std::lock_guard<std::mutex> lock(errors_mutex);
    return errors_;
  }
};

inline bool is_2xx(int status) { return status >= 200 && status < 300; }

}  // namespace hookrx_adapter_test

// ---------------------------------------------------------------------------------------------
// The suite

TEST_SUITE(HOOKRX_ADAPTER_NAME " adapter") {
  using hookrx_adapter_test::cap;
  using hookrx_adapter_test::fixture;
  using hookrx_adapter_test::is_2xx;
  using hookrx_adapter_test::raw_connection;
  using hookrx_adapter_test::raw_post;
  using hookrx_adapter_test::sign;
  using hookrx_adapter_test::webhook_path;

  TEST_CASE_FIXTURE(fixture, "a validly signed delivery is answered 2xx with the core's JSON and handled once") {
    const std::string body = hookrx_adapter_test::document_event();
    auto res = post_signed(body);
    CHECK(is_2xx(res->status));
    CHECK(res->get_header_value("Content-Type") == "application/json");
    CHECK(res->body == R"({"status":"processed"})");
    CHECK(documents == 1);
    CHECK(seen_errors().empty());
  }

  TEST_CASE_FIXTURE(fixture, "a delivery signed with another secret is refused with 401 and not handled") {
    const std::string body = hookrx_adapter_test::document_event();
    auto res = post(body, {{"X-PerfectParser-Signature", sign(body, "wh_sec_someone_else")}});
    CHECK(res->status == 401);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    CHECK(res->body.find("signature_mismatch") != std::string::npos);
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "a delivery without a signature is refused with 401 and not handled") {
    auto res = post(hookrx_adapter_test::document_event(), {});
    CHECK(res->status == 401);
    CHECK(res->body.find("missing_signature") != std::string::npos);
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "the core sees the peer address as text without a port") {
    auto res = post(hookrx_adapter_test::document_event(), {});
    REQUIRE(res->status == 401);
    const auto errors = seen_errors();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].first == hookrx::errc::missing_signature);
    CHECK(errors[0].second == "127.0.0.1");
  }

  TEST_CASE_FIXTURE(fixture, "a body one byte over the cap is refused with 413 and the handler does not run") {
    const std::string small = hookrx_adapter_test::document_event("doc_1", 0);
    const std::string body = hookrx_adapter_test::document_event("doc_1", cap + 1 - small.size());
    REQUIRE(body.size() == cap + 1);
    auto res = post_signed(body);
    CHECK(res->status == 413);
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "a body of exactly the cap is accepted") {
    const std::string small = hookrx_adapter_test::document_event("doc_1", 0);
    const std::string body = hookrx_adapter_test::document_event("doc_1", cap - small.size());
    REQUIRE(body.size() == cap);
    auto res = post_signed(body);
    CHECK(is_2xx(res->status));
    CHECK(documents == 1);
  }

  TEST_CASE_FIXTURE(fixture, "a body far over the cap is refused with 413 and the handler does not run") {
    const std::string body = hookrx_adapter_test::document_event("doc_1", 4 * cap);
    auto res = post_signed(body);
    CHECK(res->status == 413);
    if (hookrx_adapter_test::traits.server_refuses_beyond == 0 ||
        body.size() <= cap + hookrx_adapter_test::traits.server_refuses_beyond) {
      CHECK(res->body.find("body_too_large") != std::string::npos);
    }
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "a declared body over the cap is refused before it is read, and the connection closed" *
                                 doctest::skip(!hookrx_adapter_test::traits.refuses_declared_oversize_unread)) {
    // Headers only: the body is not sent before the answer is in, so only Content-Length can
    // trigger it.
    const std::size_t declared = cap + 1;
    raw_connection conn(server->port());
    conn.send_all(
        "POST /webhooks/perfectparser HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(declared) + "\r\nX-PerfectParser-Signature: " + std::string(64, '0') + "\r\n\r\n");
    const auto reply = conn.read_reply();
    CHECK(reply.status == 413);
    CHECK(reply.header("connection") == "close");
    CHECK(reply.body.find("body_too_large") != std::string::npos);
    // Then the sender writes the body it declared: a valid delivery, padded to that length. A
    // server may discard it or close at once, but one that read requests where the refused body
    // was due would answer and dispatch it (a desync: request smuggling behind a proxy).
    const std::string next = hookrx_adapter_test::document_event("doc_smuggled");
    std::string body = raw_post(next, {{"X-PerfectParser-Signature", sign(next)}});
    REQUIRE(body.size() < declared);
    body.resize(declared, ' ');
    static_cast<void>(conn.try_send_all(body));  // fails when the server has closed already
    CHECK(conn.closed_by_server());
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "a chunked body over the cap is refused with 413 and the handler does not run") {
    const std::string body = hookrx_adapter_test::document_event("doc_1", 2 * cap);
    raw_connection conn(server->port());
    conn.send_all(raw_post(body, {{"X-PerfectParser-Signature", sign(body)}}, {4096, 4096, 4096, 4096, 4096}));
    const auto reply = conn.read_reply();
    CHECK(reply.status == 413);
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "a signed body that is not JSON is refused with 400") {
    auto res = post_signed(hookrx_adapter_test::not_json);
    CHECK(res->status == 400);
    CHECK(res->body.find("invalid_json") != std::string::npos);
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "an unknown event is acknowledged with 2xx") {
    auto res = post_signed(hookrx_adapter_test::unknown_event);
    CHECK(is_2xx(res->status));
    CHECK(unknowns == 1);
  }

  TEST_CASE_FIXTURE(fixture, "a handler failure is answered 5xx so that the sender retries") {
    auto res = post_signed(hookrx_adapter_test::failing_event);
    CHECK(res->status >= 500);
    CHECK(res->status < 600);
    CHECK(res->body.find("handler_failed") != std::string::npos);
    CHECK(failures_raised == 1);
  }

  TEST_CASE_FIXTURE(fixture, "deliveries from a keep-alive client reuse one connection") {
    auto c = client();
    std::uint16_t first_port = 0;
    for (int i = 0; i < 3; ++i) {
      const std::string body = hookrx_adapter_test::document_event("doc_" + std::to_string(i));
      auto res =
          c->Post(std::string(webhook_path), {{"X-PerfectParser-Signature", sign(body)}}, body, "application/json");
      REQUIRE(res);
      CHECK(is_2xx(res->status));
      CHECK(res->get_header_value("Connection") != "close");
      const std::uint16_t port = hookrx_adapter_test::local_port(c->socket());
      REQUIRE(port != 0);
      if (i == 0) first_port = port;
      CHECK(port == first_port);  // same local port: the same TCP connection
    }
    CHECK(documents == 3);
  }

  TEST_CASE_FIXTURE(fixture, "one TCP connection carries consecutive deliveries and rejections") {
    raw_connection conn(server->port());
    const std::string good = hookrx_adapter_test::document_event("doc_a");
    conn.send_all(raw_post(good, {{"X-PerfectParser-Signature", sign(good)}}));
    CHECK(is_2xx(conn.read_reply().status));
    conn.send_all(raw_post(good, {{"X-PerfectParser-Signature", sign(good, "wh_sec_someone_else")}}));
    CHECK(conn.read_reply().status == 401);
    const std::string second = hookrx_adapter_test::document_event("doc_b");
    conn.send_all(raw_post(second, {{"X-PerfectParser-Signature", sign(second)}}));
    const auto reply = conn.read_reply();
    CHECK(is_2xx(reply.status));
    CHECK(reply.header("content-type") == "application/json");
    CHECK(documents == 2);
  }

  TEST_CASE_FIXTURE(fixture, "a chunked body is verified over the bytes it carries") {
    const std::string body = hookrx_adapter_test::document_event("doc_chunked", 3000);
    raw_connection conn(server->port());
    conn.send_all(raw_post(body, {{"X-PerfectParser-Signature", sign(body)}}, {1, 100, 2048}));
    const auto reply = conn.read_reply();
    CHECK(is_2xx(reply.status));
    CHECK(documents == 1);

    // The same connection goes on after a chunked request.
    conn.send_all(raw_post(body, {{"X-PerfectParser-Signature", sign(body)}}, {7}));
    CHECK(is_2xx(conn.read_reply().status));
    CHECK(documents == 2);
  }

  TEST_CASE_FIXTURE(fixture, "a chunked body from an HTTP client library is verified") {
    const std::string body = hookrx_adapter_test::document_event("doc_provider", 5000);
    auto c = client();
    auto res = c->Post(
        std::string(webhook_path), {{"X-PerfectParser-Signature", sign(body)}},
        [&body](std::size_t offset, httplib::DataSink& sink) {
          const std::size_t n = std::min<std::size_t>(1500, body.size() - offset);
          sink.write(body.data() + offset, n);
          if (offset + n == body.size()) sink.done();
          return true;
        },
        "application/json");
    REQUIRE(res);
    CHECK(is_2xx(res->status));
    CHECK(documents == 1);
  }

  TEST_CASE_FIXTURE(fixture, "a sender that waits for 100 Continue gets it and its delivery is handled") {
    if (!hookrx_adapter_test::traits.answers_expect_continue) {
      MESSAGE(HOOKRX_ADAPTER_NAME " never answers Expect: 100-continue (documented in its adapter header)");
      return;
    }
    const std::string body = hookrx_adapter_test::document_event("doc_expect", 2000);
    raw_connection conn(server->port());
    const std::string request = raw_post(body, {{"X-PerfectParser-Signature", sign(body)}, {"Expect", "100-continue"}});
    const std::size_t head_end = request.find("\r\n\r\n") + 4;
    conn.send_all(std::string_view(request).substr(0, head_end));
    CHECK(conn.read_reply().status == 100);  // times out (fails) when the server never says Continue
    conn.send_all(std::string_view(request).substr(head_end));
    CHECK(is_2xx(conn.read_reply().status));
    CHECK(documents == 1);
  }

  TEST_CASE_FIXTURE(fixture, "a sender that waits for 100 Continue with a body over the cap gets 413 instead") {
    if (!hookrx_adapter_test::traits.answers_expect_continue ||
        !hookrx_adapter_test::traits.refuses_expected_oversize_before_continue) {
      MESSAGE(HOOKRX_ADAPTER_NAME " says Continue first or never (documented in its adapter header)");
      return;
    }
    // A sender that waits for "100 Continue" (curl does, for large bodies) must learn from the
    // headers that its body is too large, not be invited to send it and then be cut off.
    raw_connection conn(server->port());
    conn.send_all(
        "POST /webhooks/perfectparser HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Expect: 100-continue\r\nContent-Length: " +
        std::to_string(cap + 1) + "\r\nX-PerfectParser-Signature: " + std::string(64, '0') + "\r\n\r\n");
    const auto reply = conn.read_reply();
    CHECK(reply.status == 413);
    CHECK(reply.header("connection") == "close");
    CHECK(reply.body.find("body_too_large") != std::string::npos);
    CHECK(conn.closed_by_server());
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "a gzip body is refused with 415 even when signed over its inflated bytes") {
    // httplib inflates such a body before any handler runs: verifying what it hands over would
    // accept bytes the sender never signed. Whatever the server does, the answer is 415.
    const std::string plain = hookrx_adapter_test::document_event("doc_gzip", 200);
    const std::string packed = hookrx_adapter_test::gzip(plain);
    for (const std::string* signed_over : {&plain, &packed}) {
      CAPTURE(signed_over == &plain);
      raw_connection conn(server->port());
      conn.send_all(
          raw_post(packed, {{"X-PerfectParser-Signature", sign(*signed_over)}, {"Content-Encoding", "gzip"}}));
      const auto reply = conn.read_reply();
      CHECK(reply.status == 415);
      CHECK(reply.body.find("unsupported_content_encoding") != std::string::npos);
    }
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "a body in an encoding nobody decodes is refused with 415") {
    const std::string body = hookrx_adapter_test::document_event("doc_enc");
    raw_connection conn(server->port());
    conn.send_all(raw_post(body, {{"X-PerfectParser-Signature", sign(body)}, {"Content-Encoding", "x-custom"}}));
    const auto reply = conn.read_reply();
    CHECK(reply.status == 415);
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(fixture, "an identity Content-Encoding is verified like no encoding") {
    const std::string body = hookrx_adapter_test::document_event("doc_identity");
    auto res = post(body, {{"X-PerfectParser-Signature", sign(body)}, {"Content-Encoding", "identity"}});
    CHECK(is_2xx(res->status));
    CHECK(documents == 1);
  }

  TEST_CASE_FIXTURE(fixture, "a request with many headers still reaches the core whole") {
    // More headers than the adapters' inline array holds, where the server allows that many; the
    // signature comes last, so it sits beyond the array.
    const std::size_t extra = std::min<std::size_t>(100, hookrx_adapter_test::traits.max_request_headers - 12);
    const std::string body = hookrx_adapter_test::document_event("doc_headers");
    httplib::Headers headers;
    for (std::size_t i = 0; i < extra; ++i) headers.emplace("X-Extra-" + std::to_string(i), "v");
    std::vector<std::pair<std::string, std::string>> raw(headers.begin(), headers.end());
    raw.emplace_back("X-PerfectParser-Signature", sign(body));
    raw_connection conn(server->port());
    conn.send_all(raw_post(body, raw));
    CHECK(is_2xx(conn.read_reply().status));
    CHECK(documents == 1);
  }

#ifdef HOOKRX_TEST_HAVE_MEMORY_STORE
  TEST_CASE_FIXTURE(fixture, "a retried delivery is acknowledged 2xx but not dispatched twice") {
    hookrx::dedup_options sync;
    sync.deadline = std::chrono::milliseconds(0);  // handlers on the server's thread, as without a store
    rx.accept_with(std::make_shared<hookrx::dedup_acceptor>(hookrx::memory_store::create(), sync));
    const std::string body = hookrx_adapter_test::document_event("doc_retried");
    auto first = post_signed(body);
    auto retry = post_signed(body);
    REQUIRE(first);
    REQUIRE(retry);
    CHECK(is_2xx(first->status));
    CHECK(first->body == R"({"status":"processed"})");
    CHECK(is_2xx(retry->status));
    CHECK(retry->body == R"({"status":"duplicate"})");
    CHECK(documents == 1);
  }
#endif
}
