#include "toolbox_serve.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace hookrx_test {
namespace {

bool accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

serve_fixture::serve_fixture(const std::vector<std::string>& extra, const std::string& tag)
    : dir(make_temp_dir(tag)), port(free_port()) {
  env = {{"HOOKRX_PP_SIGNING_SECRETS", "wh_sec_toolbox_test_1,wh_sec_toolbox_test_0"},
         {"HOOKRX_PARASHIFT_TOKENS", "ps_token_toolbox_test"}};
  std::vector<std::string> argv = {HOOKRX_BINARY,     "serve", "--listen",    "127.0.0.1:" + std::to_string(port),
                                   "--store",         store(), "--jsonl",     jsonl_path(),
                                   "--retry-initial", "0.05",  "--retry-max", "0.1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  process = std::make_unique<background>(argv, env, dir + "/serve.log");
  const bool up = eventually([this] { return !process->running() || accepts(port); });
  if (!up || !process->running()) {
    const std::string log = process->log();
    process.reset();
    remove_tree(dir);
    throw std::runtime_error("hookrx serve did not start: " + log);
  }
}

serve_fixture::~serve_fixture() {
  process.reset();  // SIGTERM, wait
  remove_tree(dir);
}

std::string serve_fixture::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

std::vector<std::string> serve_fixture::jsonl_lines() const {
  std::ifstream in(jsonl_path());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace hookrx_test
