// The hookrx_fake_api executable, as the binary's end-to-end tests start it.
#include <doctest/doctest.h>

#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "hookrx/api.hpp"

extern char** environ;

TEST_SUITE("fake api process") {
  TEST_CASE("the executable prints its port, serves the API and its counts, and stops on SIGTERM") {
    int out[2];
    REQUIRE(pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::string exe = HOOKRX_FAKE_API_EXE;
    std::vector<std::string> args = {exe, "--port", "0", "--generate", "120", "--documents", "2", "--parashift", "1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    std::string line;
    char c = 0;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const int port = std::atoi(line.c_str());
    REQUIRE(port > 0);

    hookrx::perfectparser_client_options o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port);
    o.api_key = "pp_test_0123456789";
    o.budget = hookrx::rate_budget::create({});
    auto pp = hookrx::perfectparser_client::create(o);
    REQUIRE(pp);
    auto all = pp->list_extractions({});
    REQUIRE(all);
    CHECK(all->size() == 120);
    REQUIRE(pp->get_document("ext_7", "ext_7_doc_1"));

    httplib::Client control("127.0.0.1", port);
    auto stats = control.Get("/_fake/stats");
    REQUIRE(stats);
    CHECK(stats->body.find(R"("list_extractions":2)") != std::string::npos);
    CHECK(stats->body.find(R"("get_document":1)") != std::string::npos);
    auto faults = control.Post("/_fake/script", R"({"times":1,"status":503})", "application/json");
    REQUIRE(faults);
    CHECK(faults->status == 200);
    REQUIRE(pp->me());
    CHECK(control.Get("/_fake/stats")->body.find(R"("503":1)") != std::string::npos);

    REQUIRE(kill(pid, SIGTERM) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  TEST_CASE("the executable refuses a bad flag with a message naming it") {
    const std::string cmd = std::string(HOOKRX_FAKE_API_EXE) + " --limit many 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string text;
    char buf[256];
    while (fgets(buf, sizeof buf, p) != nullptr) text += buf;
    const int rc = pclose(p);
    CHECK(WEXITSTATUS(rc) == 2);
    CHECK(text.find("--limit") != std::string::npos);
  }
}
