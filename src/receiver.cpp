#include "hookrx/receiver.hpp"

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "crypto.hpp"
#include "event_lease.hpp"
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

std::optional<result<disposition>> receiver::prepare(const request_view& request, event& ev) const {
  if (request.body().size() > options_.max_body_bytes) {
    return error(errc::body_too_large, "at most " + std::to_string(options_.max_body_bytes) + " bytes");
  }
  if (is_encoded(request)) return result<disposition>(errc::unsupported_content_encoding);
  const result<verified> auth = std::visit([&](const auto& v) { return v.verify(request); }, verifier_);
  if (!auth) return result<disposition>(auth.error());
  if (status st = parse_event(source(), request.body(), ev); !st) return result<disposition>(st.error());
  if (ev.is_test() && !options_.dispatch_test_deliveries) return result<disposition>(disposition::test_delivery);
  return std::nullopt;
}

result<disposition> receiver::run(const request_view& request) const {
  detail::event_lease lease(request.body().size());
  event& ev = lease.get();
  if (std::optional<result<disposition>> early = prepare(request, ev)) return std::move(*early);
  return acceptor_->accept(std::move(ev), request, handlers_);
}

void receiver::handle_async(const request_view& request, std::function<void(response)> done) const {
  // Answers exactly once: through the acceptor's completion, or here when the pipeline stopped
  // early or threw (as in receive(): 500, the sender retries). The server's `done` is let go once
  // called: it may hold the connection, which must not live on in a completion an acceptor keeps.
  struct pending {
    std::atomic<bool> answered{false};
    std::function<void(response)> done;
  };
  auto state = std::make_shared<pending>();
  state->done = std::move(done);
  acceptor::completion finish = [this, request, state](const result<disposition>& outcome) {
    if (state->answered.exchange(true)) return;
    const std::function<void(response)> answer = std::move(state->done);
    if (!outcome) notify_error(request, outcome.error());
    answer(make_response(outcome));
  };
  result<disposition> outcome = disposition::processed;
  try {
    detail::event_lease lease(request.body().size());
    event& ev = lease.get();
    std::optional<result<disposition>> early = prepare(request, ev);
    if (!early) {
      // The acceptor reads the event before accept_async returns, while the lease still holds it.
      acceptor_->accept_async(std::move(ev), request, handlers_, finish);
      return;
    }
    outcome = std::move(*early);
  } catch (const std::exception& e) {
    outcome = error(errc::handler_failed, e.what());
  } catch (...) {
    outcome = error(errc::handler_failed, "a non-standard exception escaped the pipeline");
  }
  finish(std::move(outcome));
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
