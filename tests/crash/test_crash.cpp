// Crash tests: real receiver processes (crash_receiver) with the durable inbox take a stream of
// signed deliveries, with duplicates, from a sender that retries whatever was not acknowledged with
// a 2xx, while this driver kills them with SIGKILL at random points and starts them again.
//
// Built twice: HOOKRX_CRASH_POSTGRES unset runs one receiver on a SQLite file; set, two receivers
// share one PostgreSQL schema (the postgres_server ctest fixture, HOOKRX_PG_CONNINFO_FILE) and the
// sender alternates between them.
//
// What must hold at the end, from the receivers' log (see crash_receiver.cpp), the store and the
// handlers' side effects:
//  (a) every acknowledged delivery whose handler does not always fail completed at least once;
//  (b) no key completed twice, except across the at-least-once window: a process killed after its
//      handler returned and before the store recorded the ack. So every completion of a key after
//      its first comes from another process, and the process of the completion before it was
//      SIGKILLed before it (the driver logs each kill once the process is reaped). Keys that hit the
//      window are counted; more than 5 % of them fails the test;
//  (c) the dead letter holds exactly the "fail" deliveries, each with the handler's own last error
//      from its final attempt;
//  (d) nothing is left queued or leased, and every other key is done;
//  (e) no key was answered 202 "queued" twice (it would have been stored twice).
// The seed is printed; HOOKRX_CRASH_SEED=<seed> replays the same choices (timing still varies).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "hookrx/events.hpp"
#include "hookrx/store.hpp"
#ifdef HOOKRX_CRASH_POSTGRES
#include "hookrx/postgres_store.hpp"
#else
#include "hookrx/sqlite_store.hpp"
#endif

#ifndef HOOKRX_CRASH_RECEIVER
#error "HOOKRX_CRASH_RECEIVER (the crash_receiver executable) must be defined by the build"
#endif

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::string_view secret = "wh_sec_crash_tests";
constexpr std::string_view route = "/webhooks/perfectparser";
constexpr std::size_t deliveries = 300;
constexpr int kills = 5;
constexpr double max_window_fraction = 0.05;

// --- small helpers ------------------------------------------------------------------------------

std::string hmac_sha256_hex(std::string_view key, std::string_view body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  const unsigned char* out = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                  reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac.data(), &len);
  REQUIRE(out != nullptr);
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(digits[mac[i] >> 4U]);
    hex.push_back(digits[mac[i] & 0xFU]);
  }
  return hex;
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Appends one line with one write() on an O_APPEND descriptor, as crash_receiver does, so the
// driver's lines ("started", "killed") fall in order among the receivers'.
void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  const std::string text = line + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
  REQUIRE(n == static_cast<ssize_t>(text.size()));
}

struct temp_dir {
  std::filesystem::path dir;
  temp_dir() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("hookrx-crash-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    if (std::getenv("HOOKRX_CRASH_KEEP") != nullptr) return;  // keep the log and store for a post-mortem
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  [[nodiscard]] std::string path(const std::string& name) const { return (dir / name).string(); }
};

// --- the receivers' log -------------------------------------------------------------------------

struct log_line {
  std::string kind;  // begin, completed, failed, started, killed, stopped
  std::string key;   // begin, completed, failed
  long pid = 0;
  int attempt = 0;
  std::size_t index = 0;  // position in the log
};

log_line parse_line(const std::string& text, std::size_t index) {
  std::istringstream in(text);
  log_line l;
  l.index = index;
  in >> l.kind;
  if (l.kind == "begin" || l.kind == "completed" || l.kind == "failed") {
    in >> l.key >> l.pid >> l.attempt;
  } else {
    in >> l.pid;
  }
  return l;
}

std::vector<log_line> read_log(const std::string& path) {
  std::vector<log_line> out;
  std::istringstream in(read_whole(path));
  std::string text;
  while (std::getline(in, text)) {
    if (!text.empty()) out.push_back(parse_line(text, out.size()));
  }
  return out;
}

// Reads what has been appended to the log since the last call.
class log_tail {
 public:
  explicit log_tail(std::string path) : path_(std::move(path)) {}
  std::vector<log_line> next() {
    std::vector<log_line> out;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return out;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset_ += chunk.size();
    partial_ += chunk;
    std::size_t start = 0;
    for (std::size_t nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
      out.push_back(parse_line(partial_.substr(start, nl - start), 0));
      start = nl + 1;
    }
    partial_.erase(0, start);
    return out;
  }

