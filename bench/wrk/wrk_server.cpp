// Adapter throughput benchmark, the server side: one HTTP server, one POST route, in one of two
// modes, driven by wrk (bench/wrk/run.sh, bench/wrk/deliveries.lua; results in bench/RESULTS.md).
//
//   hookrx_bench_wrk --server httplib|beast|pistache|civetweb --mode bare|hookrx --port P --threads T
//
// bare    the server's own handler: the server reads the body as it normally does and answers
//         200 with a small JSON body ({"status":"ok"}); nothing is verified or parsed.
// hookrx  the same server, route and thread count, served through the hookrx adapter: a receiver
//         that verifies the PerfectParser signature and parses the event, a dedup_acceptor over
//         hookrx::memory in synchronous mode (handlers inline, no deadline), an empty handler.
//
// Server settings shared by both modes (so that only the handler differs):
//  - httplib: a pool of T threads (it serves one keep-alive connection per thread, so T should
//    cover wrk's connections), keep-alive for as many requests as a run sends, TCP_NODELAY, a
//    1 MiB payload limit, and a listen backlog of 1024 instead of httplib's 5.
//  - beast: a small asynchronous server written here (a strand per connection, the header read
//    first, a fresh string_body parser per request limited to 1 MiB, keep-alive) on T threads;
//    hookrx mode answers through beast_adapter::limit()/handle(), the blocks listener uses.
//  - pistache: Endpoint with T threads, NoDelay|ReuseAddr, maxRequestSize from
//    pistache_adapter::options(), a Rest::Router route (hookrx::mount in hookrx mode).
//  - civetweb: T worker threads (one connection each), keep-alive on; bare mode reads the body
//    with mg_read into a per-thread buffer, as the adapter does.
//
// Runs until SIGINT or SIGTERM. Writes "listening" to stderr once the port accepts connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "hookrx/hookrx.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/memory_store.hpp"

#ifdef HOOKRX_WRK_HAVE_HTTPLIB
#include <httplib.h>

#include "hookrx/httplib.hpp"
#endif
#ifdef HOOKRX_WRK_HAVE_BEAST
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "hookrx/beast.hpp"
#endif
#ifdef HOOKRX_WRK_HAVE_PISTACHE
#include <pistache/endpoint.h>
#include <pistache/router.h>

#include "hookrx/pistache.hpp"
#endif
#ifdef HOOKRX_WRK_HAVE_CIVETWEB
#include <civetweb.h>

#include "hookrx/civetweb.hpp"
#endif

