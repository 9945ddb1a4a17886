// The Boost.Beast adapter's request translation on raw HTTP bytes: the bytes go to a Beast
// request_parser limited by the receiver's cap (as the listener sets it), no socket involved; a
// complete request goes through hookrx::beast_adapter::handle(), a body over the cap through
// refuse_too_large(). Properties: the answer has a documented status and a body, keeps the
// request's HTTP version, and, after a refused body, says Connection: close.
// Input: the bytes of one HTTP/1.x request (fed in chunks of the sizes the first byte selects, as
// a socket delivers them), e.g. "POST /h HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}".
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "fuzz_support.hpp"
#include "hookrx/beast.hpp"

namespace {

using hookrx_fuzz::require;
namespace http = boost::beast::http;

const hookrx::receiver& shared_receiver() {
  static const hookrx::receiver rx = [] {
    hookrx::perfectparser_credentials creds;
    creds.signing_secrets = {"wh_sec_fuzz_0123456789abcdef"};
    hookrx::receiver_options options;
    options.max_body_bytes = 2048;
    auto r = hookrx::receiver::create(creds, options);
    require(r.has_value(), "the fuzz receiver's configuration is valid");
    return std::move(*r);
  }();
  return rx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = std::size_t{1} + data[0] % 64;  // 1..64 bytes per read
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  const hookrx::receiver& rx = shared_receiver();
  hookrx::beast_adapter::request_parser parser;
  parser.header_limit(8192);
  hookrx::beast_adapter::limit(parser, rx);
  boost::beast::error_code ec;
  // Beast's parser takes what it can of each buffer (it may need more to finish a line): the
  // unconsumed bytes are offered again with the next chunk, as a read loop does.
  std::size_t consumed = 0;
  std::size_t available = 0;
  while (!parser.is_done()) {
    available = std::min(bytes.size(), available + chunk);
    const std::size_t n = parser.put(boost::asio::buffer(bytes.data() + consumed, available - consumed), ec);
    consumed += n;
    if (ec == http::error::need_more) {
      ec = {};
      if (available == bytes.size()) {
        // The peer closed. As Beast's own read does: no bytes of a message yet is end_of_stream
        // (put_eof() asserts got_some()); otherwise EOF ends a body read until EOF, or is an error.
        if (!parser.got_some()) return 0;
        parser.put_eof(ec);
        break;
      }
      continue;
    }
    if (ec || (n == 0 && available == bytes.size())) break;
  }

  if (ec == http::error::body_limit) {
    const auto res = hookrx::beast_adapter::refuse_too_large(rx, parser.get(), "203.0.113.7");
    require(res.result_int() == 413 && !res.body().empty(), "a body over the cap is refused with 413");
    require(!res.keep_alive(), "a refused body closes the connection");
    return 0;
  }
  if (ec || !parser.is_done()) return 0;  // not a complete request: Beast refuses it, the core never sees it

  const auto& req = parser.get();
  const auto res = hookrx::beast_adapter::handle(rx, req, "203.0.113.7");
  require(hookrx_fuzz::documented_status(static_cast<int>(res.result_int())) && !res.body().empty(),
          "a documented status with a body");
  require(res.version() == req.version(), "the answer keeps the request's HTTP version");
  return 0;
}
