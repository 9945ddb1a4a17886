// Fuzzes the whole receive pipeline. Input: header lines ("Name: value\n") up to an empty line,
// then the body. The response must always be one of the statuses hookrx documents, with a body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "hookrx/receiver.hpp"

namespace {

const hookrx::receiver& shared_receiver() {
  static const hookrx::receiver rx = [] {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {"wh_sec_fuzz_0123456789abcdef", "wh_sec_fuzz_rotated"};
    creds.static_secrets = {"static-token-1"};
    hookrx::receiver_options options;
    options.max_body_bytes = 4096;
    auto r = hookrx::receiver::create(creds, options);
    if (!r) std::abort();
    return std::move(*r);
  }();
  return rx;
}

bool documented(int status) {
  switch (status) {
    case 200:
    case 202:
    case 400:
    case 401:
    case 403:
    case 409:
    case 413:
    case 415:
    case 500:
    case 503: return true;
    default: return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<hookrx::header_view> headers;
  while (!input.empty()) {
    const std::size_t eol = input.find('\n');
    const std::string_view line = input.substr(0, eol);
    input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  const hookrx::request_view request(input, headers.data(), headers.size(), "203.0.113.7");
  const hookrx::response res = shared_receiver().handle(request);
  if (!documented(res.status) || res.body.empty()) std::abort();
  return 0;
}
