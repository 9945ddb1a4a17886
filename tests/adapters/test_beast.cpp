// The adapter suite against hookrx::beast_adapter::listener (Boost.Beast).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#define HOOKRX_ADAPTER_NAME "beast"
#include "adapter_suite.hpp"

#include "hookrx/beast.hpp"

// I/O threads of the listener under test: with several, a connection runs on a strand.
#ifndef HOOKRX_BEAST_TEST_THREADS
#define HOOKRX_BEAST_TEST_THREADS 2
#endif

namespace hookrx_adapter_test {

const server_traits traits{};

namespace {

class beast_server final : public running_server {
 public:
  beast_server(const hookrx::receiver& rx, const std::string& route) {
    hookrx::beast_adapter::listener::options opts;
    opts.address = "127.0.0.1";
    opts.port = 0;
    opts.threads = HOOKRX_BEAST_TEST_THREADS;
    auto l = hookrx::beast_adapter::listener::start(rx, route, opts);
    if (!l) throw std::runtime_error(l.error().message());
    listener_ = std::move(l).value();
  }
  [[nodiscard]] std::uint16_t port() const override { return listener_->port(); }
  [[nodiscard]] const hookrx::beast_adapter::listener& listener() const { return *listener_; }

 private:
  std::unique_ptr<hookrx::beast_adapter::listener> listener_;
};

}  // namespace

std::unique_ptr<running_server> start_server(const hookrx::receiver& rx, const std::string& route) {
  return std::make_unique<beast_server>(rx, route);
}

}  // namespace hookrx_adapter_test