 private:
  std::string path_;
  std::size_t offset_ = 0;
  std::string partial_;
};

// --- receiver processes -------------------------------------------------------------------------

class fleet {
 public:
  fleet(std::vector<std::string> args, std::string log, const temp_dir& dir, std::size_t size)
      : args_(std::move(args)), log_(std::move(log)), dir_(dir), slots_(size) {}
  fleet(const fleet&) = delete;
  fleet& operator=(const fleet&) = delete;
  ~fleet() {
    for (slot& s : slots_) {
      if (s.pid > 0) {
        ::kill(s.pid, SIGKILL);
        ::waitpid(s.pid, nullptr, 0);
      }
    }
  }

  [[nodiscard]] std::size_t size() const { return slots_.size(); }
  [[nodiscard]] bool alive(std::size_t i) const { return slots_[i].pid > 0; }
  [[nodiscard]] pid_t pid(std::size_t i) const { return slots_[i].pid; }
  [[nodiscard]] int port(std::size_t i) const { return slots_[i].port; }
  [[nodiscard]] const std::map<long, std::size_t>& started() const { return started_; }

  // fork + exec; returns once the new process has published its port (bounded wait).
  void start(std::size_t i) {
    REQUIRE_FALSE(alive(i));
    const std::string port_file = dir_.path("port." + std::to_string(i));
    std::filesystem::remove(port_file);
    std::vector<std::string> args = args_;
    args.insert(args.end(), {"--port-file", port_file});
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(HOOKRX_CRASH_RECEIVER));
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    slots_[i].pid = child;
    const auto deadline = steady::now() + 30s;
    while (true) {
      int status = 0;
      if (::waitpid(child, &status, WNOHANG) == child) {
        slots_[i].pid = -1;
        FAIL("crash_receiver exited before it served (status " << status << "); see its stderr above");
      }
      const std::string text = read_whole(port_file);
      if (!text.empty() && text.back() == '\n') {
        slots_[i].port = std::stoi(text);
        break;
      }
      REQUIRE_MESSAGE(steady::now() < deadline, "crash_receiver did not publish its port within 30 s");
      std::this_thread::sleep_for(2ms);  // polling interval, not a wait for readiness
    }
    started_[child] = i;
    append_line(log_, "started " + std::to_string(child) + " " + std::to_string(i));
  }

  // SIGKILL, reaped, then logged: any line the process wrote comes before its "killed" line.
  void kill_now(std::size_t i) {
    const pid_t p = slots_[i].pid;
    REQUIRE(p > 0);
    REQUIRE(::kill(p, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(p, &status, 0) == p);
    CHECK(WIFSIGNALED(status));
    slots_[i].pid = -1;
    append_line(log_, "killed " + std::to_string(p));
  }

  // SIGTERM: the receiver stops its server and inbox and exits 0 (bounded wait).
  void stop(std::size_t i) {
    const pid_t p = slots_[i].pid;
    REQUIRE(p > 0);
    REQUIRE(::kill(p, SIGTERM) == 0);
    const auto deadline = steady::now() + 20s;
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(p, &status, WNOHANG)) == 0 && steady::now() < deadline) std::this_thread::sleep_for(5ms);
    if (done != p) {
      ::kill(p, SIGKILL);
      ::waitpid(p, &status, 0);
      slots_[i].pid = -1;
      FAIL("crash_receiver " << p << " did not stop within 20 s of SIGTERM");
    }
    slots_[i].pid = -1;
    CHECK_MESSAGE(WIFEXITED(status), "crash_receiver " << p << " did not exit cleanly (status " << status << ")");
    if (WIFEXITED(status)) CHECK(WEXITSTATUS(status) == 0);
  }

 private:
  struct slot {
    pid_t pid = -1;
    int port = 0;
  };
  std::vector<std::string> args_;
  std::string log_;
  const temp_dir& dir_;
  std::vector<slot> slots_;
  std::map<long, std::size_t> started_;  // every pid ever started -> its slot
};

