// The adapter suite against a CivetWeb server with hookrx::mount().
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#define HOOKRX_ADAPTER_NAME "civetweb"
#include "adapter_suite.hpp"

#include <civetweb.h>

#include "hookrx/civetweb.hpp"

namespace hookrx_adapter_test {

// CivetWeb keeps at most MG_MAX_HEADERS (64) request headers.
const server_traits traits{MG_MAX_HEADERS, 0};

namespace {

const bool civetweb_initialised = [] {
  mg_init_library(0);
  return true;
}();

class civetweb_server final : public running_server {
 public:
  civetweb_server(const hookrx::receiver& rx, const std::string& route) {
    // A request time-out longer than the suite's 10 s read time-out: a connection the adapter
    // leaves CivetWeb waiting on fails the suite instead of closing just in time.
    const char* options[] = {"listening_ports",    "127.0.0.1:0", "num_threads", "4", "enable_keep_alive", "yes",
                             "request_timeout_ms", "30000",       nullptr};
    ctx_ = mg_start(nullptr, nullptr, options);
    if (ctx_ == nullptr) throw std::runtime_error("civetweb: mg_start on 127.0.0.1:0 failed");
    hookrx::mount(ctx_, route, rx);
    mg_server_port ports[1]{};
    if (mg_get_server_ports(ctx_, 1, ports) != 1) throw std::runtime_error("civetweb: no listening port");
    port_ = static_cast<std::uint16_t>(ports[0].port);
  }
  ~civetweb_server() override {
    // CivetWeb's accept loop looks at its stop flag only between 2-second polls of the listening
    // socket: connections wake it, so that stopping takes milliseconds instead of up to 2 s.
    std::atomic<bool> stopped{false};
    std::thread stopper([this, &stopped] {
      mg_stop(ctx_);
      stopped = true;
    });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!stopped && std::chrono::steady_clock::now() < until) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (!connected) break;  // the listening socket is closed: the loop has seen the flag
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stopper.join();
  }
  civetweb_server(const civetweb_server&) = delete;
  civetweb_server& operator=(const civetweb_server&) = delete;

  [[nodiscard]] std::uint16_t port() const override { return port_; }

 private:
  mg_context* ctx_ = nullptr;
  std::uint16_t port_ = 0;
};

}  // namespace

std::unique_ptr<running_server> start_server(const hookrx::receiver& rx, const std::string& route) {
  static_cast<void>(civetweb_initialised);
  return std::make_unique<civetweb_server>(rx, route);
}

}  // namespace hookrx_adapter_test

TEST_SUITE("civetweb adapter") {
  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture, "methods other than POST are answered 405") {
    auto c = client();
    auto get = c->Get(std::string(hookrx_adapter_test::webhook_path));
    REQUIRE(get);
    CHECK(get->status == 405);
  }
}
