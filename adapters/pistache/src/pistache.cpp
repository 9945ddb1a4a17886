// Pistache adapter: gathers Pistache's typed and raw headers into views for the core.
#include "hookrx/pistache.hpp"

#include <cstddef>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapter_support.hpp"

namespace hookrx {
namespace pistache_adapter {
namespace {

namespace http = Pistache::Http;

// A streambuf that appends to a std::string: typed headers only offer write(std::ostream&).
class append_buffer final : public std::streambuf {
 public:
  explicit append_buffer(std::string& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }

 private:
  std::string& out_;
};

// Per-thread storage for the header values Pistache only hands out by copy; reused across
// requests, so it stops allocating once it has grown to the usual request's size.
struct scratch {
  struct span {
    std::string_view name;
    std::size_t offset;
    std::size_t size;
  };
  std::string values;
  std::vector<span> spans;
  append_buffer buffer{values};
  std::ostream stream{&buffer};

  static scratch& for_this_thread() {
    thread_local scratch s;
    return s;
  }
};

const http::Mime::MediaType& json_type() {
  static const http::Mime::MediaType type(http::Mime::Type::Application, http::Mime::Subtype::Json);
  return type;
}

class webhook_handler final : public http::Handler {
 public:
  HTTP_PROTOTYPE(webhook_handler)

  webhook_handler(const receiver& rx, std::string path) : rx_(&rx), path_(std::move(path)) {}

  void onRequest(const http::Request& request, http::ResponseWriter response) override {
    if (request.resource() != path_) {
      response.send(http::Code::Not_Found);
    } else if (request.method() != http::Method::Post) {
      response.headers().add<http::Header::Allow>(http::Method::Post);
      response.send(http::Code::Method_Not_Allowed);
    } else {
      handle(*rx_, request, response);
    }
  }

 private:
  const receiver* rx_;
  std::string path_;
};

}  // namespace

http::Endpoint::Options options(const receiver& rx, http::Endpoint::Options base) {
  base.maxRequestSize(rx.options().max_body_bytes + header_allowance);
  return base;
}

http::Endpoint::Options options(const receiver& rx) { return options(rx, http::Endpoint::options()); }

void handle(const receiver& rx, const http::Request& request, http::ResponseWriter& response) {
  scratch& s = scratch::for_this_thread();
  s.values.clear();
  s.spans.clear();

  // Headers Pistache knows (Content-Encoding, Content-Type, Authorization, ...) are parsed into
  // typed objects and no longer listed raw: write them back as text.
  for (const auto& typed : request.headers().list()) {
    const std::size_t offset = s.values.size();
    typed->write(s.stream);
    s.spans.push_back({typed->name(), offset, s.values.size() - offset});
  }
  for (const auto& [name, raw] : request.headers().rawList()) {
    const std::size_t offset = s.values.size();
    s.values += raw.value();
    s.spans.push_back({name, offset, s.values.size() - offset});
  }
  // Views are taken only now: `values` no longer grows.
  adapter_detail::header_list headers;
  for (const scratch::span& sp : s.spans) headers.push(sp.name, std::string_view(s.values).substr(sp.offset, sp.size));

  std::string peer = request.address().host();
  std::string_view peer_view = peer;
  if (peer_view.size() > 2 && peer_view.front() == '[' && peer_view.back() == ']') {
    peer_view = peer_view.substr(1, peer_view.size() - 2);  // IPv6 without the URL brackets
  }

  hookrx::response out = rx.handle(headers.view(request.body(), peer_view));
  response.send(static_cast<http::Code>(out.status), out.body.data(), out.body.size(), json_type());
}

std::shared_ptr<http::Handler> make_handler(const receiver& rx, std::string path) {
  return http::make_handler<webhook_handler>(rx, std::move(path));
}

}  // namespace pistache_adapter

void mount(Pistache::Rest::Router& router, const std::string& path, const receiver& rx) {
  router.post(path, [r = &rx](const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter response) {
    pistache_adapter::handle(*r, request, response);
    return Pistache::Rest::Route::Result::Ok;
  });
}

}  // namespace hookrx
