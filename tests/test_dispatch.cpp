// dispatcher: typed and catch-all handlers, their signatures, failures and ordering.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "hookrx/dispatch.hpp"
#include "support.hpp"

namespace {

hookrx::event make_document(std::string doc_id = "doc_1") {
  hookrx::document_completed d;
  d.extraction_id = "ext_1";
  d.document_id = doc_id;
  d.status = "completed";
  std::string key = "perfectparser:extraction.document_completed:ext_1:" + doc_id;
  return hookrx::event(hookrx::provider::perfectparser, "extraction.document_completed", std::move(key), false, "{}",
                       hookrx::event::payload(std::move(d)));
}

hookrx::event make_job() {
  hookrx::job_completed j;
  j.extraction_id = "ext_2";
  return hookrx::event(hookrx::provider::perfectparser, "extraction.job_completed",
                       "perfectparser:extraction.job_completed:ext_2", false, "{}", hookrx::event::payload(j));
}

hookrx::event make_unknown() {
  hookrx::unknown_event u;
  u.extraction_id = "ext_3";
  return hookrx::event(hookrx::provider::perfectparser, "extraction.other", "perfectparser:extraction.other:ext_3",
                       false, "{}", hookrx::event::payload(u));
}

hookrx::event make_parashift() {
  hookrx::document_event d;
  d.topic = hookrx::parashift_topic::extraction_done;
  d.topic_name = "extraction-done";
  d.document_id = 42;
  return hookrx::event(hookrx::provider::parashift, "extraction-done", "parashift:extraction-done:42:t", false, "{}",
                       hookrx::event::payload(d));
}

}  // namespace

