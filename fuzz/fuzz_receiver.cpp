// The whole receive pipeline with the memory inbox behind it (hookrx::memory_store + hookrx::inbox):
// cap -> Content-Encoding -> authenticate -> parse -> accept (dedup + queue) -> response.
// Properties: every response has a status hookrx documents and a body; no error reported to
// on_error handlers names a configured secret; a delivery answered 202 (queued) has a key never
// queued before in this store, one answered 200 as a duplicate a key that was; in the synchronous
// mode (dedup_acceptor) a key is processed at most once. The inbox's passes (now and then, the
// clock moved past every backoff) dead-letter only deliveries whose handler fails on purpose
// (bodies containing "fail"); dead letters can be inspected and replayed.
// Input: a byte choosing the receiver (bits 0-1 - 0: PerfectParser, signature + static secret;
// 1: PerfectParser unauthenticated; 2: Parashift, Authorization + source range; 3: Parashift
// unauthenticated; bit 2: dispatch vendor test deliveries; bit 3: the peer is a trusted proxy;
// bit 4: synchronous dedup instead of the inbox; bit 5: a store that holds 8 keys, so offers fail
// with store_unavailable once it is full), then header lines "Name: value" up to an empty
// line, then the body.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "fuzz_support.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/memory_store.hpp"
#include "hookrx/receiver.hpp"

namespace {

using hookrx_fuzz::require;

const std::vector<std::string> secrets = {"wh_sec_fuzz_0123456789abcdef", "wh_sec_fuzz_rotated", "static-token-1",
                                          "Bearer fuzz-token-1", "Bearer fuzz-token-2"};

// Handlers fail, on purpose, for bodies that contain "fail" (and throw for "throw"): the retry and
// dead-letter paths.
hookrx::status handle_any(const hookrx::event& ev, const hookrx::delivery_context& ctx) {
  require(!ev.key().empty() && ctx.attempt >= 1, "a handled event has a key and an attempt number");
  if (ev.raw_json().find("throw") != std::string_view::npos) throw std::runtime_error("asked to throw");
  if (ev.raw_json().find("fail") != std::string_view::npos)
    return hookrx::error(hookrx::errc::handler_failed, "asked to fail");
  return {};
}

bool asked_to_fail(std::string_view body) {
  return body.find("fail") != std::string_view::npos || body.find("throw") != std::string_view::npos;
}

// Done keys are remembered longer than any run moves the clock (10 min a pass), so that a key
// taken again is a bug and not a retention that ran out (which the store documents).
constexpr std::chrono::milliseconds retention = std::chrono::hours(24 * 365 * 100);

// One receiver with its own store and inbox (or dedup acceptor), and the keys it has taken.
struct pipeline {
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::memory_store> store;
  std::unique_ptr<hookrx::receiver> rx;
  std::shared_ptr<hookrx::inbox> box;  // null in the synchronous mode
  bool synchronous = false;
  std::size_t capacity = 100'000;
  std::unordered_set<std::string> taken;

  pipeline(hookrx::result<hookrx::receiver> r, bool sync, bool tiny) : synchronous(sync), capacity(tiny ? 8 : 100'000) {
    require(r.has_value(), "the fuzz receiver's configuration is valid");
    rx = std::make_unique<hookrx::receiver>(std::move(*r));
    rx->on<hookrx::document_completed>([](const hookrx::document_completed&) { return hookrx::status{}; });
    rx->on_unknown([](const hookrx::unknown_event&) { return hookrx::status{}; });
    rx->on_any(handle_any);
    rx->on_error([](const hookrx::request_view&, const hookrx::error& e) {
      for (const auto& s : secrets) require(e.message().find(s) == std::string::npos, "no error names a secret");
    });
    reset();
  }

  // A fresh store: keeps memory bounded over millions of inputs (the memory store forgets done
  // keys past its capacity, and then a key may rightly be taken again).
  void reset() {
    if (box) box->stop();
    box.reset();
    store = hookrx::memory_store::create({capacity}, clock);
    if (synchronous) {
      hookrx::dedup_options options;
      options.handler_threads = 1;  // handlers on the acceptor's thread, awaited up to the deadline
      options.deadline = std::chrono::seconds(10);
      options.retention = retention;
      rx->accept_with(std::make_shared<hookrx::dedup_acceptor>(store, options, clock));
    } else {
      hookrx::inbox_options options;
      options.workers = 1;
      options.retry.max_attempts = 2;
      options.retention = retention;
      box = hookrx::inbox::create(store, rx->handlers(), options, clock, hookrx::default_random());
      rx->accept_with(box->acceptor());
      box->start();  // a worker starts and stops with nothing to do; the passes below run here
      box->stop();
    }
    taken.clear();
  }

