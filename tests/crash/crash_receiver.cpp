// crash_receiver: a real receiver process for the crash tests (test_crash.cpp kills it with SIGKILL
// at random points and starts it again).
//
//   crash_receiver --store sqlite:PATH|postgres:CONNINFO_FILE [--pg-schema NAME]
//                  --log LOGFILE --port-file FILE [--effects DIR] [--secret S]
//
// A PerfectParser receiver with the durable inbox behind it, served by cpp-httplib on 127.0.0.1 at a
// port the kernel picks; the port goes to --port-file (written to a temporary name, then renamed, so
// a reader sees all of it or nothing) once the server accepts connections. SIGTERM or SIGINT stops
// the server, then the inbox (running handlers finish, unstarted leases go back), and exits 0.
//
// The document_completed handler is what a user would write: its side effect is an upsert keyed by
// ctx.key() (a file in --effects named after the key, replaced atomically), so running it again for
// the same key changes nothing. Document ids containing "fail" always fail. Every invocation appends
// lines to LOGFILE, each with one write() on an O_APPEND descriptor (atomic for lines this short,
// and a SIGKILL does not lose what write() has returned):
//
//   begin <key> <pid> <attempt>       the handler started
//   completed <key> <pid> <attempt>   the side effect is done; the handler returns success
//   failed <key> <pid> <attempt>      the handler returns an error
//   stopped <pid>                     clean shutdown finished (after SIGTERM)
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "hookrx/httplib.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/sqlite_store.hpp"
#ifdef HOOKRX_CRASH_HAVE_POSTGRES
#include "hookrx/postgres_store.hpp"
#endif

namespace {

using namespace std::chrono_literals;

struct options {
  std::string store;  // sqlite:PATH or postgres:CONNINFO_FILE
  std::string pg_schema = "public";
  std::string log;
  std::string port_file;
  std::string effects;
  std::string secret = "wh_sec_crash_tests";
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "crash_receiver[" << getpid() << "]: " << what << '\n';
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) die("missing value after " + std::string(arg));
    std::string value = argv[++i];
    if (arg == "--store") {
      o.store = std::move(value);
    } else if (arg == "--pg-schema") {
      o.pg_schema = std::move(value);
    } else if (arg == "--log") {
      o.log = std::move(value);
    } else if (arg == "--port-file") {
      o.port_file = std::move(value);
    } else if (arg == "--effects") {
      o.effects = std::move(value);
    } else if (arg == "--secret") {
      o.secret = std::move(value);
    } else {
      die("unknown option " + std::string(arg));
    }
  }
  if (o.store.empty() || o.log.empty() || o.port_file.empty()) {
    die("usage: crash_receiver --store sqlite:PATH|postgres:CONNINFO_FILE [--pg-schema NAME] --log LOGFILE "
        "--port-file FILE [--effects DIR] [--secret S]");
  }
  if (o.effects.empty()) o.effects = o.log + ".effects";
  return o;
}

// Writes all of `data` with one write() call; a short write would split a log line, so it is fatal.
void write_once(int fd, const std::string& data) {
  const ssize_t n = ::write(fd, data.data(), data.size());
  if (n < 0 || static_cast<std::size_t>(n) != data.size()) die("write failed: " + std::string(std::strerror(errno)));
}

// Replaces `path` with `content` atomically (temporary file + rename).
bool replace_file(const std::string& path, const std::string& content) {
  static std::atomic<unsigned> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(++counter);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const ssize_t n = ::write(fd, content.data(), content.size());
  const bool written = n >= 0 && static_cast<std::size_t>(n) == content.size();
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(tmp.c_str());
    return false;
  }
  return ::rename(tmp.c_str(), path.c_str()) == 0;
}

// The file name of a key's side effect: the key with anything but [A-Za-z0-9._:-] replaced.
std::string effect_name(const std::string& key) {
  std::string name = key;
  for (char& c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                       c == '_' || c == ':' || c == '-';
    if (!plain) c = '_';
  }
  return name;
}

// A little work per invocation (1-3 ms), so that kills land inside handlers too.
void work_a_little() {
  thread_local std::minstd_rand rng(static_cast<std::minstd_rand::result_type>(
      std::hash<std::thread::id>{}(std::this_thread::get_id()) ^ static_cast<std::size_t>(getpid())));
  std::uniform_int_distribution<int> micros(1000, 3000);
  std::this_thread::sleep_for(std::chrono::microseconds(micros(rng)));
}

