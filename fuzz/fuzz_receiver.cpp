// The whole receive pipeline with the memory inbox behind it (hookrx::memory_store + hookrx::inbox):
// cap -> Content-Encoding -> authenticate -> parse -> accept (dedup + queue) -> response.
// Properties: every response has a status hookrx documents and a body; a delivery answered 202
// (queued) has a key never queued before in this store; one answered 200 as a duplicate has a key
// that was; the inbox's workers (one pass now and then) handle what was queued without failing.
// Input: a byte choosing the receiver (0: PerfectParser, signature + static secret; 1: PerfectParser
// unauthenticated; 2: Parashift, Authorization + source range; 3: Parashift unauthenticated; bit 2
// of the byte: dispatch vendor test deliveries), then header lines "Name: value" up to an empty
// line, then the body.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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

// One receiver with its own store and inbox, and the keys it has queued.
struct pipeline {
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::memory_store> store;
  std::unique_ptr<hookrx::receiver> rx;
  std::shared_ptr<hookrx::inbox> box;
  std::unordered_set<std::string> queued;
  std::size_t since_pass = 0;

  pipeline(hookrx::result<hookrx::receiver> r) {
    require(r.has_value(), "the fuzz receiver's configuration is valid");
    rx = std::make_unique<hookrx::receiver>(std::move(*r));
    rx->on_any([](const hookrx::event& ev, const hookrx::delivery_context&) -> hookrx::status {
      require(!ev.key().empty(), "a handled event has a key");
      return {};
    });
    reset();
  }

  // A fresh store and inbox: keeps memory bounded over millions of inputs (the memory store
  // forgets done keys past its capacity, and then a key may rightly be queued again).
  void reset() {
    box.reset();
    store = hookrx::memory_store::create({100'000}, clock);
    hookrx::inbox_options options;
    options.workers = 1;
    box = hookrx::inbox::create(store, rx->handlers(), options, clock, [] { return 0.5; });
    rx->accept_with(box->acceptor());
    queued.clear();
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

pipeline& pipeline_for(unsigned kind, bool dispatch_tests) {
  static std::array<std::unique_ptr<pipeline>, 8> all;
  auto& p = all[kind + (dispatch_tests ? 4U : 0U)];
  if (!p) p = std::make_unique<pipeline>(make(kind, dispatch_tests));
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hookrx_fuzz::cursor in(data, size);
  const std::uint8_t selector = in.byte();
  const unsigned kind = selector & 3U;
  pipeline& p = pipeline_for(kind, (selector & 4U) != 0);

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

  if (outcome && (*outcome == hookrx::disposition::queued || *outcome == hookrx::disposition::duplicate)) {
    // Accepted: the body parsed, so its key can be known here the way the receiver knew it.
    const auto ev = hookrx::parse_event(p.rx->source(), body);
    require(ev.has_value(), "an accepted body parses");
    const bool seen = p.queued.count(ev->key()) != 0;
    if (*outcome == hookrx::disposition::queued) {
      require(!seen, "a key is never queued twice");
      p.queued.insert(ev->key());
    } else {
      require(seen, "a duplicate is a key queued before");
    }
  }
  if (++p.since_pass % 64 == 0) {
    const auto pass = p.box->process_due();
    require(pass.has_value() && pass->retried == 0 && pass->dead_lettered == 0, "queued deliveries are handled");
  }
  if (p.queued.size() > 50'000) p.reset();
  return 0;
}
