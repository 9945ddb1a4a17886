// Boost.Beast adapter: request translation, and a small asynchronous listener built on it.
#include "hookrx/beast.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
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
  impl(std::vector<route> r, options o)
      : routes(std::move(r)), opts(std::move(o)), io(opts.threads > 1 ? BOOST_ASIO_CONCURRENCY_HINT_DEFAULT : 1) {}

  // What a live connection offers the listener when it drains.
  struct tracked {
    virtual ~tracked() = default;
    virtual void drain() = 0;
  };

  void do_accept();
  void track(tracked* key, std::weak_ptr<tracked> s) {
    const std::lock_guard<std::mutex> lock(sessions_mutex);
    sessions.emplace(key, std::move(s));
  }
  void untrack(tracked* key) {
    const std::lock_guard<std::mutex> lock(sessions_mutex);
    sessions.erase(key);
    if (sessions.empty()) sessions_gone.notify_all();
  }
  void answered(std::string_view path, int status) const {
    if (opts.on_answer) opts.on_answer(path, status);
  }

  std::vector<route> routes;
  options opts;
  // The live sessions. Declared before `io`, so destroyed after it: destroying `io` destroys the
  // operations still pending, and with them sessions that unregister here.
  std::mutex sessions_mutex;
  std::condition_variable sessions_gone;
  std::unordered_map<tracked*, std::weak_ptr<tracked>> sessions;
  asio::io_context io;  // declared before the acceptor, which must be destroyed first
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<bool> stopped{false};
  std::atomic<bool> draining{false};
  std::uint16_t port = 0;
  std::uint64_t largest_cap = 0;  // the largest body any route accepts
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

// With several I/O threads each connection's operations run on its own strand; with one, on the
// io_context itself: every handler runs on that thread anyway, and a strand only costs (perf,
// memory store, one thread: its lock, its shared state's reference counts and executor copies
// took 6 % of the samples). The concrete executor types matter: with beast::tcp_stream (a
// type-erased any_io_executor) every operation re-wraps the executor on the heap.
using strand_executor = asio::strand<asio::io_context::executor_type>;
using thread_executor = asio::io_context::executor_type;

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

// Where a request goes, decided once from its header.
struct routing {
  const route* to = nullptr;  // null: answered with `status` without reading the body
  http::status status = http::status::ok;
  std::string_view allow;  // for 405
};

routing select_route(const std::vector<route>& routes, http::verb method, std::string_view target) {
  const std::string_view path = path_of(target);
  for (const route& r : routes) {
    if (r.path != path) continue;
    if (r.rx != nullptr) {
      if (method == http::verb::post) return {&r, http::status::ok, {}};
      return {nullptr, http::status::method_not_allowed, "POST"};
    }
    if (method == http::verb::get) return {&r, http::status::ok, {}};
    return {nullptr, http::status::method_not_allowed, "GET"};
  }
  return {nullptr, http::status::not_found, {}};
}

// The body limit of a GET route's request: such requests carry no body worth reading.
constexpr std::uint64_t get_body_limit = std::uint64_t{64} * 1024;

template <class Executor>
class session final : public listener::impl::tracked, public std::enable_shared_from_this<session<Executor>> {
 public:
  using stream_type = beast::basic_stream<tcp, Executor>;
  using socket_type = typename stream_type::socket_type;