  // One inbox pass with the clock past every backoff; then the dead letters are looked at.
  void pass() {
    clock->advance(std::chrono::minutes(10));  // past every backoff (max_delay: 5 min)
    const auto done = box->process_due();
    require(done.has_value(), "an inbox pass runs");
    const auto dead = box->dead_letters(8);
    require(dead.has_value(), "dead letters can be listed");
    for (const auto& entry : *dead) {
      require(asked_to_fail(entry.record.body), "only deliveries asked to fail are dead-lettered");
      const auto again = box->inspect(entry.id);
      require(again.has_value() && again->has_value() && (*again)->record.key == entry.record.key,
              "a dead letter can be inspected");
      require(box->replay(entry.id).has_value(), "a dead letter can be replayed");
    }
  }
};

hookrx::receiver_options options(bool dispatch_tests) {
  hookrx::receiver_options o;
  o.max_body_bytes = 4096;
  o.dispatch_test_deliveries = dispatch_tests;
  return o;
}

hookrx::result<hookrx::receiver> make(unsigned kind, bool dispatch_tests) {
  switch (kind) {
    case 0: {
      hookrx::perfectparser_credentials c;
      c.signing_secrets = {"wh_sec_fuzz_0123456789abcdef", "wh_sec_fuzz_rotated"};
      c.static_secrets = {"static-token-1"};
      return hookrx::receiver::create(c, options(dispatch_tests));
    }
    case 1: {
      hookrx::perfectparser_credentials c;
      c.allow_unauthenticated = true;
      return hookrx::receiver::create(c, options(dispatch_tests));
    }
    case 2: {
      hookrx::parashift_credentials c;
      c.headers = {{"Authorization", {"Bearer fuzz-token-1", "Bearer fuzz-token-2"}}};
      c.restrict_sources = true;
      c.allowed_sources = {"203.0.113.0/24", "2001:db8::/32"};
      c.trusted_proxies = {"127.0.0.1"};
      return hookrx::receiver::create(c, options(dispatch_tests));
    }
    default: {
      hookrx::parashift_credentials c;
      c.allow_unauthenticated = true;
      return hookrx::receiver::create(c, options(dispatch_tests));
    }
  }
}

pipeline& pipeline_for(std::uint8_t selector) {
  static std::array<std::unique_ptr<pipeline>, 64> all;
  const unsigned kind = selector & 3U;
  const bool dispatch_tests = (selector & 4U) != 0;
  const bool sync = (selector & 16U) != 0;
  const bool tiny = (selector & 32U) != 0;
  auto& p = all[selector & 0x37U];
  if (!p) p = std::make_unique<pipeline>(make(kind, dispatch_tests), sync, tiny);
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hookrx_fuzz::cursor in(data, size);
  const std::uint8_t selector = in.byte();
  pipeline& p = pipeline_for(selector);

  std::vector<hookrx::header_view> headers;
  while (!in.empty()) {
    const std::string_view line = in.line();
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  const std::string_view body = in.rest();
  // Parashift's range check sees a peer inside 203.0.113.0/24 (or the proxy, when bit 3 is set).
  const std::string_view peer = (selector & 8U) != 0 ? "127.0.0.1" : "203.0.113.7";
  const hookrx::request_view request(body, headers.data(), headers.size(), peer);

  const hookrx::result<hookrx::disposition> outcome = p.rx->receive(request);
  const hookrx::response res = hookrx::make_response(outcome);
  require(hookrx_fuzz::documented_status(res.status) && !res.body.empty(), "a documented status with a body");

  // (A full tiny store evicts done keys, as documented, so a key may be taken again there.)
  if (outcome && *outcome != hookrx::disposition::test_delivery && p.capacity > 8) {
    // Accepted: the body parsed, so its key can be known here the way the receiver knew it.
    const auto ev = hookrx::parse_event(p.rx->source(), body);
    require(ev.has_value(), "an accepted body parses");
    const bool seen = p.taken.count(ev->key()) != 0;
    if (*outcome == hookrx::disposition::duplicate) {
      require(seen, "a duplicate is a key taken before");
    } else {
      require(!seen, "a key is never taken twice");
      require((*outcome == hookrx::disposition::queued) == !p.synchronous, "the inbox queues, dedup processes");
      p.taken.insert(ev->key());
    }
  }
  static std::size_t inputs = 0;
  if (!p.synchronous && ++inputs % 32 == 0) p.pass();
  // Small stores keep the passes cheap (leasing and listing look at every entry held).
  if (p.taken.size() > 4096) p.reset();
  return 0;
}
