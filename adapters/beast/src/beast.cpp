// Boost.Beast adapter: request translation, and a small asynchronous listener built on it.
#include "hookrx/beast.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "adapter_support.hpp"

namespace hookrx::beast_adapter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string_view to_std(beast::string_view s) noexcept { return {s.data(), s.size()}; }
beast::string_view to_beast(std::string_view s) noexcept { return {s.data(), s.size()}; }

void collect_headers(const request& req, adapter_detail::header_list& headers) {
  for (const auto& field : req) headers.push(to_std(field.name_string()), to_std(field.value()));
}

response to_beast_response(hookrx::response&& out, unsigned version, bool keep_alive) {
  response res;
  res.version(version);
  res.result(static_cast<unsigned>(out.status));
  res.set(http::field::content_type, to_beast(hookrx::response::content_type));
  res.keep_alive(keep_alive);
  res.body() = std::move(out.body);
  res.prepare_payload();
  return res;
}

}  // namespace

void limit(request_parser& parser, const receiver& rx) {
  parser.body_limit(static_cast<std::uint64_t>(rx.options().max_body_bytes));
}

response handle(const receiver& rx, const request& req, std::string_view peer) {
  adapter_detail::header_list headers;
  collect_headers(req, headers);
  std::string_view body(req.body());
  return to_beast_response(rx.handle(headers.view(body, peer)), req.version(), req.keep_alive());
}

response refuse_too_large(const receiver& rx, const request& head, std::string_view peer) {
  adapter_detail::header_list headers;
  collect_headers(head, headers);
  return to_beast_response(adapter_detail::refuse(rx, headers.view({}, peer), errc::body_too_large), head.version(),
                           false);
}

// ---------------------------------------------------------------------------------------------
// listener

struct listener::impl {
  impl(const receiver& r, std::string p, options o) : rx(r), path(std::move(p)), opts(std::move(o)) {}

  void do_accept();

  const receiver& rx;
  std::string path;
  options opts;
  asio::io_context io;  // declared before the acceptor, which must be destroyed first
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<bool> stopped{false};
  std::uint16_t port = 0;
};

namespace {

// The direct peer's address as text, without port; an IPv4-mapped IPv6 peer as IPv4.
class peer_text {
 public:
  explicit peer_text(const tcp::endpoint& ep) noexcept {
    asio::ip::address a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    const char* ok = nullptr;
    if (a.is_v4()) {
      const auto bytes = a.to_v4().to_bytes();
      ok = inet_ntop(AF_INET, bytes.data(), text_.data(), static_cast<socklen_t>(text_.size()));
    } else {
      const auto bytes = a.to_v6().to_bytes();
      ok = inet_ntop(AF_INET6, bytes.data(), text_.data(), static_cast<socklen_t>(text_.size()));
    }
    size_ = ok != nullptr ? std::char_traits<char>::length(text_.data()) : 0;
  }
  [[nodiscard]] std::string_view view() const noexcept { return {text_.data(), size_}; }

 private:
  std::array<char, INET6_ADDRSTRLEN> text_{};
  std::size_t size_ = 0;
};

std::string_view path_of(std::string_view target) noexcept { return target.substr(0, target.find('?')); }

response plain_status(http::status status, unsigned version, bool keep_alive) {
  response res{status, version};
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Each connection's operations run on its own strand. The concrete executor type matters: with
// beast::tcp_stream (a type-erased any_io_executor) every operation re-wraps the strand on the heap.
using connection_executor = asio::strand<asio::io_context::executor_type>;
using stream_type = beast::basic_stream<tcp, connection_executor>;
using socket_type = stream_type::socket_type;

// Memory for the handlers of one connection's asynchronous operations. Asio 1.74 recycles one
// block per thread, while Beast's read and write operations nest several: without this, every
// request would allocate about a dozen times inside Asio. Slots are claimed atomically: a
// connection's timer and socket operations may complete on different threads.
class handler_memory {
 public:
  void* allocate(std::size_t size) {
    if (size <= slot_size) {
      for (slot& s : slots_) {
        bool expected = false;
        if (s.in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) return s.storage;
      }
    }
    return ::operator new(size);
  }
  void deallocate(void* p) noexcept {
    for (slot& s : slots_) {
      if (p == static_cast<void*>(s.storage)) {
        s.in_use.store(false, std::memory_order_release);
        return;
      }
    }
    ::operator delete(p);
  }

 private:
  static constexpr std::size_t slot_size = 512;
  struct slot {
    alignas(std::max_align_t) unsigned char storage[slot_size];
    std::atomic<bool> in_use{false};
  };
  std::array<slot, 6> slots_;
};

template <class T>
class handler_allocator {
 public:
  using value_type = T;
  explicit handler_allocator(handler_memory& m) noexcept : memory_(&m) {}
  template <class U>
  handler_allocator(const handler_allocator<U>& other) noexcept : memory_(other.memory_) {}
  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t /*n*/) noexcept { memory_->deallocate(p); }
  template <class U>
  bool operator==(const handler_allocator<U>& other) const noexcept {
    return memory_ == other.memory_;
  }
  template <class U>
  bool operator!=(const handler_allocator<U>& other) const noexcept {
    return memory_ != other.memory_;
  }

 private:
  template <class U>
  friend class handler_allocator;
  handler_memory* memory_;
};

// A completion handler whose operations allocate from a connection's handler_memory.
template <class Handler>
class with_memory {
 public:
  using allocator_type = handler_allocator<Handler>;
  with_memory(handler_memory& m, Handler h) : memory_(&m), handler_(std::move(h)) {}
  [[nodiscard]] allocator_type get_allocator() const noexcept { return allocator_type(*memory_); }
  template <class... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  handler_memory* memory_;
  Handler handler_;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(socket_type&& socket, listener::impl& owner)
      : stream_(std::move(socket)), owner_(owner), peer_(remote_endpoint(stream_.socket())) {}