// --- the sender ---------------------------------------------------------------------------------

struct delivery {
  std::string doc_id;
  std::string body;
  std::string signature;
  std::string key;
  bool fails = false;
  bool acked = false;
  int queued_answers = 0;  // 202s seen
  int sends = 0;
};

std::vector<delivery> make_deliveries(std::mt19937_64& rng) {
  std::bernoulli_distribution fail(0.1);
  std::vector<delivery> out(deliveries);
  for (std::size_t i = 0; i < deliveries; ++i) {
    delivery& d = out[i];
    d.fails = i == 0 || fail(rng);  // at least one
    d.doc_id = (d.fails ? "doc_fail_" : "doc_") + std::to_string(i);
    d.body = R"({"event":"extraction.document_completed","extraction_id":"ext_crash","document_id":")" + d.doc_id +
             R"(","status":"completed"})";
    d.signature = hmac_sha256_hex(secret, d.body);
    const hookrx::result<hookrx::event> ev = hookrx::parse_event(hookrx::provider::perfectparser, d.body);
    REQUIRE(ev.has_value());
    d.key = ev->key();
  }
  return out;
}

// One POST; the HTTP status, or -1 when the transport failed (refused, reset, timed out).
int post(int port, const delivery& d) {
  httplib::Client client("127.0.0.1", port);
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  client.set_write_timeout(2, 0);
  const httplib::Headers headers = {{"X-PerfectParser-Signature", d.signature}};
  const httplib::Result res = client.Post(std::string(route).c_str(), headers, d.body, "application/json");
  return res ? res->status : -1;
}

// Where a kill lands: just after a send was answered; 0-20 ms later; inside a handler or the ack
// after it (the driver waits for a handler of the victim to begin); or while a request is in flight
// (the offer may be durable with its 2xx never sent).
enum class kill_mode { right_after_send, after_random_delay, inside_work, during_request };

struct run_stats {
  std::size_t sends = 0;
  std::size_t transport_failures = 0;
  std::size_t server_errors = 0;
  std::size_t duplicates_sent = 0;
  std::size_t answered_200 = 0;
  std::size_t answered_202 = 0;
  int kills_done = 0;
  int kills_while_busy = 0;
  int kills_during_request = 0;
};

// The store as seen by the driver, after the run.
std::vector<hookrx::inbox_entry> list_all(hookrx::inbox_store& store, hookrx::entry_state state) {
  std::vector<hookrx::inbox_entry> all;
  std::int64_t after = 0;
  while (true) {
    auto page = store.list(state, 200, after);
    REQUIRE_MESSAGE(page.has_value(), (page ? std::string() : page.error().message()));
    if (page->empty()) return all;
    after = page->back().id;
    for (auto& e : *page) all.push_back(std::move(e));
  }
}

std::uint64_t choose_seed() {
  if (const char* s = std::getenv("HOOKRX_CRASH_SEED")) return std::stoull(s);
  std::random_device rd;
  return (std::uint64_t{rd()} << 32U) ^ rd();
}

struct scenario {
  std::vector<std::string> receiver_args;  // without --port-file
  std::size_t receivers = 1;
  std::function<std::shared_ptr<hookrx::inbox_store>()> open_store;  // read side, for the checks
};

