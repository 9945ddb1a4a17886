// Builds against the installed hookrx with nothing but its own headers (no OpenSSL, no simdjson)
// and checks that an unsigned request is refused.
#include <hookrx/hookrx.hpp>

#include <iostream>

int main() {
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = {"wh_sec_consumer_check_0123456789"};
  auto rx = hookrx::receiver::create(creds);
  if (!rx) {
    std::cerr << "consumer: create failed: " << rx.error().message() << '\n';
    return 1;
  }
  int handled = 0;
  rx->on<hookrx::document_completed>([&](const hookrx::document_completed&) { ++handled; });

  const hookrx::request_view bare;
  const hookrx::result<hookrx::disposition> outcome = rx->receive(bare);
  if (outcome || outcome.error().code() != hookrx::errc::missing_signature) {
    std::cerr << "consumer: expected missing_signature\n";
    return 1;
  }
  const hookrx::response res = rx->handle(bare);
  if (res.status != 401 || handled != 0) {
    std::cerr << "consumer: expected 401, got " << res.status << '\n';
    return 1;
  }
  std::cout << "consumer: ok\n";
  return 0;
}
