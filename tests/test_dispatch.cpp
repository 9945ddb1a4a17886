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

  TEST_CASE("a batch handler gets every event whose own handlers succeeded, once, and fails each one alone") {
    hookrx::dispatcher d;
    d.on<hookrx::document_completed>([](const hookrx::document_completed& doc) -> hookrx::status {
      if (doc.document_id == "doc_bad") return hookrx::error(hookrx::errc::handler_failed, "typed refused");
      return {};
    });
    std::vector<std::vector<std::string>> calls;
    d.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
      std::vector<std::string> keys;
      for (hookrx::batch_entry& e : batch) {
        keys.push_back(e.ctx.key());
        CHECK(e.outcome.has_value());  // what arrives has not failed
        if (e.ctx.ev.name() == "extraction.job_completed")
          e.outcome = hookrx::error(hookrx::errc::store_unavailable, "sink down");
      }
      calls.push_back(keys);
    });
    const hookrx::event a = make_document("doc_a");
    const hookrx::event bad = make_document("doc_bad");
    const hookrx::event job = make_job();
    const hookrx::event b = make_document("doc_b");
    std::vector<hookrx::batch_entry> batch;
    for (const hookrx::event* ev : {&a, &bad, &job, &b}) batch.push_back({hookrx::delivery_context{*ev, 2}, {}});
    d.dispatch_batch(batch);

    REQUIRE(calls.size() == 1);
    CHECK(calls[0] == std::vector<std::string>{a.key(), job.key(), b.key()});
    CHECK(batch[0].outcome.has_value());
    REQUIRE_FALSE(batch[1].outcome.has_value());
    CHECK(batch[1].outcome.error().detail() == "typed refused");
    REQUIRE_FALSE(batch[2].outcome.has_value());
    CHECK(batch[2].outcome.error().code() == hookrx::errc::handler_failed);  // whatever the handler said
    CHECK(hookrx_test::contains(batch[2].outcome.error().detail(), "sink down"));
    CHECK(batch[3].outcome.has_value());
  }

  TEST_CASE("each batch handler sees only what the ones before it let through") {
    hookrx::dispatcher d;
    std::vector<std::size_t> sizes;
    d.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
      sizes.push_back(batch.size());
      batch.front().outcome = hookrx::error(hookrx::errc::handler_failed, "first refused");
    });
    d.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
      sizes.push_back(batch.size());
      throw std::runtime_error("second threw");
    });
    const hookrx::event a = make_document("doc_a");
    const hookrx::event b = make_document("doc_b");
    const hookrx::event c = make_document("doc_c");
    std::vector<hookrx::batch_entry> batch;
    for (const hookrx::event* ev : {&a, &b, &c}) batch.push_back({hookrx::delivery_context{*ev, 1}, {}});
    d.dispatch_batch(batch);
    CHECK(sizes == std::vector<std::size_t>{3, 2});
    CHECK(batch[0].outcome.error().detail() == "first refused");
    CHECK(batch[1].outcome.error().detail() == "second threw");  // a throw fails every entry of the call
    CHECK(batch[2].outcome.error().detail() == "second threw");
  }

  TEST_CASE("dispatch runs the batch handlers with the one event, after the others") {
    hookrx::dispatcher d;
    std::vector<std::string> order;
    d.on_any([&](const hookrx::event&) { order.push_back("any"); });
    d.on_batch([&](std::vector<hookrx::batch_entry>& batch) {
      order.push_back("batch:" + std::to_string(batch.size()) + ":" + std::to_string(batch.front().ctx.attempt));
      batch.front().outcome = hookrx::error(hookrx::errc::handler_failed, "batch refused");
    });
    const hookrx::status st = d.dispatch(make_job(), 4);
    CHECK(order == std::vector<std::string>{"any", "batch:1:4"});
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().detail() == "batch refused");
    CHECK(d.has_batch_handlers());
    CHECK_FALSE(hookrx::dispatcher{}.has_batch_handlers());
  }

  TEST_CASE("once go_on says stop, nothing more starts and the unfinished entries are left in progress") {
    hookrx::dispatcher d;
    std::vector<std::string> ran;
    d.on_any([&](const hookrx::event& ev) { ran.push_back(ev.key()); });
    int batch_calls = 0;
    d.on_batch([&](std::vector<hookrx::batch_entry>&) { ++batch_calls; });
    const hookrx::event a = make_document("doc_a");
    const hookrx::event b = make_document("doc_b");
    const hookrx::event c = make_document("doc_c");
    std::vector<hookrx::batch_entry> batch;
    for (const hookrx::event* ev : {&a, &b, &c}) batch.push_back({hookrx::delivery_context{*ev, 1}, {}});
    int asked = 0;
    d.dispatch_batch(batch, [&] { return ++asked <= 2; });  // yes for a and b, no for c
    CHECK(ran == std::vector<std::string>{a.key(), b.key()});
    CHECK(batch_calls == 0);
    for (const hookrx::batch_entry& e : batch) {
      REQUIRE_FALSE(e.outcome.has_value());
      CHECK(e.outcome.error().code() == hookrx::errc::in_progress);
    }

    // Asked again before the batch handlers: a no there leaves every entry unfinished too.
    std::vector<hookrx::batch_entry> again;
    for (const hookrx::event* ev : {&a, &b}) again.push_back({hookrx::delivery_context{*ev, 1}, {}});
    asked = 0;
    d.dispatch_batch(again, [&] { return ++asked <= 2; });
    CHECK(batch_calls == 0);
    for (const hookrx::batch_entry& e : again) CHECK(e.outcome.error().code() == hookrx::errc::in_progress);
  }
}  // TEST_SUITE