TEST_SUITE("dispatch") {
  TEST_CASE("a typed handler receives the payload of its own event type only") {
    hookrx::dispatcher d;
    std::vector<std::string> seen;
    d.on<hookrx::document_completed>(
        [&](const hookrx::document_completed& doc) { seen.push_back("doc:" + doc.document_id); });
    d.on<hookrx::job_completed>([&](const hookrx::job_completed& job) { seen.push_back("job:" + job.extraction_id); });
    d.on<hookrx::document_event>(
        [&](const hookrx::document_event& ev) { seen.push_back("ps:" + std::to_string(ev.document_id.value_or(-1))); });
    CHECK(d.dispatch(make_document("doc_7")).has_value());
    CHECK(d.dispatch(make_job()).has_value());
    CHECK(d.dispatch(make_parashift()).has_value());
    CHECK(seen == std::vector<std::string>{"doc:doc_7", "job:ext_2", "ps:42"});
  }

  TEST_CASE("a two-argument handler gets the delivery context with key, event and attempt") {
    hookrx::dispatcher d;
    const hookrx::event ev = make_document();
    int calls = 0;
    d.on<hookrx::document_completed>([&](const hookrx::document_completed& doc, const hookrx::delivery_context& ctx) {
      ++calls;
      CHECK(&ctx.ev == &ev);
      CHECK(ctx.key() == ev.key());
      CHECK(ctx.attempt == 3);
      CHECK(&doc == ev.get_if<hookrx::document_completed>());
    });
    CHECK(d.dispatch(ev, 3).has_value());
    CHECK(calls == 1);
  }

  TEST_CASE("the attempt number defaults to 1") {
    hookrx::dispatcher d;
    int attempt = 0;
    d.on_any([&](const hookrx::event&, const hookrx::delivery_context& ctx) { attempt = ctx.attempt; });
    CHECK(d.dispatch(make_job()).has_value());
    CHECK(attempt == 1);
    CHECK(d.dispatch(make_job(), 5).has_value());
    CHECK(attempt == 5);
  }

  TEST_CASE("a handler returning an error status makes dispatch fail with handler_failed") {
    hookrx::dispatcher d;
    d.on<hookrx::document_completed>([](const hookrx::document_completed&) -> hookrx::status {
      return hookrx::error(hookrx::errc::store_unavailable, "db down");
    });
    const hookrx::status s = d.dispatch(make_document());
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code() == hookrx::errc::handler_failed);
  }

  TEST_CASE("a handler returning a success status lets dispatch succeed") {
    hookrx::dispatcher d;
    int calls = 0;
    d.on<hookrx::job_completed>([&](const hookrx::job_completed&, const hookrx::delivery_context&) -> hookrx::status {
      ++calls;
      return {};
    });
    CHECK(d.dispatch(make_job()).has_value());
    CHECK(calls == 1);
  }

  TEST_CASE("a throwing handler makes dispatch fail with handler_failed and nothing escapes") {
    hookrx::dispatcher d;
    d.on<hookrx::document_completed>([](const hookrx::document_completed&) { throw std::runtime_error("boom"); });
    hookrx::status s;
    CHECK_NOTHROW(s = d.dispatch(make_document()));
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code() == hookrx::errc::handler_failed);

    hookrx::dispatcher odd;
    odd.on_any([](const hookrx::event&) { throw 42; });
    hookrx::status t;
    CHECK_NOTHROW(t = odd.dispatch(make_job()));
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().code() == hookrx::errc::handler_failed);
  }

  TEST_CASE("typed handlers run in registration order, then on_any handlers") {
    hookrx::dispatcher d;
    std::vector<std::string> order;
    d.on_any([&](const hookrx::event&) { order.push_back("any1"); });
    d.on<hookrx::document_completed>([&](const hookrx::document_completed&) { order.push_back("typed1"); });
    d.on_any([&](const hookrx::event&, const hookrx::delivery_context&) { order.push_back("any2"); });
    d.on<hookrx::document_completed>([&](const hookrx::document_completed&) { order.push_back("typed2"); });
    CHECK(d.dispatch(make_document()).has_value());
    CHECK(order == std::vector<std::string>{"typed1", "typed2", "any1", "any2"});
  }

  TEST_CASE("dispatch stops at the first failing handler") {
    hookrx::dispatcher d;
    std::vector<std::string> order;
    d.on<hookrx::document_completed>([&](const hookrx::document_completed&) -> hookrx::status {
      order.push_back("typed1");
      return hookrx::errc::handler_failed;
    });
    d.on<hookrx::document_completed>([&](const hookrx::document_completed&) { order.push_back("typed2"); });
    d.on_any([&](const hookrx::event&) { order.push_back("any"); });
    CHECK_FALSE(d.dispatch(make_document()).has_value());
    CHECK(order == std::vector<std::string>{"typed1"});
  }

  TEST_CASE("on_any sees every event and on_unknown only unknown ones") {
    hookrx::dispatcher d;
    std::vector<std::string> any;
    std::vector<std::string> unknown;
    d.on_any([&](const hookrx::event& ev) { any.push_back(ev.name()); });
    d.on_unknown([&](const hookrx::unknown_event& u, const hookrx::delivery_context& ctx) {
      unknown.push_back(ctx.ev.name() + "/" + u.extraction_id.value_or("-"));
    });
    CHECK(d.dispatch(make_document()).has_value());
    CHECK(d.dispatch(make_unknown()).has_value());
    CHECK(d.dispatch(make_parashift()).has_value());
    CHECK(any == std::vector<std::string>{"extraction.document_completed", "extraction.other", "extraction-done"});
    CHECK(unknown == std::vector<std::string>{"extraction.other/ext_3"});
  }

  TEST_CASE("an event nobody handles is dispatched successfully") {
    const hookrx::dispatcher empty;
    CHECK(empty.dispatch(make_document()).has_value());
    hookrx::dispatcher other;
    int calls = 0;
    other.on<hookrx::job_completed>([&](const hookrx::job_completed&) { ++calls; });
    CHECK(other.dispatch(make_unknown()).has_value());
    CHECK(calls == 0);
  }

  TEST_CASE("a handler registration returns the dispatcher for chaining") {
    hookrx::dispatcher d;
    int a = 0;
    int b = 0;
    hookrx::dispatcher& same = d.on<hookrx::job_completed>([&](const hookrx::job_completed&) {
                                  ++a;
                                }).on_any([&](const hookrx::event&) { ++b; });
    CHECK(&same == &d);
    CHECK(d.dispatch(make_job()).has_value());
    CHECK(a == 1);
    CHECK(b == 1);
  }

}  // TEST_SUITE