std::string read_conninfo(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

std::shared_ptr<hookrx::inbox_store> open_store(const options& o) {
  const std::size_t colon = o.store.find(':');
  const std::string kind = o.store.substr(0, colon);
  const std::string where = colon == std::string::npos ? std::string() : o.store.substr(colon + 1);
  if (kind == "sqlite" && !where.empty()) {
    hookrx::sqlite_options so;
    so.path = where;
    auto store = hookrx::sqlite_store::open(so);
    if (!store) die("cannot open the SQLite store: " + store.error().message());
    return *store;
  }
#ifdef HOOKRX_CRASH_HAVE_POSTGRES
  if (kind == "postgres" && !where.empty()) {
    hookrx::postgres_options po;
    po.conninfo = read_conninfo(where);
    po.schema = o.pg_schema;
    po.pool_size = 6;
    auto store = hookrx::postgres_store::open(po);
    if (!store) die("cannot open the PostgreSQL store: " + store.error().message());
    return *store;
  }
#else
  (void)read_conninfo;
#endif
  die("unsupported --store " + o.store);
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM/SIGINT are taken by sigwait() below: block them before any thread starts, so that
  // every thread inherits the mask and none of them is interrupted.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) die("pthread_sigmask failed");
  std::signal(SIGPIPE, SIG_IGN);

  const options opt = parse_args(argc, argv);
  const std::string pid = std::to_string(getpid());
  const int log_fd = ::open(opt.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (log_fd < 0) die("cannot open " + opt.log + ": " + std::strerror(errno));
  if (::mkdir(opt.effects.c_str(), 0755) != 0 && errno != EEXIST) die("cannot create " + opt.effects);

  const std::shared_ptr<hookrx::inbox_store> store = open_store(opt);

  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {opt.secret};
  auto created = hookrx::receiver::create(creds);
  if (!created) die("cannot create the receiver: " + created.error().message());
  hookrx::receiver rx = std::move(created).value();

  rx.on<hookrx::document_completed>(
      [&](const hookrx::document_completed& doc, const hookrx::delivery_context& ctx) -> hookrx::status {
        const std::string tail = ' ' + ctx.key() + ' ' + pid + ' ' + std::to_string(ctx.attempt) + '\n';
        write_once(log_fd, "begin" + tail);
        work_a_little();
        if (doc.document_id.find("fail") != std::string::npos) {
          write_once(log_fd, "failed" + tail);
          return hookrx::error(
              hookrx::errc::handler_failed,
              "crash_receiver: " + doc.document_id + " always fails (attempt " + std::to_string(ctx.attempt) + ")");
        }
        // The side effect, idempotent by key: an upsert, so a second run changes nothing.
        if (!replace_file(opt.effects + "/" + effect_name(ctx.key()), doc.document_id)) {
          return hookrx::error(hookrx::errc::handler_failed, "crash_receiver: cannot write the side effect");
        }
        write_once(log_fd, "completed" + tail);
        return {};
      });
  rx.on_error([&](const hookrx::request_view&, const hookrx::error& e) {
    std::cerr << "crash_receiver[" << pid << "]: delivery not acknowledged: " << e.message() << '\n';
  });

  hookrx::inbox_options io;
  io.workers = 2;
  io.lease = 2s;
  io.idle_poll = 100ms;
  io.retry.max_attempts = 3;
  io.retry.initial_delay = 50ms;
  io.retry.max_delay = 500ms;
  const std::shared_ptr<hookrx::inbox> box = hookrx::inbox::create(store, rx.handlers(), io);
  rx.accept_with(box->acceptor());
  box->start();

  httplib::Server server;
  hookrx::mount(server, "/webhooks/perfectparser", rx);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) die("cannot bind 127.0.0.1");
  std::thread listener([&server] { server.listen_after_bind(); });
  // stop() does nothing until the accept loop runs: publish the port only once it does.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!server.is_running() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  if (!server.is_running()) die("the server did not start");
  if (!replace_file(opt.port_file, std::to_string(port) + "\n")) die("cannot write " + opt.port_file);

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  server.stop();
  listener.join();
  box->stop();
  write_once(log_fd, "stopped " + pid + "\n");
  ::close(log_fd);
  return 0;
}
