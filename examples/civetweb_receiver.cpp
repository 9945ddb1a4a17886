// examples/civetweb_receiver.cpp: a PerfectParser webhook endpoint on CivetWeb (hookrx::civetweb).
//   HOOKRX_PP_SIGNING_SECRET=wh_sec_... ./civetweb_receiver   (POST http://127.0.0.1:8080/webhooks/perfectparser)
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "hookrx/civetweb.hpp"
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

  mg_init_library(0);
  const char* options[] = {
      "listening_ports", "127.0.0.1:8080", "enable_keep_alive", "yes", "num_threads", "8", nullptr};
  mg_context* ctx = mg_start(nullptr, nullptr, options);
  if (ctx == nullptr) return fail("cannot listen on 127.0.0.1:8080");
  hookrx::mount(ctx, "/webhooks/perfectparser", *rx);
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  mg_stop(ctx);
  mg_exit_library();
}