  void run() {
    // Start on the connection's strand: every handler of one session runs serialised.
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

 private:
  static tcp::endpoint remote_endpoint(const socket_type& socket) {
    error_code ec;
    tcp::endpoint ep = socket.remote_endpoint(ec);
    return ec ? tcp::endpoint{} : ep;
  }

  template <class Member>
  auto bound(Member member) {
    return with_memory(memory_, beast::bind_front_handler(member, shared_from_this()));
  }

  void do_read() {
    parser_.emplace();  // a fresh parser per request: limits apply per message
    limit(*parser_, owner_.rx);
    stream_.expires_after(owner_.opts.idle_timeout);
    // The header first: a declared body over the cap fails here (body_limit) before any of it is
    // read, and a sender that waits for "100 Continue" is told to go on.
    http::async_read_header(stream_, buffer_, *parser_, bound(&session::on_header));
  }

  void on_header(error_code ec, std::size_t /*bytes*/) {
    if (ec) return on_read(ec, 0);
    const request& head = parser_->get();
    if (head.version() >= 11 && beast::iequals(head[http::field::expect], "100-continue") && !parser_->is_done()) {
      continue_ = response{http::status::continue_, head.version()};
      return http::async_write(stream_, continue_, bound(&session::on_continue));
    }
    read_body();
  }

  void on_continue(error_code ec, std::size_t /*bytes*/) {
    if (ec) return do_close();
    read_body();
  }

  void read_body() { http::async_read(stream_, buffer_, *parser_, bound(&session::on_read)); }

  void on_read(error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::body_limit) {
      response_ = refuse_too_large(owner_.rx, parser_->get(), peer_.view());
      return do_write();
    }
    if (ec) return do_close();  // end_of_stream, timeout, reset, or a request Beast cannot parse

    const request& req = parser_->get();
    if (path_of(to_std(req.target())) != owner_.path) {
      response_ = plain_status(http::status::not_found, req.version(), req.keep_alive());
    } else if (req.method() != http::verb::post) {
      response_ = plain_status(http::status::method_not_allowed, req.version(), req.keep_alive());
      response_.set(http::field::allow, "POST");
    } else {
      response_ = handle(owner_.rx, req, peer_.view());
    }
    do_write();
  }

  void do_write() { http::async_write(stream_, response_, bound(&session::on_write)); }

  void on_write(error_code ec, std::size_t /*bytes*/) {
    if (ec || !response_.keep_alive()) return do_close();
    do_read();
  }

  void do_close() {
    error_code ignored;
    stream_.socket().shutdown(socket_type::shutdown_send, ignored);
  }

  handler_memory memory_;  // outlives stream_'s operations: declared first, destroyed last
  stream_type stream_;
  listener::impl& owner_;
  peer_text peer_;
  beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  response continue_;  // the interim "100 Continue", kept alive while it is written
  response response_;
};

}  // namespace

void listener::impl::do_accept() {
  acceptor.async_accept(asio::make_strand(io), [this](error_code ec, socket_type socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      accepted.fetch_add(1, std::memory_order_relaxed);
      std::make_shared<session>(std::move(socket), *this)->run();
    }
    do_accept();
  });
}

listener::listener(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}

listener::~listener() { stop(); }

result<std::unique_ptr<listener>> listener::start(const receiver& rx, std::string path, options opts) {
  auto p = std::make_unique<impl>(rx, std::move(path), std::move(opts));
  const std::string where = p->opts.address + ":" + std::to_string(p->opts.port);
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(p->opts.address, ec);
  if (ec) return error(errc::invalid_config, "listener address " + where + ": " + ec.message());
  const tcp::endpoint endpoint(address, p->opts.port);
  p->acceptor.open(endpoint.protocol(), ec);
  if (!ec) p->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) p->acceptor.bind(endpoint, ec);
  if (!ec) p->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return error(errc::invalid_config, "listener " + where + ": " + ec.message());
  p->port = p->acceptor.local_endpoint(ec).port();
  p->do_accept();

  std::unique_ptr<listener> l(new listener(std::move(p)));
  const int threads = l->impl_->opts.threads > 0 ? l->impl_->opts.threads : 1;
  try {
    for (int i = 0; i < threads; ++i) {
      l->impl_->threads.emplace_back([i = l->impl_.get()] {
        for (;;) {
          try {
            i->io.run();
            return;
          } catch (const std::exception&) {
            // A handler threw (allocation failure): drop that connection, keep serving.
          }
        }
      });
    }
  } catch (const std::system_error& e) {
    return error(errc::invalid_config, std::string("listener threads: ") + e.what());
  }
  return l;
}

std::uint16_t listener::port() const noexcept { return impl_->port; }

std::uint64_t listener::connections_accepted() const noexcept {
  return impl_->accepted.load(std::memory_order_relaxed);
}

void listener::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  // Requests in progress are not answered: their senders retry.
  impl_->io.stop();
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace hookrx::beast_adapter
