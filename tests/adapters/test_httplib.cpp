// The adapter suite against a cpp-httplib server mounted with hookrx::mount().
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#define HOOKRX_ADAPTER_NAME "httplib"
#include "adapter_suite.hpp"

#include "hookrx/httplib.hpp"

namespace hookrx_adapter_test {

const server_traits traits = [] {
  server_traits t;
  t.refuses_expected_oversize_before_continue = false;  // hookrx/httplib.hpp, "Expect: 100-continue"
  return t;
}();

namespace {

class httplib_server final : public running_server {
 public:
  httplib_server(const hookrx::receiver& rx, const std::string& route) {
    hookrx::mount(server_, route, rx);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("httplib: bind to 127.0.0.1:0 failed");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it (bounded), so that the
    // destructor always stops what it started.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  }
  ~httplib_server() override {
    server_.stop();
    thread_.join();
  }
  httplib_server(const httplib_server&) = delete;
  httplib_server& operator=(const httplib_server&) = delete;

  [[nodiscard]] std::uint16_t port() const override { return static_cast<std::uint16_t>(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<running_server> start_server(const hookrx::receiver& rx, const std::string& route) {
  return std::make_unique<httplib_server>(rx, route);
}

}  // namespace hookrx_adapter_test

TEST_SUITE("httplib adapter") {
  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture,
                    "a deflate body inflated by httplib is refused with 415, not verified") {
    // httplib inflates "deflate" too; the header survives, so the core still refuses it.
    const std::string plain = hookrx_adapter_test::document_event("doc_deflate");
    const std::string packed = hookrx_adapter_test::gzip(plain);  // httplib's inflater takes gzip framing for both
    hookrx_adapter_test::raw_connection conn(server->port());
    conn.send_all(hookrx_adapter_test::raw_post(
        packed, {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(plain)}, {"Content-Encoding", "deflate"}}));
    CHECK(conn.read_reply().status == 415);
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture,
                    "a multipart body, which httplib only hands out parsed, is refused with 415") {
    const std::string body = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n" +
                             hookrx_adapter_test::document_event() + "\r\n--b--\r\n";
    hookrx_adapter_test::raw_connection conn(server->port());
    std::string request =
        hookrx_adapter_test::raw_post(body, {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(body)}});
    const std::string json_type = "Content-Type: application/json\r\n";
    request.replace(request.find(json_type), json_type.size(), "Content-Type: multipart/form-data; boundary=b\r\n");
    conn.send_all(request);
    const auto reply = conn.read_reply();
    CHECK(reply.status == 415);
    CHECK(reply.body.find("unsupported_content_encoding") != std::string::npos);
    CHECK(documents == 0);
    // The server goes on serving.
    const std::string good = hookrx_adapter_test::document_event();
    CHECK(post_signed(good)->status == 200);
  }

  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture,
                    "the unread body of a refused multipart request is not parsed as a request") {
    // The body is sent after the answer, as a slow sender would (httplib drops bytes that arrived
    // with the headers): here it is a valid delivery, which a kept connection would dispatch.
    const std::string next = hookrx_adapter_test::document_event("doc_smuggled");
    const std::string body =
        hookrx_adapter_test::raw_post(next, {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(next)}});
    hookrx_adapter_test::raw_connection conn(server->port());
    conn.send_all(
        "POST /webhooks/perfectparser HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n");
    const auto reply = conn.read_reply();
    CHECK(reply.status == 415);
    CHECK(reply.header("connection") == "close");
    static_cast<void>(conn.try_send_all(body));
    CHECK(conn.closed_by_server());
    CHECK(documents == 0);
  }

  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture, "the connection is closed after a chunked body is cut at the cap") {
    const std::string body = hookrx_adapter_test::document_event("doc_1", 2 * hookrx_adapter_test::cap);
    hookrx_adapter_test::raw_connection conn(server->port());
    conn.send_all(hookrx_adapter_test::raw_post(body, {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(body)}},
                                                {4096, 4096, 4096, 4096, 4096}));
    const auto reply = conn.read_reply();
    CHECK(reply.status == 413);
    CHECK(reply.header("connection") == "close");
    CHECK(reply.body.find("body_too_large") != std::string::npos);
    // The rest of the body is still on its way: the connection must not go on to parse it.
    CHECK(conn.closed_by_server());
  }

  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture,
                    "a chunked body with broken framing is answered 400 and what follows is not parsed") {
    hookrx_adapter_test::raw_connection conn(server->port());
    conn.send_all(
        "POST /webhooks/perfectparser HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
    const auto reply = conn.read_reply();
    CHECK(reply.status == 400);
    CHECK(reply.header("connection") == "close");
    // Where the body's framing broke, nothing that follows can be trusted to start a request.
    const std::string next = hookrx_adapter_test::document_event("doc_smuggled");
    static_cast<void>(conn.try_send_all(
        hookrx_adapter_test::raw_post(next, {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(next)}})));
    CHECK(conn.closed_by_server());
    CHECK(documents == 0);
  }
}
