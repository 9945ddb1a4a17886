// The three sinks: exec (a command per event), forward (an HTTP POST), jsonl (a group-committed file).
#include "sinks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "log.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace hookrx::cli {

std::string envelope_json(const event& ev, int attempt, std::string_view origin, std::string_view document) {
  std::string out;
  out.reserve(ev.raw_json().size() + ev.key().size() + 160);
  out += "{\"key\":";
  append_json_string(out, ev.key());
  out += ",\"provider\":";
  append_json_string(out, to_string(ev.source()));
  out += ",\"event\":";
  append_json_string(out, ev.name());
  out += ",\"origin\":";
  append_json_string(out, origin);
  out += ",\"attempt\":";
  out += std::to_string(attempt);
  out += ev.is_test() ? ",\"test\":true" : ",\"test\":false";
  out += ",\"payload\":";
  append_minified_json(out, ev.raw_json());
  if (!document.empty()) {
    out += ",\"document\":";
    append_minified_json(out, document);
  }
  out += '}';
  return out;
}

void sink::deliver_all(const std::vector<sink_event>& events, std::vector<status>& outcomes) {
  for (std::size_t i = 0; i < events.size(); ++i) outcomes[i] = deliver(events[i]);
}

namespace {

using steady = std::chrono::steady_clock;

int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left > 60'000 ? 60'000 : left);
}

// ---------------------------------------------------------------------------------------------
// exec

class exec_sink final : public sink {
 public:
  exec_sink(std::string command, std::chrono::milliseconds timeout, int concurrency)
      : command_(std::move(command)), timeout_(timeout), slots_(concurrency) {}

  [[nodiscard]] std::string_view kind() const noexcept override { return "exec"; }

  status deliver(const sink_event& e) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      slot_free_.wait(lock, [this] { return slots_ > 0 || cancelled_; });
      if (cancelled_) return error(errc::handler_failed, "exec: shutting down");
      --slots_;
    }
    status st = run(e);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      ++slots_;
    }
    slot_free_.notify_one();
    return st;
  }

  void cancel() override {
    const std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    for (const pid_t pid : running_) ::kill(-pid, SIGTERM);
    slot_free_.notify_all();
  }

 private:
  // The environment of a command: ours without HOOKRX_* (secrets live there), plus the event's.
  static std::vector<std::string> environment(const sink_event& e) {
    std::vector<std::string> env;
    for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
      if (std::strncmp(*p, "HOOKRX_", 7) != 0) env.emplace_back(*p);
    }
    env.push_back("HOOKRX_EVENT=" + e.ev.name());
    env.push_back("HOOKRX_KEY=" + e.ev.key());
    env.push_back("HOOKRX_ATTEMPT=" + std::to_string(e.attempt));
    env.push_back("HOOKRX_ORIGIN=" + std::string(e.origin));
    env.push_back("HOOKRX_PROVIDER=" + std::string(to_string(e.ev.source())));
    return env;
  }

  status run(const sink_event& e) {
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return error(errc::handler_failed, "exec: pipe: " + std::string(strerror(errno)));
    std::vector<std::string> env_text = environment(e);
    std::vector<char*> envp;
    envp.reserve(env_text.size() + 1);
    for (std::string& s : env_text) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh";
    std::string dash_c = "-c";
    std::string cmd = command_;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigset_t defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    posix_spawnattr_setsigmask(&attr, &none);         // our threads block SIGTERM; the command must not
    posix_spawnattr_setsigdefault(&attr, &defaults);  // nor ignore SIGPIPE as we do
    posix_spawnattr_setpgroup(&attr, 0);              // its own group: a terminal's Ctrl-C is ours alone
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, sh.c_str(), &actions, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    if (rc != 0) {
      ::close(in[1]);
      return error(errc::handler_failed, "exec: spawn: " + std::string(strerror(rc)));
    }
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      running_.insert(pid);
    }
    const steady::time_point deadline = steady::now() + timeout_;
    const bool fed = feed(in[1], e.envelope, deadline);
    ::close(in[1]);
    (void)fed;  // a command that does not read its stdin is still judged by its exit status
    int wstatus = 0;
    const bool exited = wait_for(pid, deadline, wstatus);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      running_.erase(pid);
    }
    if (!exited)
      return error(errc::handler_failed, "exec: timed out after " + std::to_string(timeout_.count()) + " ms");
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return {};
    if (WIFEXITED(wstatus))
      return error(errc::handler_failed, "exec: exit status " + std::to_string(WEXITSTATUS(wstatus)));
    return error(errc::handler_failed, "exec: killed by signal " + std::to_string(WTERMSIG(wstatus)));
  }

  // Writes `data` to the pipe without blocking past `deadline`.
  static bool feed(int fd, std::string_view data, steady::time_point deadline) {
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        const int wait = remaining_ms(deadline);
        if (wait == 0 || ::poll(&p, 1, wait) <= 0) return false;
        continue;
      }
      return false;  // EPIPE: the command exited or closed its stdin
    }
    return true;
  }

  // Waits for `pid` until `deadline`; past it, kills its process group (TERM, then KILL after 2 s).
  static bool wait_for(pid_t pid, steady::time_point deadline, int& wstatus) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    for (;;) {
      const pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
      if (r == pid) break;
      if (r < 0 && errno != EINTR) break;
      const int wait = remaining_ms(deadline);
      if (wait == 0) {
        ::kill(-pid, SIGTERM);
        const steady::time_point hard = steady::now() + std::chrono::seconds(2);
        while (::waitpid(pid, &wstatus, WNOHANG) == 0) {
          if (steady::now() >= hard) {
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &wstatus, 0);
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (pidfd >= 0) ::close(pidfd);
        return false;
      }
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        (void)::poll(&p, 1, wait);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // no pidfd (old kernel): poll the child
      }
    }
    if (pidfd >= 0) ::close(pidfd);
    return true;
  }

  std::string command_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable slot_free_;
  int slots_;
  bool cancelled_ = false;
  std::set<pid_t> running_;
};

