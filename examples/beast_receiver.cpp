// examples/beast_receiver.cpp: a PerfectParser webhook endpoint on Boost.Beast (hookrx::beast).
//   HOOKRX_PP_SIGNING_SECRET=wh_sec_... ./beast_receiver      (POST http://127.0.0.1:8080/webhooks/perfectparser)
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "hookrx/beast.hpp"
#include "hookrx/hookrx.hpp"

int main() {
  auto fail = [](const std::string& why) {
    std::cerr << why << '\n';
    return 1;
  };
  const char* secret = std::getenv("HOOKRX_PP_SIGNING_SECRET");
  if (secret == nullptr) return fail("set HOOKRX_PP_SIGNING_SECRET");
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {secret};
  auto rx = hookrx::receiver::create(creds);
  if (!rx) return fail(rx.error().message());
  rx->on<hookrx::document_completed>([](const hookrx::document_completed& doc, const hookrx::delivery_context& ctx) {
    std::cerr << ctx.key() << ": " << doc.status << '\n';  // your idempotent business logic
  });

  sigset_t stop;  // blocked before the server's threads start, so they inherit the mask
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  hookrx::beast_adapter::listener::options where{"127.0.0.1", 8080, 4};
  auto server = hookrx::beast_adapter::listener::start(*rx, "/webhooks/perfectparser", where);
  if (!server) return fail(server.error().message());
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  (*server)->stop();
}