void run_crash_scenario(const temp_dir& dir, const scenario& sc, std::uint64_t seed) {
  std::signal(SIGPIPE, SIG_IGN);
  MESSAGE("seed " << seed << " (HOOKRX_CRASH_SEED=" << seed << " to replay the same choices)");
  std::mt19937_64 rng(seed);
  const std::string log = dir.path("receiver.log");
  const std::string effects = dir.path("effects");
  std::filesystem::create_directories(effects);
  std::vector<std::string> args = sc.receiver_args;
  args.insert(args.end(), {"--log", log, "--effects", effects, "--secret", std::string(secret)});

  std::vector<delivery> all = make_deliveries(rng);
  fleet receivers(args, log, dir, sc.receivers);
  for (std::size_t i = 0; i < receivers.size(); ++i) receivers.start(i);

  // Kill plan: after 10..60 sends each, in random modes, at least one inside a handler's work and
  // one during a request.
  std::uniform_int_distribution<std::size_t> gap(10, 60);
  std::vector<kill_mode> modes(kills);
  for (kill_mode& m : modes) m = static_cast<kill_mode>(std::uniform_int_distribution<int>(0, 3)(rng));
  std::vector<std::size_t> order(kills);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  modes[order[0]] = kill_mode::inside_work;
  modes[order[1]] = kill_mode::during_request;
  std::size_t next_kill = gap(rng);

  std::deque<std::size_t> pending(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) pending[i] = i;
  std::deque<std::size_t> duplicates;
  std::vector<std::size_t> restart_countdown(receivers.size(), 0);
  std::bernoulli_distribution make_duplicate(0.2);
  std::bernoulli_distribution send_duplicate_now(0.25);
  log_tail tail(log);
  run_stats st;
  const std::size_t max_sends = 30 * all.size();
  double answer_micros = 2000;  // moving average of how long a 2xx takes

  auto kill_and_plan = [&](std::size_t victim) {
    receivers.kill_now(victim);
    ++st.kills_done;
    restart_countdown[victim] = std::uniform_int_distribution<std::size_t>(0, 3)(rng);
    next_kill = st.sends + gap(rng);
  };

  while (!pending.empty() || !duplicates.empty()) {
    REQUIRE_MESSAGE(st.sends < max_sends, "the receivers keep refusing deliveries");
    // A killed receiver stays down for a few sends (which fail), then comes back.
    for (std::size_t i = 0; i < receivers.size(); ++i) {
      if (receivers.alive(i)) continue;
      if (restart_countdown[i] == 0) {
        receivers.start(i);
      } else {
        --restart_countdown[i];
      }
    }
    const bool dup = !duplicates.empty() && (pending.empty() || send_duplicate_now(rng));
    std::deque<std::size_t>& from = dup ? duplicates : pending;
    const std::size_t idx = from.front();
    from.pop_front();
    delivery& d = all[idx];
    const std::size_t target = st.sends % receivers.size();
    const bool kill_due = st.kills_done < kills && st.sends + 1 >= next_kill && receivers.alive(target);
    const kill_mode mode = kill_due ? modes[static_cast<std::size_t>(st.kills_done)] : kill_mode::right_after_send;

    int status = 0;
    if (kill_due && mode == kill_mode::during_request) {
      // The request runs on another thread; the kill lands while it is on the wire or being stored.
      const int port = receivers.port(target);
      std::future<int> answer = std::async(std::launch::async, [port, &d] { return post(port, d); });
      const auto within = static_cast<int>(0.8 * answer_micros);  // mostly before the answer comes
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, within)(rng)));
      const bool in_flight = answer.wait_for(0s) != std::future_status::ready;
      kill_and_plan(target);
      status = answer.get();
      if (in_flight) ++st.kills_during_request;
    } else {
      // A kill inside the work watches for the target's handler to begin: what was logged before
      // this send is not that. (Skipping it after the answer instead lost a handler that began
      // before the skip, on a loaded machine: CI's ASan run, kills_while_busy 0.)
      if (kill_due && mode == kill_mode::inside_work) (void)tail.next();
      const auto sent = steady::now();
      status = post(receivers.port(target), d);
      if (status >= 200 && status < 300) {
        const auto took = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - sent).count();
        answer_micros = 0.9 * answer_micros + 0.1 * static_cast<double>(took);
      }
    }
    ++st.sends;
    ++d.sends;
    if (dup) ++st.duplicates_sent;
    if (status >= 200 && status < 300) {
      if (status == 202) {
        ++d.queued_answers;
        ++st.answered_202;
      } else {
        ++st.answered_200;
      }
      if (!d.acked && !dup && make_duplicate(rng)) duplicates.push_back(idx);
      d.acked = true;
    } else {
      (status < 0 ? st.transport_failures : st.server_errors) += 1;
      from.push_back(idx);  // not acknowledged: the sender tries again later
    }

    if (!kill_due || mode == kill_mode::during_request) continue;
    if (mode == kill_mode::after_random_delay) {
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(rng)));
    } else if (mode == kill_mode::inside_work) {
      // Only after a delivery the target has just queued: its workers are about to run it. Wait
      // (bounded) for a handler of the target to begin, then kill 0-4 ms later: inside the handler
      // (1-3 ms) or in the ack that follows it.
      if (status != 202) continue;
      const auto victim_pid = static_cast<long>(receivers.pid(target));
      const auto deadline = steady::now() + 5s;
      bool busy = false;
      while (!busy && steady::now() < deadline) {
        for (const log_line& l : tail.next()) busy = busy || (l.kind == "begin" && l.pid == victim_pid);
        if (!busy) std::this_thread::sleep_for(100us);
      }
      if (busy) ++st.kills_while_busy;
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 4000)(rng)));
    }
    kill_and_plan(target);
  }
  CHECK(st.kills_done == kills);
  CHECK(st.kills_while_busy >= 1);

  // The last incarnations drain what is left: leases of killed processes expire (2 s), retries
  // of failing deliveries run out. Bounded polling on the store until nothing is queued or leased.
  for (std::size_t i = 0; i < receivers.size(); ++i) {
    if (!receivers.alive(i)) receivers.start(i);
  }
  const std::shared_ptr<hookrx::inbox_store> store = sc.open_store();
  const auto drain_deadline = steady::now() + 60s;
  while (true) {
    const auto queued = store->list(hookrx::entry_state::queued, 1);
    const auto leased = store->list(hookrx::entry_state::leased, 1);
    REQUIRE(queued.has_value());
    REQUIRE(leased.has_value());
    if (queued->empty() && leased->empty()) break;
    REQUIRE_MESSAGE(steady::now() < drain_deadline, "entries still queued or leased 60 s after the last send");
    std::this_thread::sleep_for(20ms);  // polling interval
  }
  for (std::size_t i = 0; i < receivers.size(); ++i) receivers.stop(i);

  // --- the checks ---------------------------------------------------------------------------------
  const std::vector<log_line> lines = read_log(log);
  std::map<long, std::size_t> killed_at;  // pid -> index of its "killed" line
  std::set<long> stopped;
  std::map<std::string, std::vector<const log_line*>> completed;
  std::map<std::string, std::vector<const log_line*>> failed;
  std::map<std::string, std::vector<const log_line*>> begun;
  for (const log_line& l : lines) {
    if (l.kind == "killed") killed_at[l.pid] = l.index;
    if (l.kind == "stopped") stopped.insert(l.pid);
    if (l.kind == "completed") completed[l.key].push_back(&l);
    if (l.kind == "failed") failed[l.key].push_back(&l);
    if (l.kind == "begin") begun[l.key].push_back(&l);
  }
  for (const auto& entry : receivers.started()) {
    // Named copies of the pair's parts: clang 14 cannot capture structured bindings in the
    // lambdas doctest's message macros make.
    const auto& pid = entry.first;
    const auto& slot = entry.second;
    CHECK_MESSAGE((killed_at.count(pid) + stopped.count(pid)) == 1,
                  "receiver " << pid << " (slot " << slot << ") was neither killed nor stopped cleanly");
  }

  std::map<std::string, const delivery*> by_key;
  for (const delivery& d : all) by_key[d.key] = &d;

  // (a) + (e)
  for (const delivery& d : all) {
    CHECK_MESSAGE(d.acked, d.doc_id << " was never acknowledged");
    CHECK_MESSAGE(d.queued_answers <= 1, d.key << " was answered 202 queued " << d.queued_answers << " times");
    if (d.fails) {
      CHECK_MESSAGE(completed.count(d.key) == 0, d.key << " always fails but completed");
    } else if (d.acked) {
      CHECK_MESSAGE(completed.count(d.key) == 1, "acknowledged " << d.key << " never reached a completed handler");
    }
  }

  // (b): completions after the first are re-runs across a SIGKILL only.
  std::size_t window_hits = 0;
  for (const auto& entry : completed) {
    // Named copies of the pair's parts: clang 14 cannot capture structured bindings in the
    // lambdas doctest's message macros make.
    const auto& key = entry.first;
    const auto& runs = entry.second;
    CHECK_MESSAGE(by_key.count(key) == 1, "a completion for an unknown key " << key);
    if (runs.size() > 1) ++window_hits;
    for (std::size_t i = 1; i < runs.size(); ++i) {
      const log_line& before = *runs[i - 1];
      const log_line& again = *runs[i];
      CHECK_MESSAGE(before.pid != again.pid, key << " completed twice in process " << again.pid << " (log lines "
                                                 << before.index + 1 << " and " << again.index + 1 << ", attempts "
                                                 << before.attempt << " and " << again.attempt << ")");
      const auto k = killed_at.find(before.pid);
      CHECK_MESSAGE((k != killed_at.end() && k->second < again.index),
                    key << " completed again in " << again.pid << " (log line " << again.index + 1
                        << ") though the process that completed it first, " << before.pid << " (line "
                        << before.index + 1 << "), was not killed before that");
      CHECK_MESSAGE(again.attempt > before.attempt, key << ": attempt numbers do not increase across re-runs");
    }
  }
  // Every handler that began ended, unless its process was killed.
  const std::vector<const log_line*> none;
  auto runs_of = [&none](const std::map<std::string, std::vector<const log_line*>>& m, const std::string& key) {
    const auto it = m.find(key);
    return it == m.end() ? none : it->second;
  };
  std::size_t killed_inside_handler = 0;
  for (const auto& entry : begun) {
    // Named copies of the pair's parts: clang 14 cannot capture structured bindings in the
    // lambdas doctest's message macros make.
    const auto& key = entry.first;
    const auto& starts = entry.second;
    const std::vector<const log_line*> ends_c = runs_of(completed, key);
    const std::vector<const log_line*> ends_f = runs_of(failed, key);
    for (const log_line* b : starts) {
      auto same_run = [b](const log_line* e) { return e->pid == b->pid && e->attempt == b->attempt; };
      const bool ended =
          std::any_of(ends_c.begin(), ends_c.end(), same_run) || std::any_of(ends_f.begin(), ends_f.end(), same_run);
      if (!ended) {
        ++killed_inside_handler;
        CHECK_MESSAGE(killed_at.count(b->pid) == 1,
                      key << " attempt " << b->attempt << " began in " << b->pid << " and never ended");
      }
    }
  }
  const std::size_t plain =
      static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [](const delivery& d) { return !d.fails; }));
  MESSAGE("sends " << st.sends << " (" << st.duplicates_sent << " duplicates), 202: " << st.answered_202
                   << ", 200: " << st.answered_200 << ", transport failures: " << st.transport_failures
                   << ", 5xx: " << st.server_errors << "; kills " << st.kills_done << " (" << st.kills_while_busy
                   << " while a handler ran, " << st.kills_during_request
                   << " during a request), handlers cut short by a kill: " << killed_inside_handler
                   << "; at-least-once window hits (keys completed twice across a kill): " << window_hits << " of "
                   << plain);
  CHECK_MESSAGE(static_cast<double>(window_hits) <= max_window_fraction * static_cast<double>(plain),
                window_hits << " keys completed twice: more than the kill window can explain");

  // (c) the dead letter: exactly the always-failing deliveries, with the handler's last error.
  std::set<std::string> dead_keys;
  for (const hookrx::inbox_entry& e : list_all(*store, hookrx::entry_state::dead)) {
    dead_keys.insert(e.record.key);
    const auto it = by_key.find(e.record.key);
    REQUIRE_MESSAGE(it != by_key.end(), "dead letter for an unknown key " << e.record.key);
    const delivery& d = *it->second;
    CHECK_MESSAGE(d.fails, "dead letter " << e.record.key << " is not a failing delivery: " << e.last_error);
    CHECK(e.attempts >= 3);
    const std::string expected = d.doc_id + " always fails (attempt " + std::to_string(e.attempts) + ")";
    CHECK_MESSAGE(e.last_error.find(expected) != std::string::npos,
                  e.record.key << ": last_error '" << e.last_error << "' is not the handler's '" << expected << "'");
    const std::vector<const log_line*> f = runs_of(failed, e.record.key);
    CHECK_MESSAGE(std::any_of(f.begin(), f.end(), [&](const log_line* l) { return l->attempt == e.attempts; }),
                  e.record.key << ": no handler failure logged for its final attempt " << e.attempts);
  }
  for (const delivery& d : all) {
    if (d.fails && d.acked) CHECK_MESSAGE(dead_keys.count(d.key) == 1, d.key << " is not in the dead letter");
  }

  // (d) nothing queued or leased; everything else done.
  CHECK(list_all(*store, hookrx::entry_state::queued).empty());
  CHECK(list_all(*store, hookrx::entry_state::leased).empty());
  std::set<std::string> done_keys;
  for (const hookrx::inbox_entry& e : list_all(*store, hookrx::entry_state::done)) done_keys.insert(e.record.key);
  for (const delivery& d : all) {
    if (!d.fails) CHECK_MESSAGE(done_keys.count(d.key) == 1, d.key << " is not done in the store");
  }
  CHECK(done_keys.size() + dead_keys.size() == all.size());

  // The side effects: one per completed key, upserted, nothing for the failing ones.
  // A temporary file is left only by a process killed between writing and renaming it.
  std::size_t effect_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(effects)) {
    const std::string name = entry.path().filename().string();
    if (const std::size_t tmp = name.find(".tmp."); tmp != std::string::npos) {
      const long writer = std::stol(name.substr(tmp + 5));
      CHECK_MESSAGE(killed_at.count(writer) == 1, "a side effect was left half-written by " << writer << ": " << name);
      continue;
    }
    ++effect_files;
  }
  CHECK(effect_files == completed.size());
  for (const auto& entry : completed) {
    const auto& key = entry.first;
    const auto it = by_key.find(key);
    if (it == by_key.end()) continue;
    CHECK(read_whole(effects + "/" + key) == it->second->doc_id);
  }
}

}  // namespace