  session(socket_type&& socket, listener::impl& owner)
      : stream_(std::move(socket)), owner_(owner), peer_(remote_endpoint(stream_.socket())) {}
  ~session() override { owner_.untrack(this); }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void run() {
    owner_.track(this, std::weak_ptr<listener::impl::tracked>(this->shared_from_this()));
    // Start on the connection's strand: every handler of one session runs serialised.
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, this->shared_from_this()));
  }

  // Runs on any thread: hops onto the strand, where it closes a connection that waits for its next
  // request; one in the middle of a request finishes it (do_write says Connection: close).
  void drain() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->waiting_) self->cancel();
    });
  }

 private:
  static tcp::endpoint remote_endpoint(const socket_type& socket) {
    error_code ec;
    tcp::endpoint ep = socket.remote_endpoint(ec);
    return ec ? tcp::endpoint{} : ep;
  }

  template <class Member>
  auto bound(Member member) {
    return with_memory(memory_, beast::bind_front_handler(member, this->shared_from_this()));
  }

  void do_read() {
    if (owner_.draining.load(std::memory_order_acquire) && buffer_.size() == 0) return do_close();
    parser_.emplace();                        // a fresh parser per request: limits apply per message
    parser_->body_limit(owner_.largest_cap);  // the route's own cap is set once its header is read
    route_ = {};
    // A connection with nothing buffered waits for its next request (idle); a pipelined request
    // already in the buffer is one in progress.
    waiting_ = buffer_.size() == 0;
    stream_.expires_after(waiting_ ? owner_.opts.idle_timeout : owner_.opts.read_timeout);
    // The header first: where the request goes, and a declared body over the cap, are decided
    // before any of the body is read; a sender that waits for "100 Continue" is told to go on.
    http::async_read_header(stream_, buffer_, *parser_, bound(&session::on_header));
  }

  void on_header(error_code ec, std::size_t /*bytes*/) {
    waiting_ = false;
    const bool too_large = ec == http::error::body_limit;  // declared over the largest cap: header complete
    if (ec && !too_large) return on_read(ec, 0);
    const request& head = parser_->get();
    route_ = select_route(owner_.routes, head.method(), to_std(head.target()));
    if (route_.to == nullptr) return refuse_route(head);
    const std::uint64_t cap =
        route_.to->rx != nullptr ? static_cast<std::uint64_t>(route_.to->rx->options().max_body_bytes) : get_body_limit;
    // A declared body over this route's cap is refused unread (and before any 100 Continue).
    if (too_large || (parser_->content_length() && *parser_->content_length() > cap)) {
      return on_read(http::error::body_limit, 0);
    }
    parser_->body_limit(cap);
    stream_.expires_after(owner_.opts.read_timeout);
    if (head.version() >= 11 && beast::iequals(head[http::field::expect], "100-continue") && !parser_->is_done()) {
      continue_ = response{http::status::continue_, head.version()};
      return http::async_write(stream_, continue_, bound(&session::on_continue));
    }
    read_body();
  }

  // 404 or 405, from the header alone. A body that follows is not read, so the connection closes
  // after the answer unless the request said it has none.
  void refuse_route(const request& head) {
    const bool no_body = parser_->is_done();
    response_ = plain_status(route_.status, head.version(), head.keep_alive() && no_body);
    if (!route_.allow.empty()) response_.set(http::field::allow, to_beast(route_.allow));
    // An unknown path is reported as "": paths a scanner invents are not the listener's to count.
    const std::string_view path =
        route_.status == http::status::not_found ? std::string_view() : path_of(to_std(head.target()));
    owner_.answered(path, static_cast<int>(route_.status));
    do_write();
  }

  void on_continue(error_code ec, std::size_t /*bytes*/) {
    if (ec) return do_close();
    read_body();
  }

  void read_body() { http::async_read(stream_, buffer_, *parser_, bound(&session::on_read)); }

  void on_read(error_code ec, std::size_t /*bytes*/) {
    const std::string_view path = route_.to != nullptr ? std::string_view(route_.to->path) : std::string_view();
    if (ec == http::error::body_limit && route_.to != nullptr && route_.to->rx != nullptr) {
      response_ = refuse_too_large(*route_.to->rx, parser_->get(), peer_.view());
      owner_.answered(path, static_cast<int>(response_.result_int()));
      return do_write();
    }
    if (ec == http::error::body_limit) {  // a GET with a body larger than any GET needs
      response_ = plain_status(http::status::payload_too_large, parser_->get().version(), false);
      owner_.answered(path, static_cast<int>(response_.result_int()));
      return do_write();
    }
    if (ec == beast::error::timeout) {
      // Silence between requests is the idle timeout; a request that started and stalled (slow
      // headers or body) is counted as timed out.
      if (parser_->got_some()) owner_.answered(path, static_cast<int>(http::status::request_timeout));
      return do_close();
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return do_close();
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
      // A request Beast cannot parse: say so, then close (the stream's framing is lost).
      response_ = plain_status(http::status::bad_request, 11, false);
      owner_.answered(path, static_cast<int>(http::status::bad_request));
      return do_write();
    }
    if (ec) return do_close();  // reset, or another transport error

    const request& req = parser_->get();
    if (route_.to->rx != nullptr) return deliver(req, path);
    response_ = route_.to->get(req);
    response_.version(req.version());
    response_.keep_alive(req.keep_alive());
    response_.prepare_payload();
    owner_.answered(path, static_cast<int>(response_.result_int()));
    do_write();
  }

  // Hands the delivery to the receiver, which may answer later from another thread (a store's
  // commit): this thread goes on with other connections meanwhile, and the answer comes back onto
  // the connection's strand. An answer given before handle_async returns is written at once.
  // The request (parser_, headers_, peer_) is this session's and stays put until the answer.
  void deliver(const request& req, std::string_view path) {
    headers_.clear();
    collect_headers(req, headers_);
    answer_state_.store(answer_pending, std::memory_order_relaxed);
    route_.to->rx->handle_async(
        headers_.view(std::string_view(req.body()), peer_.view()),
        [self = this->shared_from_this(), path, version = req.version(),
         keep_alive = req.keep_alive()](hookrx::response out) {
          self->answer_ = to_beast_response(std::move(out), version, keep_alive);
          int expected = answer_pending;
          if (self->answer_state_.compare_exchange_strong(expected, answer_ready, std::memory_order_acq_rel)) return;
          asio::post(self->stream_.get_executor(), [self, path] { self->send_answer(path); });
        });
    int expected = answer_pending;
    if (!answer_state_.compare_exchange_strong(expected, answer_later, std::memory_order_acq_rel)) send_answer(path);
  }

  void send_answer(std::string_view path) {
    response_ = std::move(answer_);
    owner_.answered(path, static_cast<int>(response_.result_int()));
    do_write();
  }

  void do_write() {
    if (owner_.draining.load(std::memory_order_acquire)) response_.keep_alive(false);
    http::async_write(stream_, response_, bound(&session::on_write));
  }

  void on_write(error_code ec, std::size_t /*bytes*/) {
    if (ec || !response_.keep_alive()) return do_close();
    do_read();
  }

  void do_close() {
    error_code ignored;
    stream_.socket().shutdown(socket_type::shutdown_send, ignored);
  }

  void cancel() {
    error_code ignored;
    stream_.socket().shutdown(socket_type::shutdown_both, ignored);
    stream_.socket().cancel(ignored);
  }

  handler_memory memory_;  // outlives stream_'s operations: declared first, destroyed last
  stream_type stream_;
  listener::impl& owner_;
  peer_text peer_;
  beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  routing route_;
  bool waiting_ = false;  // reading the header of a next request that has not started arriving
  response continue_;     // the interim "100 Continue", kept alive while it is written
  response response_;
  // deliver(): the request's headers as the core sees them, and the answer with who writes it.
  adapter_detail::header_list headers_;
  static constexpr int answer_pending = 0;  // handle_async has not returned nor answered
  static constexpr int answer_ready = 1;    // answered before it returned: deliver() writes it
  static constexpr int answer_later = 2;    // returned first: the answer is posted to the strand
  std::atomic<int> answer_state_{answer_pending};
  response answer_;
};

}  // namespace

