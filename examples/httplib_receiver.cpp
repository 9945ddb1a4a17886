// examples/httplib_receiver.cpp: hookrx's sample receiver, a PerfectParser webhook endpoint on
// cpp-httplib.
//
//   HOOKRX_PP_SIGNING_SECRET=wh_sec_... ./httplib_receiver        # or HOOKRX_PP_SIGNING_SECRET_FILE=path
//   HOOKRX_PORT (default 8080) and HOOKRX_BIND (default 127.0.0.1) choose where it listens;
//   HOOKRX_DB (default hookrx.db) is the SQLite inbox when built with hookrx::sqlite.
//
// Serves POST /webhooks/perfectparser and logs to stderr one line per delivery (its status and
// outcome or error code) and one per handled event (its idempotency key and attempt): never a
// secret. Stops cleanly on SIGINT or SIGTERM, letting running handlers finish.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include <httplib.h>

#include "hookrx/hookrx.hpp"
#include "hookrx/httplib.hpp"
#ifdef HOOKRX_EXAMPLE_HAVE_SQLITE
#include "hookrx/inbox.hpp"
#include "hookrx/sqlite_store.hpp"
#endif

namespace {

std::optional<std::string> signing_secret() {
  if (const char* s = std::getenv("HOOKRX_PP_SIGNING_SECRET"); s != nullptr && *s != '\0') return std::string(s);
  const char* file = std::getenv("HOOKRX_PP_SIGNING_SECRET_FILE");
  if (file == nullptr || *file == '\0') return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (!in || secret.empty()) return std::nullopt;
  return secret;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : fallback;
}

// "processed", "test_delivery", ... or the error code, from the core's JSON answer.
std::string_view outcome(std::string_view body) {
  for (std::string_view field : {std::string_view(R"("code":")"), std::string_view(R"("status":")")}) {
    if (auto at = body.find(field); at != std::string_view::npos) {
      body.remove_prefix(at + field.size());
      return body.substr(0, body.find('"'));
    }
  }
  return "?";
}

}  // namespace

int main() {
  // Block SIGINT/SIGTERM before any thread starts (the store's, the inbox's, the server's), so
  // that every thread inherits the mask and only the waiter below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::optional<std::string> secret = signing_secret();
  if (!secret) {
    std::cerr << "httplib_receiver: set HOOKRX_PP_SIGNING_SECRET or HOOKRX_PP_SIGNING_SECRET_FILE\n";
    return 2;
  }
  const std::string bind = env_or("HOOKRX_BIND", "127.0.0.1");
  const int port = std::atoi(env_or("HOOKRX_PORT", "8080").c_str());
  if (port <= 0 || port > 65535) {
    std::cerr << "httplib_receiver: HOOKRX_PORT must be a port number\n";
    return 2;
  }

  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {*secret};
  auto rx = hookrx::receiver::create(creds);
  if (!rx) {
    std::cerr << "httplib_receiver: " << rx.error().message() << '\n';
    return 2;
  }
  rx->on<hookrx::document_completed>([](const hookrx::document_completed& doc) {
    // Business logic goes here; make it idempotent by the event's key.
    static_cast<void>(doc);
  });
  rx->on_any([](const hookrx::event& ev, const hookrx::delivery_context& ctx) {
    std::cerr << "handled " << ev.key() << " (attempt " << ctx.attempt << ")\n";
  });

#ifdef HOOKRX_EXAMPLE_HAVE_SQLITE
  // The embedded default: each delivery is stored in SQLite (deduplicated by its key) before the
  // 202, and worker threads run the handlers, retrying with backoff and dead-lettering.
  hookrx::sqlite_options db;
  db.path = env_or("HOOKRX_DB", "hookrx.db");
  auto store = hookrx::sqlite_store::open(db);
  if (!store) {
    std::cerr << "httplib_receiver: " << store.error().message() << '\n';
    return 2;
  }
  const std::shared_ptr<hookrx::inbox> box = hookrx::inbox::create(*store, rx->handlers());
  rx->accept_with(box->acceptor());
  std::cerr << "httplib_receiver: inbox in " << db.path << '\n';
#endif

#ifdef HOOKRX_EXAMPLE_HAVE_SQLITE
  box->start();
#endif

  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(16); };  // one thread per keep-alive connection
  server.set_keep_alive_max_count(100);  // httplib closes a kept-alive connection after 5 requests by default
  server.set_socket_options([](socket_t sock) {
    // httplib sets only SO_REUSEPORT; without SO_REUSEADDR a restart fails while the last run's
    // connections linger in TIME_WAIT.
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  hookrx::mount(server, "/webhooks/perfectparser", *rx);
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (req.path != "/webhooks/perfectparser") return;
    std::cerr << "delivery from " << req.remote_addr << ": " << res.status << ' ' << outcome(res.body) << '\n';
  });

  std::atomic<bool> listening_done{false};
  std::thread waiter([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (listening_done) return;
    // A signal that arrives before the accept loop runs would make stop() a no-op: wait for it.
    while (!server.is_running() && !listening_done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server.stop();
  });

  std::cerr << "httplib_receiver: listening on " << bind << ':' << port << " POST /webhooks/perfectparser\n";
  const bool ok = server.listen(bind, port);
  listening_done = true;
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if no signal came (bind failed)
  waiter.join();
  if (!ok) {
    std::cerr << "httplib_receiver: cannot listen on " << bind << ':' << port << '\n';
    return 1;
  }
#ifdef HOOKRX_EXAMPLE_HAVE_SQLITE
  box->stop();  // lets running handlers finish and returns unstarted leases
#endif
  std::cerr << "httplib_receiver: stopped\n";
  return 0;
}