TEST_SUITE("crash") {
#ifndef HOOKRX_CRASH_POSTGRES
  TEST_CASE("a SQLite receiver killed at random points loses no acknowledged delivery and completes no key twice") {
    temp_dir dir;
    const std::string db = dir.path("inbox.db");
    scenario sc;
    sc.receiver_args = {"--store", "sqlite:" + db};
    sc.receivers = 1;
    sc.open_store = [db]() -> std::shared_ptr<hookrx::inbox_store> {
      hookrx::sqlite_options so;
      so.path = db;
      auto store = hookrx::sqlite_store::open(so);
      REQUIRE_MESSAGE(store.has_value(), (store ? std::string() : store.error().message()));
      return *store;
    };
    run_crash_scenario(dir, sc, choose_seed());
  }
#else
  TEST_CASE(
      "two PostgreSQL receivers killed at random points lose no acknowledged delivery and complete no key twice") {
    const char* conninfo_file = std::getenv("HOOKRX_PG_CONNINFO_FILE");
    REQUIRE_MESSAGE(conninfo_file != nullptr, "HOOKRX_PG_CONNINFO_FILE is not set (ctest fixture postgres_server)");
    std::string conninfo = read_whole(conninfo_file);
    while (!conninfo.empty() && (conninfo.back() == '\n' || conninfo.back() == ' ')) conninfo.pop_back();
    REQUIRE_FALSE(conninfo.empty());
    temp_dir dir;
    const std::uint64_t seed = choose_seed();
    // A schema of this run's own: earlier runs' done keys must not turn deliveries into duplicates.
    const std::string schema = "crash_" + std::to_string(seed % 1000000007U) + "_" + std::to_string(::getpid());
    scenario sc;
    sc.receiver_args = {"--store", std::string("postgres:") + conninfo_file, "--pg-schema", schema};
    sc.receivers = 2;
    sc.open_store = [conninfo, schema]() -> std::shared_ptr<hookrx::inbox_store> {
      hookrx::postgres_options po;
      po.conninfo = conninfo;
      po.schema = schema;
      po.pool_size = 2;
      auto store = hookrx::postgres_store::open(po);
      REQUIRE_MESSAGE(store.has_value(), (store ? std::string() : store.error().message()));
      return *store;
    };
    run_crash_scenario(dir, sc, seed);
  }
#endif
}