void listener::impl::do_accept() {
  const auto on_accept = [this](error_code ec, auto socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      accepted.fetch_add(1, std::memory_order_relaxed);
      using executor = typename decltype(socket)::executor_type;
      std::make_shared<session<executor>>(std::move(socket), *this)->run();
    }
    do_accept();
  };
  if (opts.threads > 1) {
    acceptor.async_accept(strand_executor(asio::make_strand(io)), on_accept);
  } else {
    acceptor.async_accept(thread_executor(io.get_executor()), on_accept);
  }
}

listener::listener(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}

listener::~listener() { stop(); }

result<std::unique_ptr<listener>> listener::start(const receiver& rx, std::string path, options opts) {
  std::vector<route> routes(1);
  routes[0].path = std::move(path);
  routes[0].rx = &rx;
  return start(std::move(routes), std::move(opts));
}

result<std::unique_ptr<listener>> listener::start(std::vector<route> routes, options opts) {
  for (const route& r : routes) {
    if ((r.rx == nullptr) == !r.get) return error(errc::invalid_config, "route " + r.path + ": give rx or get");
  }
  auto p = std::make_unique<impl>(std::move(routes), std::move(opts));
  p->largest_cap = get_body_limit;
  for (const route& r : p->routes) {
    if (r.rx != nullptr) p->largest_cap = std::max<std::uint64_t>(p->largest_cap, r.rx->options().max_body_bytes);
  }
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

bool listener::drain(std::chrono::milliseconds grace) {
  if (!impl_ || impl_->stopped.load()) return true;
  impl_->draining.store(true, std::memory_order_release);
  asio::post(impl_->io, [i = impl_.get()] {
    error_code ignored;
    i->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<impl::tracked>> live;
  {
    const std::lock_guard<std::mutex> lock(impl_->sessions_mutex);
    for (auto& [key, weak] : impl_->sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->drain();
  live.clear();  // a session lives on only while its operations are pending
  bool done = false;
  {
    std::unique_lock<std::mutex> lock(impl_->sessions_mutex);
    done = impl_->sessions_gone.wait_for(lock, grace, [this] { return impl_->sessions.empty(); });
  }
  stop();
  return done;
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
