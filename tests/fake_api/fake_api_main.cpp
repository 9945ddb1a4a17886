// hookrx_fake_api: the fake PerfectParser + Parashift API as a process, for end-to-end tests of the
// hookrx binary. Prints the port it listens on (one line on stdout), then serves until SIGINT or
// SIGTERM.
//
//   hookrx_fake_api --port 0 --generate 50 --documents 4 --fraction-429 0.05 --seed 7
//
// Control calls (not counted, not rate-limited):
//   GET  /_fake/stats            {"requests", "by_endpoint", "by_status", "max_in_60s", "credits", ...}
//   GET  /_fake/requests         every request: method, path, endpoint, query, at, status
//   POST /_fake/dataset          {"extractions": [...], "parashift_documents": [...]} (as --data)
//   POST /_fake/faults           {"fraction_429", "fraction_5xx", "fraction_drop", "fraction_slow", "slow_ms", "seed",
//   "reset_after_s"} POST /_fake/script           {"times", "path_prefix", "status", "vendor_code", "reset_unix",
//   "delay_ms", "body"} POST /_fake/document_status  {"extraction_id", "document_id", "status", "updated_at"} POST
//   /_fake/reset_requests
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "fake_api.hpp"
#include "hookrx/api.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: hookrx_fake_api [--host 127.0.0.1] [--port 0] [--api-key KEY] [--parashift-token TOKEN]\n"
         "         [--data FILE.json] [--generate N] [--documents M] [--parashift N]\n"
         "         [--limit 150] [--submit-limit 20] [--window-seconds 60] [--credits 1000]\n"
         "         [--clock-offset-seconds S] [--fraction-429 F] [--fraction-5xx F] [--fraction-drop F]\n"
         "         [--fraction-slow F] [--slow-ms MS] [--fault-reset-seconds 1] [--seed N] [--threads 16]\n"
         "The key and token can also come from HOOKRX_FAKE_API_KEY / HOOKRX_FAKE_PARASHIFT_TOKEN.\n";
}

bool to_number(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end != nullptr && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  hookrx::testing::fake_api_options o;
  if (const char* k = std::getenv("HOOKRX_FAKE_API_KEY")) o.api_key = k;
  if (const char* t = std::getenv("HOOKRX_FAKE_PARASHIFT_TOKEN")) o.parashift_token = t;
  std::string data_file;
  int generate = 0;
  int documents = 3;
  int parashift = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage(std::cout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "hookrx_fake_api: " << flag << " needs a value\n";
      usage(std::cerr);
      return 2;
    }
    const std::string value = argv[++i];
    double n = 0;
    const bool numeric = to_number(value, n);
    const auto need_number = [&]() {
      if (!numeric) std::cerr << "hookrx_fake_api: " << flag << " expects a number, got '" << value << "'\n";
      return numeric;
    };
    if (flag == "--host") {
      o.host = value;
    } else if (flag == "--api-key") {
      o.api_key = value;
    } else if (flag == "--parashift-token") {
      o.parashift_token = value;
    } else if (flag == "--data") {
      data_file = value;
    } else if (!need_number()) {
      return 2;
    } else if (flag == "--port") {
      o.port = static_cast<int>(n);
    } else if (flag == "--generate") {
      generate = static_cast<int>(n);
    } else if (flag == "--documents") {
      documents = static_cast<int>(n);
    } else if (flag == "--parashift") {
      parashift = static_cast<int>(n);
    } else if (flag == "--limit") {
      o.limit_per_window = static_cast<int>(n);
    } else if (flag == "--submit-limit") {
      o.submit_limit_per_window = static_cast<int>(n);
    } else if (flag == "--window-seconds") {
      o.window = std::chrono::seconds(static_cast<long>(n));
    } else if (flag == "--credits") {
      o.credits = static_cast<std::int64_t>(n);
    } else if (flag == "--clock-offset-seconds") {
      o.clock_offset = std::chrono::seconds(static_cast<long>(n));
    } else if (flag == "--fraction-429") {
      o.faults.fraction_429 = n;
    } else if (flag == "--fraction-5xx") {
      o.faults.fraction_5xx = n;
    } else if (flag == "--fraction-drop") {
      o.faults.fraction_drop = n;
    } else if (flag == "--fraction-slow") {
      o.faults.fraction_slow = n;
    } else if (flag == "--slow-ms") {
      o.faults.slow = std::chrono::milliseconds(static_cast<long>(n));
    } else if (flag == "--fault-reset-seconds") {
      o.faults.reset_after = std::chrono::seconds(static_cast<long>(n));
    } else if (flag == "--seed") {
      o.faults.seed = static_cast<std::uint64_t>(n);
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(n);
    } else {
      std::cerr << "hookrx_fake_api: unknown flag " << flag << '\n';
      usage(std::cerr);
      return 2;
    }
  }
  if (o.host != "127.0.0.1" && o.host != "::1" && o.host != "localhost") {
    std::cerr << "hookrx_fake_api: --host must be a loopback address\n";
    return 2;
  }

  // Signals are taken by sigwait below, not by whichever server thread they would land on.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto api = hookrx::testing::fake_api::start(o);
  if (!api) {
    std::cerr << "hookrx_fake_api: cannot listen on " << o.host << ':' << o.port << '\n';
    return 1;
  }
  if (!data_file.empty()) {
    std::ifstream in(data_file);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    if (!in || !api->load_json(text.str(), error)) {
      std::cerr << "hookrx_fake_api: --data " << data_file << ": " << (in ? error : "cannot read") << '\n';
      return 2;
    }
  }
  const auto base = std::chrono::system_clock::now() - std::chrono::hours(1);
  for (int i = 0; i < generate; ++i) {
    api->put_extraction(hookrx::testing::make_extraction("ext_" + std::to_string(i), documents, "completed",
                                                         hookrx::to_iso8601(base + std::chrono::seconds(i))));
  }
  for (int i = 0; i < parashift; ++i) {
    hookrx::testing::fake_parashift_document d;
    d.id = std::to_string(100000 + i);
    d.updated_at = hookrx::to_iso8601(base + std::chrono::seconds(i));
    d.created_at = d.updated_at;
    api->put_parashift_document(std::move(d));
  }
  std::cout << api->port() << std::endl;  // flushed: the parent reads it to connect

  int sig = 0;
  sigwait(&signals, &sig);
  return 0;
}