namespace {

constexpr std::string_view route = "/webhooks/perfectparser";
constexpr std::string_view bare_body = R"({"status":"ok"})";
constexpr std::size_t body_limit = std::size_t{1} << 20;  // the receiver's default cap, in both modes

struct config {
  std::string server;
  std::string mode;
  std::uint16_t port = 8080;
  int threads = 1;
  std::string secret;
  [[nodiscard]] bool bare() const { return mode == "bare"; }
};

// Blocks until SIGINT or SIGTERM (blocked in every thread since main() started).
void wait_for_stop(const sigset_t& stop) {
  int signal_number = 0;
  sigwait(&stop, &signal_number);
}

void say_listening(const config& c) {
  std::cerr << "hookrx_bench_wrk: " << c.server << ' ' << c.mode << " listening on 127.0.0.1:" << c.port << " with "
            << c.threads << " threads\n";
}

// --- cpp-httplib --------------------------------------------------------------------------------
#ifdef HOOKRX_WRK_HAVE_HTTPLIB
int run_httplib(const config& c, const hookrx::receiver& rx, const sigset_t& stop) {
  httplib::Server server;
  const auto threads = static_cast<std::size_t>(c.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_keep_alive_max_count(100'000'000);  // its default closes a connection every 5 requests
  std::atomic<int> listen_socket{-1};
  server.set_socket_options([&listen_socket](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket = sock;
  });
  const std::string pattern(route);
  if (c.bare()) {
    // What mount() sets, so that the servers differ only in the handler.
    server.set_payload_max_length(body_limit);
    server.set_tcp_nodelay(true);
    server.Post(pattern, [](const httplib::Request&, httplib::Response& res) {
      res.set_content(bare_body.data(), bare_body.size(), "application/json");
    });
  } else {
    hookrx::mount(server, pattern, rx);
  }
  if (!server.bind_to_port("127.0.0.1", c.port)) {
    std::cerr << "hookrx_bench_wrk: cannot bind 127.0.0.1:" << c.port << '\n';
    return 1;
  }
  // httplib listens with a backlog of 5: wrk's 64 connections arrive at once and most would be
  // dropped and retried a second later. Listening again on a listening socket raises it.
  if (::listen(listen_socket.load(), 1024) != 0) {
    std::cerr << "hookrx_bench_wrk: cannot raise the listen backlog\n";
    return 1;
  }
  std::thread serving([&server] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  say_listening(c);
  wait_for_stop(stop);
  server.stop();
  serving.join();
  return 0;
}
#endif

// --- Boost.Beast --------------------------------------------------------------------------------
#ifdef HOOKRX_WRK_HAVE_BEAST
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using executor = asio::strand<asio::io_context::executor_type>;
using stream_type = beast::basic_stream<tcp, executor>;

class beast_session : public std::enable_shared_from_this<beast_session> {
 public:
  beast_session(stream_type::socket_type&& socket, const hookrx::receiver* rx) : stream_(std::move(socket)), rx_(rx) {
    error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string();
  }

  void run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&beast_session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    if (rx_ != nullptr) {
      hookrx::beast_adapter::limit(*parser_, *rx_);
    } else {
      parser_->body_limit(body_limit);
    }
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&beast_session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t /*bytes*/) {
    if (ec) return close();
    const hookrx::beast_adapter::request& req = parser_->get();
    if (rx_ != nullptr) {
      response_ = hookrx::beast_adapter::handle(*rx_, req, peer_);
    } else {
      response_ = {http::status::ok, req.version()};
      response_.set(http::field::content_type, "application/json");
      response_.keep_alive(req.keep_alive());
      response_.body().assign(bare_body.data(), bare_body.size());
      response_.prepare_payload();
    }
    http::async_write(stream_, response_, beast::bind_front_handler(&beast_session::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t /*bytes*/) {
    if (ec || !response_.keep_alive()) return close();
    do_read();
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  stream_type stream_;
  const hookrx::receiver* rx_;  // null in bare mode
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<hookrx::beast_adapter::request_parser> parser_;
  hookrx::beast_adapter::response response_;
};

int run_beast(const config& c, const hookrx::receiver& rx, const sigset_t& stop) {
  asio::io_context io(c.threads);
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), c.port);
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(1024, ec);
  if (ec) {
    std::cerr << "hookrx_bench_wrk: cannot listen on 127.0.0.1:" << c.port << ": " << ec.message() << '\n';
    return 1;
  }
  const hookrx::receiver* handler = c.bare() ? nullptr : &rx;
  std::function<void()> accept_next;
  accept_next = [&] {
    acceptor.async_accept(asio::make_strand(io), [&](error_code error, stream_type::socket_type socket) {
      if (error == asio::error::operation_aborted) return;
      if (!error) {
        socket.set_option(tcp::no_delay(true), error);
        std::make_shared<beast_session>(std::move(socket), handler)->run();
      }
      accept_next();
    });
  };
  accept_next();
  std::vector<std::thread> threads;
  for (int i = 0; i < c.threads; ++i) threads.emplace_back([&io] { io.run(); });
  say_listening(c);
  wait_for_stop(stop);
  io.stop();
  for (std::thread& t : threads) t.join();
  return 0;
}
#endif

// --- Pistache -----------------------------------------------------------------------------------
#ifdef HOOKRX_WRK_HAVE_PISTACHE
int run_pistache(const config& c, const hookrx::receiver& rx, const sigset_t& stop) {
  namespace pst = Pistache;
  pst::Http::Endpoint endpoint(pst::Address(pst::Ipv4::loopback(), pst::Port(c.port)));
  using pst::Tcp::Options;
  // The same maxRequestSize in both modes: the adapter's (receiver cap + header allowance).
  endpoint.init(hookrx::pistache_adapter::options(rx).threads(c.threads).flags(Options::NoDelay | Options::ReuseAddr));
  pst::Rest::Router router;
  const std::string path(route);
  if (c.bare()) {
    router.post(path, [](const pst::Rest::Request&, pst::Http::ResponseWriter response) {
      static const pst::Http::Mime::MediaType json(pst::Http::Mime::Type::Application, pst::Http::Mime::Subtype::Json);
      response.send(pst::Http::Code::Ok, bare_body.data(), bare_body.size(), json);
      return pst::Rest::Route::Result::Ok;
    });
  } else {
    hookrx::mount(router, path, rx);
  }
  endpoint.setHandler(router.handler());
  endpoint.serveThreaded();
  say_listening(c);
  wait_for_stop(stop);
  endpoint.shutdown();
  return 0;
}
#endif

// --- CivetWeb -----------------------------------------------------------------------------------
#ifdef HOOKRX_WRK_HAVE_CIVETWEB
// Reads the whole body, as a handler that wanted it would, then answers 200.
int civetweb_bare(mg_connection* conn, void* /*cbdata*/) {
  thread_local std::vector<char> body(std::size_t{64} * 1024);
  std::size_t total = 0;
  for (;;) {
    const int n = mg_read(conn, body.data(), body.size());
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
    if (total > body_limit) break;
  }
  const std::string length = std::to_string(bare_body.size());
  mg_response_header_start(conn, 200);
  mg_response_header_add(conn, "Content-Type", "application/json", 16);
  mg_response_header_add(conn, "Content-Length", length.c_str(), static_cast<int>(length.size()));
  mg_response_header_send(conn);
  mg_write(conn, bare_body.data(), bare_body.size());
  return 200;
}

int run_civetweb(const config& c, const hookrx::receiver& rx, const sigset_t& stop) {
  const std::string ports = "127.0.0.1:" + std::to_string(c.port);
  const std::string threads = std::to_string(c.threads);
  const char* options[] = {
      "listening_ports", ports.c_str(), "enable_keep_alive", "yes",  "num_threads", threads.c_str(),
      "tcp_nodelay",     "1",           "listen_backlog",    "1024", nullptr};
  mg_init_library(0);
  mg_context* ctx = mg_start(nullptr, nullptr, options);
  if (ctx == nullptr) {
    std::cerr << "hookrx_bench_wrk: cannot listen on " << ports << '\n';
    return 1;
  }
  const std::string uri(route);
  if (c.bare()) {
    mg_set_request_handler(ctx, uri.c_str(), &civetweb_bare, nullptr);
  } else {
    hookrx::mount(ctx, uri, rx);
  }
  say_listening(c);
  wait_for_stop(stop);
  mg_stop(ctx);
  mg_exit_library();
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  config c;
  c.secret = "wh_sec_9f2c71e04ab35d86c1e7f0a24b9d63e5";  // bench/wrk/deliveries.lua signs with it
  CLI::App app{"hookrx adapter throughput benchmark server (driven by wrk)"};
  app.add_option("--server", c.server, "HTTP server")
      ->required()
      ->check(CLI::IsMember({"httplib", "beast", "pistache", "civetweb"}));
  app.add_option("--mode", c.mode, "bare: the server's own 200 handler; hookrx: the adapter")
      ->required()
      ->check(CLI::IsMember({"bare", "hookrx"}));
  app.add_option("--port", c.port, "port on 127.0.0.1")->capture_default_str();
  app.add_option("--threads", c.threads, "server threads (the same in both modes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--secret", c.secret, "PerfectParser signing secret");
  CLI11_PARSE(app, argc, argv);

  // Blocked before any thread starts, so that only wait_for_stop() receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {c.secret};
  auto rx = hookrx::receiver::create(creds);
  if (!rx) {
    std::cerr << "hookrx_bench_wrk: " << rx.error().message() << '\n';
    return 2;
  }
  rx->on<hookrx::document_completed>([](const hookrx::document_completed&) {});
  hookrx::dedup_options sync;
  sync.deadline = std::chrono::milliseconds(0);  // handlers inline, on the server's thread
  hookrx::memory_store_options store;
  store.capacity = 4'000'000;  // above what one 10 s run sends: no eviction during a run
  rx->accept_with(std::make_shared<hookrx::dedup_acceptor>(hookrx::memory_store::create(store), sync));

#ifdef HOOKRX_WRK_HAVE_HTTPLIB
  if (c.server == "httplib") return run_httplib(c, *rx, stop);
#endif
#ifdef HOOKRX_WRK_HAVE_BEAST
  if (c.server == "beast") return run_beast(c, *rx, stop);
#endif
#ifdef HOOKRX_WRK_HAVE_PISTACHE
  if (c.server == "pistache") return run_pistache(c, *rx, stop);
#endif
#ifdef HOOKRX_WRK_HAVE_CIVETWEB
  if (c.server == "civetweb") return run_civetweb(c, *rx, stop);
#endif
  std::cerr << "hookrx_bench_wrk: this build has no " << c.server << " adapter\n";
  return 2;
}
