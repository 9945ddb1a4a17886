// The adapter suite against a Pistache endpoint with hookrx::mount() on a Rest::Router.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#define HOOKRX_ADAPTER_NAME "pistache"
#include "adapter_suite.hpp"

#include <pistache/endpoint.h>
#include <pistache/router.h>

#include "hookrx/pistache.hpp"

namespace hookrx_adapter_test {

// Pistache buffers at most cap + header_allowance bytes per request and answers anything larger
// with its own 413; it reads a whole request before any handler runs, so it never answers
// "Expect: 100-continue".
const server_traits traits{128, hookrx::pistache_adapter::header_allowance, false, false};

namespace {

// Serves either through a Rest::Router (hookrx::mount) or the router-less make_handler().
class pistache_server final : public running_server {
 public:
  pistache_server(const hookrx::receiver& rx, const std::string& route, bool use_router)
      : endpoint_(Pistache::Address(Pistache::Ipv4::loopback(), Pistache::Port(0))) {
    endpoint_.init(hookrx::pistache_adapter::options(rx).threads(2));
    if (use_router) {
      hookrx::mount(router_, route, rx);
      endpoint_.setHandler(router_.handler());
    } else {
      endpoint_.setHandler(hookrx::pistache_adapter::make_handler(rx, route));
    }
    endpoint_.serveThreaded();
    port_ = static_cast<std::uint16_t>(static_cast<std::uint16_t>(endpoint_.getPort()));
  }
  ~pistache_server() override { endpoint_.shutdown(); }
  pistache_server(const pistache_server&) = delete;
  pistache_server& operator=(const pistache_server&) = delete;

  [[nodiscard]] std::uint16_t port() const override { return port_; }

 private:
  Pistache::Http::Endpoint endpoint_;
  Pistache::Rest::Router router_;
  std::uint16_t port_ = 0;
};

}  // namespace

std::unique_ptr<running_server> start_server(const hookrx::receiver& rx, const std::string& route) {
  return std::make_unique<pistache_server>(rx, route, true);
}

}  // namespace hookrx_adapter_test

TEST_SUITE("pistache adapter") {
  TEST_CASE("the router-less handler serves its path and nothing else") {
    auto rx = hookrx_adapter_test::fixture::make_receiver();
    std::atomic<int> documents{0};
    rx.on<hookrx::document_completed>([&documents](const hookrx::document_completed&) { ++documents; });
    hookrx_adapter_test::pistache_server server(rx, std::string(hookrx_adapter_test::webhook_path), false);
    REQUIRE(hookrx_adapter_test::wait_until_accepting(server.port()));

    httplib::Client c("127.0.0.1", server.port());
    c.set_tcp_nodelay(true);
    c.set_keep_alive(true);
    const std::string body = hookrx_adapter_test::document_event();
    auto ok = c.Post(std::string(hookrx_adapter_test::webhook_path),
                     {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(body)}}, body, "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->get_header_value("Content-Type") == "application/json");
    CHECK(documents == 1);

    auto bad =
        c.Post(std::string(hookrx_adapter_test::webhook_path),
               {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(body, "wh_sec_x")}}, body, "application/json");
    REQUIRE(bad);
    CHECK(bad->status == 401);

    auto off = c.Post("/elsewhere", body, "application/json");
    REQUIRE(off);
    CHECK(off->status == 404);
    auto get = c.Get(std::string(hookrx_adapter_test::webhook_path));
    REQUIRE(get);
    CHECK(get->status == 405);
    CHECK(documents == 1);
  }
}
