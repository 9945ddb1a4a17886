// tests/cli/harness.hpp: drive the built `hookrx` binary as a user would.
//
// A `server` is one `hookrx serve` process (stderr to a log file, environment of its own, listening
// on a free port it reports in its "listening" log line); `raw` is a byte-level HTTP/1.1 client on a
// loopback socket, for requests no library client would send; `deliver()` signs and POSTs one
// body. Waiting is always "poll a condition until a deadline", never a fixed sleep.
//
//   hookrx_cli_test::temp_dir dir;
//   hookrx_cli_test::server s({"--jsonl", dir.path("events.jsonl")}, {{"HOOKRX_PP_SIGNING_SECRETS", "wh_sec_x"}}, dir);
//   auto reply = hookrx_cli_test::deliver(s.port(), "/webhooks/perfectparser", body, "wh_sec_x");
//   CHECK(reply.status == 202);
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../support.hpp"

#ifndef HOOKRX_CLI_BINARY
#error "HOOKRX_CLI_BINARY (the built hookrx executable) must be defined by the build"
#endif

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace hookrx_cli_test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// Polls `done` every 20 ms until it is true or `timeout` passes; returns its last answer.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

inline std::size_t count_of(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

struct temp_dir {
  std::filesystem::path dir;
  temp_dir() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("hookrx-cli-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    if (std::getenv("HOOKRX_CLI_KEEP") != nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  [[nodiscard]] std::string path(const std::string& name) const { return (dir / name).string(); }
};

// --- HTTP over a raw socket -----------------------------------------------------------------------

struct reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// One client connection to 127.0.0.1:port. Reads are bounded by a deadline.
class raw {
 public:
  explicit raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  raw(const raw&) = delete;
  raw& operator=(const raw&) = delete;
  ~raw() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// Sends all of `bytes`; false when the server has closed.
  bool send(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// The next response (an interim 100 Continue counts as one); nullopt when the connection closed
  /// or nothing complete arrived within `timeout`.
  std::optional<reply> read(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
      if (std::optional<reply> r = take()) return r;
      if (!fill(deadline)) return std::nullopt;
    }
  }

  /// True when the server closes the connection (EOF or reset) within `timeout`, with nothing more sent.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }

 private:
  // Reads once more into buf_; false at EOF, on error, or at the deadline.
  bool fill(steady::time_point deadline) {
    if (eof_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  std::optional<reply> take() {
    const std::size_t end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    reply r;
    std::istringstream head(buf_.substr(0, end));
    std::string line;
    std::getline(head, line);
    if (line.size() < 12) throw std::runtime_error("bad status line: " + line);
    r.status = std::stoi(line.substr(9, 3));
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[name] = value;
    }
    std::size_t length = 0;
    if (r.status >= 200 && r.headers.count("content-length") != 0) length = std::stoul(r.headers["content-length"]);
    if (buf_.size() < end + 4 + length) return std::nullopt;
    r.body = buf_.substr(end + 4, length);
    buf_.erase(0, end + 4 + length);
    return r;
  }

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

/// A POST as bytes: the headers given, Content-Length, and the body.
inline std::string post_bytes(const std::string& path, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view version = "HTTP/1.1") {
  std::string out = "POST " + path + " " + std::string(version) + "\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

/// Sends `bytes` on a fresh connection and reads one response (status 0 when none came).
inline reply round_trip(int port, const std::string& bytes, std::chrono::milliseconds timeout = 10s) {
  raw c(port);
  c.send(bytes);
  return c.read(timeout).value_or(reply{});
}

inline reply get(int port, const std::string& path) {
  return round_trip(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

/// A PerfectParser delivery signed with `secret`.
inline reply deliver(int port, const std::string& body, const std::string& secret,
                     const std::string& path = "/webhooks/perfectparser") {
  return round_trip(
      port, post_bytes(path, body, {{"X-PerfectParser-Signature", hookrx_test::hmac_sha256_hex(secret, body)}}));
}

/// A Parashift delivery with `Authorization: Bearer token`.
inline reply deliver_parashift(int port, const std::string& body, const std::string& token) {
  return round_trip(port, post_bytes("/webhooks/parashift", body, {{"Authorization", "Bearer " + token}}));
}

/// The value of one series in /metrics ("name{labels}" exactly as rendered, or a bare name); 0 when absent.
inline double metric(int port, const std::string& series) {
  const reply r = get(port, "/metrics");
  for (const std::string& line : lines_of(r.body)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return 0;
}

inline std::string doc_body(const std::string& extraction, const std::string& document) {
  return R"({"event":"extraction.document_completed","extraction_id":")" + extraction + R"(","document_id":")" +
         document + R"(","status":"completed","extracted_data":{"total":12.5}})";
}
inline std::string doc_key(const std::string& extraction, const std::string& document) {
  return "perfectparser:extraction.document_completed:" + extraction + ":" + document;
}

// --- the binary as a process ----------------------------------------------------------------------

using env_list = std::vector<std::pair<std::string, std::string>>;

/// Runs the binary with `args` to completion; returns its exit code and what it wrote to stderr.
inline std::pair<int, std::string> run_to_end(const std::vector<std::string>& args, const env_list& env,
                                              const temp_dir& dir);

class server {
 public:
  /// Starts `hookrx serve --listen 127.0.0.1:0 <args>` with the environment of this test minus
  /// every HOOKRX_* variable, plus `env`. Throws when it does not report listening within 20 s.
  server(std::vector<std::string> args, env_list env, const temp_dir& dir, std::string name = "serve")
      : log_(dir.path(name + "-" + std::to_string(counter()++) + ".log")) {
    std::vector<std::string> argv_text = {HOOKRX_CLI_BINARY, "serve", "--listen", "127.0.0.1:0"};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    pid_ = spawn(argv_text, env, log_, dir.dir.string());
    if (!eventually([&] { return port_from_log() != 0 || exited(); }, 20s) || port_ == 0) {
      throw std::runtime_error("hookrx serve did not start; its log:\n" + read_all(log_));
    }
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] std::string log() const { return read_all(log_); }
  void signal(int sig) const { ::kill(pid_, sig); }

  /// True once the process has exited (reaped); its code is in exit_code().
  bool exited() {
    if (exit_code_) return true;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return true;
    }
    return false;
  }
  /// Waits for the exit; nullopt when still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 30s) {
    eventually([&] { return exited(); }, timeout);
    return exit_code_;
  }
  /// SIGTERM, then the exit code (nullopt: did not exit within `timeout`).
  std::optional<int> stop(std::chrono::milliseconds timeout = 30s) {
    signal(SIGTERM);
    return wait_exit(timeout);
  }

  static pid_t spawn(const std::vector<std::string>& argv_text, const env_list& env, const std::string& log,
                     const std::string& cwd) {
    std::vector<std::string> env_text;
    for (char** p = environ; *p != nullptr; ++p) {
      if (std::strncmp(*p, "HOOKRX_", 7) != 0) env_text.emplace_back(*p);
    }
    for (const auto& [k, v] : env) env_text.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (std::string& s : env_text) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv_text;
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    // posix_spawn cannot change directory (glibc 2.36): run through env -C.
    std::vector<std::string> with_cwd = {"/usr/bin/env", "-C", cwd};
    with_cwd.insert(with_cwd.end(), args.begin(), args.end());
    std::vector<char*> argv2;
    for (std::string& s : with_cwd) argv2.push_back(s.data());
    argv2.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, "/usr/bin/env", &fa, nullptr, argv2.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("spawn: " + std::string(std::strerror(rc)));
    return pid;
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  int port_from_log() {
    const std::string text = read_all(log_);
    const std::size_t at = text.find("\"msg\":\"listening\"");
    if (at == std::string::npos) return 0;
    const std::size_t p = text.find("\"port\":", at);
    if (p == std::string::npos) return 0;
    port_ = std::atoi(text.c_str() + p + 7);
    return port_;
  }

  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::optional<int> exit_code_;
};

inline std::pair<int, std::string> run_to_end(const std::vector<std::string>& args, const env_list& env,
                                              const temp_dir& dir) {
  static int n = 0;
  const std::string log = dir.path("run-" + std::to_string(n++) + ".log");
  std::vector<std::string> argv_text = {HOOKRX_CLI_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  const pid_t pid = server::spawn(argv_text, env, log, dir.dir.string());
  int st = 0;
  const auto deadline = steady::now() + 20s;
  while (::waitpid(pid, &st, WNOHANG) == 0) {
    if (steady::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return {-1, read_all(log)};
    }
    std::this_thread::sleep_for(10ms);
  }
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), read_all(log)};
}

}  // namespace hookrx_cli_test