TEST_SUITE("beast adapter") {
  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture,
                    "the listener accepts one connection for a keep-alive client's deliveries") {
    const auto& l = dynamic_cast<const hookrx_adapter_test::beast_server&>(*server).listener();
    auto c = client();
    std::uint64_t after_first = 0;
    for (int i = 0; i < 3; ++i) {
      const std::string body = hookrx_adapter_test::document_event("doc_" + std::to_string(i));
      auto res = c->Post(std::string(hookrx_adapter_test::webhook_path),
                         {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(body)}}, body, "application/json");
      REQUIRE(res);
      CHECK(res->status == 200);
      // Answered, so accepted: so was every connection queued before it (the readiness probe).
      if (i == 0) after_first = l.connections_accepted();
    }
    CHECK(l.connections_accepted() == after_first);
    CHECK(documents == 3);
  }

  TEST_CASE_FIXTURE(hookrx_adapter_test::fixture, "the listener answers 404 off the route and 405 for other methods") {
    auto c = client();
    auto off = c->Post("/elsewhere", "{}", "application/json");
    REQUIRE(off);
    CHECK(off->status == 404);
    auto get = c->Get(std::string(hookrx_adapter_test::webhook_path));
    REQUIRE(get);
    CHECK(get->status == 405);
    CHECK(get->get_header_value("Allow") == "POST");
  }

  TEST_CASE("an answer the acceptor gives later, from another thread, reaches its connection in order") {
    // Holds the completion of documents named "held_*" until release(); answers the others at
    // once, "queued" for the first and "duplicate" after that.
    struct later_acceptor final : hookrx::acceptor {
      std::mutex m;
      std::vector<completion> held;
      int answered = 0;
      hookrx::result<hookrx::disposition> accept(hookrx::event&&, const hookrx::request_view&,
                                                 const hookrx::dispatcher&) override {
        return hookrx::error(hookrx::errc::handler_failed, "the synchronous path is not used here");
      }
      void accept_async(hookrx::event&& ev, const hookrx::request_view&, const hookrx::dispatcher&,
                        completion done) override {
        const std::lock_guard<std::mutex> lock(m);
        if (ev.key().find("held_") != std::string::npos) {
          held.push_back(std::move(done));
          return;
        }
        done(answered++ == 0 ? hookrx::disposition::queued : hookrx::disposition::duplicate);
      }
      std::size_t holding() {
        const std::lock_guard<std::mutex> lock(m);
        return held.size();
      }
    };
    auto rx = hookrx_adapter_test::fixture::make_receiver();
    auto acceptor = std::make_shared<later_acceptor>();
    rx.accept_with(acceptor);
    hookrx::beast_adapter::listener::options opts;
    opts.threads = 1;  // a held answer must not hold the only I/O thread
    auto l = hookrx::beast_adapter::listener::start(rx, std::string(hookrx_adapter_test::webhook_path), opts);
    REQUIRE(l.has_value());
    const std::uint16_t port = (*l)->port();
    const auto post = [](const std::string& doc) {
      const std::string body = hookrx_adapter_test::document_event(doc);
      return hookrx_adapter_test::raw_post(body, {{"X-PerfectParser-Signature", hookrx_adapter_test::sign(body)}});
    };

    hookrx_adapter_test::raw_connection first(port);
    first.send_all(post("held_1") + post("doc_after"));  // pipelined behind the held one
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (acceptor->holding() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    REQUIRE(acceptor->holding() == 1);
    hookrx_adapter_test::raw_connection second(port);
    second.send_all(post("doc_other"));
    CHECK(second.read_reply().status == 202);  // served while held_1 waits
    std::thread([&] {
      const std::lock_guard<std::mutex> lock(acceptor->m);
      acceptor->held.front()(hookrx::error(hookrx::errc::store_unavailable, "sqlite: disk I/O error"));
    }).join();
    CHECK(first.read_reply().status == 503);  // answered from the other thread, in order
    CHECK(first.read_reply().status == 200);  // then the pipelined one
  }

  TEST_CASE("a listener that cannot bind reports why instead of throwing") {
    auto rx = hookrx_adapter_test::fixture::make_receiver();
    hookrx::beast_adapter::listener::options opts;
    opts.address = "not-an-address";
    auto l = hookrx::beast_adapter::listener::start(rx, "/x", opts);
    REQUIRE_FALSE(l);
    CHECK(l.error().code() == hookrx::errc::invalid_config);
  }

  TEST_CASE("drain() finishes a request in progress with Connection: close, closes idle connections, accepts no more") {
    auto rx = hookrx_adapter_test::fixture::make_receiver();
    std::vector<hookrx::beast_adapter::route> routes(2);
    routes[0].path = std::string(hookrx_adapter_test::webhook_path);
    routes[0].rx = &rx;
    routes[1].path = "/ping";
    routes[1].get = [](const hookrx::beast_adapter::request&) {
      hookrx::beast_adapter::response res{hookrx::beast_adapter::http::status::ok, 11};
      res.body() = "pong";
      return res;
    };
    hookrx::beast_adapter::listener::options opts;
    opts.threads = 2;
    auto l = hookrx::beast_adapter::listener::start(std::move(routes), opts);
    REQUIRE(l.has_value());
    const std::uint16_t port = (*l)->port();

    hookrx_adapter_test::raw_connection idle(port);
    hookrx_adapter_test::raw_connection busy(port);
    const std::string body = hookrx_adapter_test::document_event("doc_drain");
    busy.send_all("POST " + std::string(hookrx_adapter_test::webhook_path) +
                  " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nX-PerfectParser-Signature: " + hookrx_adapter_test::sign(body) + "\r\n\r\n");
    REQUIRE(busy.read_reply().status == 100);  // its header was read: a request in progress
    {
      hookrx_adapter_test::raw_connection get(port);  // a GET route of the application's own
      get.send_all("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
      const auto pong = get.read_reply();
      CHECK(pong.status == 200);
      CHECK(pong.body == "pong");
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((*l)->connections_accepted() < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    REQUIRE((*l)->connections_accepted() >= 3);

    bool drained = false;
    std::thread drainer([&] { drained = (*l)->drain(std::chrono::seconds(10)); });
    CHECK_THROWS((void)idle.read_reply());  // closed without an answer: it had no request
    busy.send_all(body);
    const auto answer = busy.read_reply();
    CHECK(answer.status == 200);
    CHECK(answer.header("connection") == "close");
    drainer.join();
    CHECK(drained);
    CHECK_THROWS(hookrx_adapter_test::raw_connection(port).send_all("GET /ping HTTP/1.1\r\n\r\n"));
  }
}