// ---------------------------------------------------------------------------------------------
// forward

class forward_sink final : public sink {
 public:
  forward_sink(std::string host, int port, std::string path, std::chrono::milliseconds timeout)
      : host_(std::move(host)), port_(port), path_(std::move(path)), timeout_(timeout) {}

  [[nodiscard]] std::string_view kind() const noexcept override { return "forward"; }

  status deliver(const sink_event& e) override {
    httplib::Client client(host_, port_);
    const auto secs = static_cast<time_t>(timeout_.count() / 1000);
    const auto usecs = static_cast<time_t>((timeout_.count() % 1000) * 1000);
    client.set_connection_timeout(secs, usecs);
    client.set_read_timeout(secs, usecs);
    client.set_write_timeout(secs, usecs);
    client.set_tcp_nodelay(true);
    const httplib::Headers headers = {{"Idempotency-Key", e.ev.key()},
                                      {"X-Hookrx-Event", e.ev.name()},
                                      {"X-Hookrx-Attempt", std::to_string(e.attempt)},
                                      {"X-Hookrx-Origin", std::string(e.origin)}};
    const httplib::Result res = client.Post(path_, headers, e.envelope.data(), e.envelope.size(), "application/json");
    if (!res) return error(errc::handler_failed, "forward: " + httplib::to_string(res.error()));
    if (res->status < 200 || res->status > 299) {
      return error(errc::handler_failed, "forward: HTTP " + std::to_string(res->status));
    }
    return {};
  }

 private:
  std::string host_;
  int port_;
  std::string path_;
  std::chrono::milliseconds timeout_;
};

// ---------------------------------------------------------------------------------------------
// jsonl

class jsonl_sink final : public sink {
 public:
  jsonl_sink(int fd, std::string path) : fd_(fd), path_(std::move(path)), open_(std::make_shared<batch>()) {}
  ~jsonl_sink() override { ::close(fd_); }
  jsonl_sink(const jsonl_sink&) = delete;
  jsonl_sink& operator=(const jsonl_sink&) = delete;

  [[nodiscard]] std::string_view kind() const noexcept override { return "jsonl"; }

  status deliver(const sink_event& e) override { return append_and_sync(&e, 1); }

  void deliver_all(const std::vector<sink_event>& events, std::vector<status>& outcomes) override {
    const status st = append_and_sync(events.data(), events.size());
    if (!st) {
      for (status& o : outcomes) o = st;  // one write for all: they are retried together
    }
  }

 private:
  // Queues the lines for the next flush and returns once a flush carrying them is on disk.
  status append_and_sync(const sink_event* events, std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::shared_ptr<batch> mine = open_;
    for (std::size_t i = 0; i < count; ++i) {
      mine->text.append(events[i].envelope);
      mine->text.push_back('\n');
    }
    while (!mine->done) {
      if (flushing_) {
        flushed_.wait(lock);
        continue;
      }
      // Lead a flush: take every line queued so far (ours among them) and write them together.
      flushing_ = true;
      std::shared_ptr<batch> b = std::move(open_);
      open_ = std::make_shared<batch>();
      lock.unlock();
      b->ok = write_all(b->text) && ::fdatasync(fd_) == 0;
      if (!b->ok) b->why = std::strerror(errno);
      lock.lock();
      b->done = true;
      flushing_ = false;
      flushed_.notify_all();
    }
    if (!mine->ok) return error(errc::handler_failed, "jsonl: " + path_ + ": " + mine->why);
    return {};
  }

  struct batch {
    std::string text;
    bool done = false;
    bool ok = false;
    std::string why;
  };

  bool write_all(const std::string& text) const {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd_;
  std::string path_;
  std::mutex mutex_;
  std::condition_variable flushed_;
  bool flushing_ = false;
  std::shared_ptr<batch> open_;
};

}  // namespace

result<std::unique_ptr<sink>> make_exec_sink(std::string command, std::chrono::milliseconds timeout, int concurrency) {
  if (command.empty()) return error(errc::invalid_config, "--exec: an empty command");
  return std::unique_ptr<sink>(new exec_sink(std::move(command), timeout, concurrency < 1 ? 1 : concurrency));
}

result<std::unique_ptr<sink>> make_forward_sink(const std::string& url, std::chrono::milliseconds timeout) {
  const std::string_view scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return error(errc::invalid_config, "--forward: " + url + " is not http://");
  std::string rest = url.substr(scheme.size());
  const std::size_t slash = rest.find('/');
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  if (authority.find('@') != std::string::npos) {
    return error(errc::invalid_config, "--forward: credentials in the URL are not supported");
  }
  int port = 80;
  std::string host = authority;
  if (const std::size_t colon = authority.rfind(':');
      colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    host = authority.substr(0, colon);
    const std::string p = authority.substr(colon + 1);
    char* end = nullptr;
    const long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || v < 1 || v > 65535)
      return error(errc::invalid_config, "--forward: bad port in " + url);
    port = static_cast<int>(v);
  }
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) return error(errc::invalid_config, "--forward: no host in " + url);
  return std::unique_ptr<sink>(new forward_sink(std::move(host), port, std::move(path), timeout));
}

result<std::unique_ptr<sink>> make_jsonl_sink(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return error(errc::invalid_config, "--jsonl: cannot open " + path + ": " + std::strerror(errno));
  // A file just created exists durably only once its directory entry is synced too.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return std::unique_ptr<sink>(new jsonl_sink(fd, path));
}

}  // namespace hookrx::cli
