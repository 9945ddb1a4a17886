#include "hookrx/receiver.hpp"

#include <exception>
#include <optional>
#include <string>

#include "crypto.hpp"
#include "parse.hpp"

namespace hookrx {
namespace {

// The signed bytes are the bytes on the wire; a body that arrives encoded cannot be verified
// without decoding it first, and a server that decoded it has already lost them.
bool is_encoded(const request_view& request) noexcept {
  const auto encoding = request.header("Content-Encoding");
  if (!encoding) return false;
  const std::string_view e = detail::trim_ows(*encoding);
  return !e.empty() && !iequals(e, "identity");
}

// The event a delivery is parsed into. Each thread keeps one and reuses it from one delivery to the
// next: its strings keep their capacity, so a steady stream of deliveries is parsed without
// allocating. A nested delivery on the same thread (a handler that calls a receiver) gets an event
// of its own, and a thread lets go of a kept event that held a body over `kept_bytes`.
class event_lease {
 public:
  event_lease() : kept_(&thread_event()) {
    if (kept_->busy) {
      kept_ = nullptr;
      own_.emplace();
    } else {
      kept_->busy = true;
    }
  }
  ~event_lease() {
    if (kept_ == nullptr) return;
    // An event's long strings are parts of its body, and its body copy only ever grows
    // (json::copy_padded): once an event has held a body within kept_bytes, none is larger. An
    // event that held a larger one is let go. Assigning a fresh event would keep the buffers (a
    // string moved from an empty one keeps its own); moving them out frees them.
    if (detail::event_builder::raw_json(kept_->ev).size() > kept_bytes) {
      const event dropped(std::move(kept_->ev));
    }
    kept_->busy = false;
  }
  event_lease(const event_lease&) = delete;
  event_lease& operator=(const event_lease&) = delete;

  [[nodiscard]] event& get() noexcept { return kept_ != nullptr ? kept_->ev : *own_; }

 private:
  static constexpr std::size_t kept_bytes = std::size_t{64} << 10;
  struct kept_event {
    event ev;
    bool busy = false;
  };
  static kept_event& thread_event() noexcept {
    thread_local kept_event kept;
    return kept;
  }

  kept_event* kept_;          // this thread's event, or nullptr when a delivery further up holds it
  std::optional<event> own_;  // the nested delivery's own event
};

}  // namespace

result<disposition> inline_acceptor::accept(event&& ev, const request_view& /*request*/, const dispatcher& handlers) {
  if (status st = handlers.dispatch(ev); !st) return st.error();
  return disposition::processed;
}

receiver::receiver(verifier v, receiver_options options)
    : verifier_(std::move(v)), options_(options), acceptor_(std::make_shared<inline_acceptor>()) {}

result<receiver> receiver::create(const perfectparser_credentials& credentials, receiver_options options) {
  auto v = perfectparser_verifier::create(credentials);
  if (!v) return v.error();
  return receiver(std::move(*v), options);
}

result<receiver> receiver::create(const parashift_credentials& credentials, receiver_options options) {
  auto v = parashift_verifier::create(credentials);
  if (!v) return v.error();
  return receiver(std::move(*v), options);
}

provider receiver::source() const noexcept {
  return std::holds_alternative<perfectparser_verifier>(verifier_) ? provider::perfectparser : provider::parashift;
}

result<disposition> receiver::run(const request_view& request) const {
  if (request.body().size() > options_.max_body_bytes) {
    return error(errc::body_too_large, "at most " + std::to_string(options_.max_body_bytes) + " bytes");
  }
  if (is_encoded(request)) return errc::unsupported_content_encoding;
  const result<verified> auth = std::visit([&](const auto& v) { return v.verify(request); }, verifier_);
  if (!auth) return auth.error();
  event_lease lease;
  event& ev = lease.get();
  if (status st = parse_event(source(), request.body(), ev); !st) return st.error();
  if (ev.is_test() && !options_.dispatch_test_deliveries) return disposition::test_delivery;
  return acceptor_->accept(std::move(ev), request, handlers_);
}

result<disposition> receiver::receive(const request_view& request) const {
  result<disposition> outcome = [&]() -> result<disposition> {
    try {
      return run(request);
    } catch (const std::exception& e) {  // e.g. std::bad_alloc: answer 500, the sender retries
      return error(errc::handler_failed, e.what());
    } catch (...) {
      return error(errc::handler_failed, "a non-standard exception escaped the pipeline");
    }
  }();
  if (!outcome) notify_error(request, outcome.error());
  return outcome;
}

response receiver::refuse(const request_view& request, error why) const {
  if (why.code() == errc::body_too_large && why.detail().empty()) {
    why = error(errc::body_too_large, "at most " + std::to_string(options_.max_body_bytes) + " bytes");
  }
  notify_error(request, why);
  return make_response(result<disposition>(std::move(why)));
}

void receiver::notify_error(const request_view& request, const error& e) const {
  for (const error_handler& h : error_handlers_) {
    try {
      h(request, e);
    } catch (...) {  // a failing logger must not change the answer
    }
  }
}

}  // namespace hookrx
