// The fallback poller's rules, on the memory store and a real inbox, with a manual clock and an
// in-process vendor API that counts every call: nothing sleeps, and "costs no request" is a count.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hookrx/inbox.hpp"
#include "hookrx/memory_store.hpp"
#include "hookrx/poller.hpp"

namespace {

using namespace std::chrono_literals;

struct fake_doc {
  std::string id;
  std::string status = "completed";
};
struct fake_ext {
  std::string status = "completed";
  std::string updated_at;
  std::vector<fake_doc> docs;
};
struct fake_ps_doc {
  std::string status = "done";
  std::string updated_at = "2026-06-20T10:00:00.000Z";
};

hookrx::api_error transient() { return hookrx::api_error{hookrx::api_errc::server_error, 503, {}, "503", 1}; }

// The vendor as the poller sees it: extractions and Parashift documents, every call counted.
struct fake_vendor final : hookrx::poller_api {
  std::map<std::string, fake_ext> exts;
  std::map<std::string, fake_ps_doc> ps_docs;
  std::map<std::string, int> calls;
  std::set<std::string> failing;        // ids (extraction, document, or "list") whose calls fail with 503
  std::vector<std::string> list_since;  // the `since` of every list call, in order
  std::vector<std::string> list_cursors;
  int page_size = 2;

  hookrx::api_result<hookrx::pp_extraction> get_extraction(std::string_view id) override {
    ++calls["get_extraction"];
    auto it = exts.find(std::string(id));
    if (it == exts.end()) return hookrx::api_errc::not_found;
    if (failing.count(std::string(id)) != 0) return transient();
    hookrx::pp_extraction x;
    x.extraction_id = it->first;
    x.status = it->second.status;
    x.updated_at = it->second.updated_at;
    std::string docs;
    for (const auto& d : it->second.docs) {
      x.documents.push_back({d.id, d.status, {}, {}, {}, {}, {}, {}});
      docs +=
          std::string(docs.empty() ? "" : ",") + R"({"document_id":")" + d.id + R"(","status":")" + d.status + R"("})";
    }
    x.raw_json = R"({"extraction_id":")" + x.extraction_id + R"(","status":")" + x.status +
                 R"(","parser_id":"prs_1",)" + R"("updated_at":")" + it->second.updated_at + R"(","documents":[)" +
                 docs + "]}";
    return x;
  }
  hookrx::api_result<hookrx::pp_document> get_document(std::string_view ext, std::string_view doc) override {
    ++calls["get_document"];
    if (failing.count(std::string(doc)) != 0) return transient();
    auto it = exts.find(std::string(ext));
    if (it == exts.end()) return hookrx::api_errc::not_found;
    for (const auto& d : it->second.docs) {
      if (d.id != doc) continue;
      hookrx::pp_document out;
      out.document_id = d.id;
      out.extraction_id = it->first;
      out.status = d.status;
      out.extracted_data = R"({"doc":")" + d.id + R"("})";
      out.raw_json = R"({"document_id":")" + d.id + R"(","extraction_id":")" + it->first + R"(","status":")" +
                     d.status + R"(","filename":"f.pdf","extracted_data":)" + out.extracted_data + "}";
      return out;
    }
    return hookrx::api_errc::not_found;
  }
  hookrx::api_result<hookrx::pp_extraction_page> list_extractions_page(const hookrx::list_extractions_query& q,
                                                                       std::string_view cursor) override {
    ++calls["list_extractions"];
    list_since.push_back(q.since);
    list_cursors.emplace_back(cursor);
    if (failing.count("list") != 0) return transient();
    std::vector<std::pair<std::string, std::string>> rows;  // updated_at, id: the API's order
    for (const auto& [id, x] : exts) {
      if (x.updated_at >= q.since) rows.emplace_back(x.updated_at, id);
    }
    std::sort(rows.begin(), rows.end());
    const std::size_t from = cursor.empty() ? 0 : std::stoul(std::string(cursor));
    hookrx::pp_extraction_page page;
    for (std::size_t i = from; i < rows.size() && i < from + static_cast<std::size_t>(page_size); ++i) {
      hookrx::pp_extraction_summary s;
      s.extraction_id = rows[i].second;
      s.status = exts[rows[i].second].status;
      s.updated_at = rows[i].first;
      page.extractions.push_back(s);
    }
    const std::size_t next = from + static_cast<std::size_t>(page_size);
    page.has_next_page = next < rows.size();
    if (page.has_next_page) page.next_cursor = std::to_string(next);
    return page;
  }
  hookrx::api_result<hookrx::parashift_document> get_parashift_document(std::string_view id) override {
    ++calls["parashift_document"];
    auto it = ps_docs.find(std::string(id));
    if (it == ps_docs.end()) return hookrx::api_errc::not_found;
    hookrx::parashift_document d;
    d.id = it->first;
    d.type = "documents";
    d.status = it->second.status;
    d.updated_at = it->second.updated_at;
    d.attributes_json = R"({"status":")" + it->second.status + R"(","document_id":)" + it->first +
                        R"(,"updated_at":")" + it->second.updated_at + R"("})";
    return d;
  }
  int total() const {
    int n = 0;
    for (const auto& kv : calls) n += kv.second;
    return n;
  }
};

std::string iso(int minute) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "2026-06-20T10:%02d:00.000Z", minute);
  return buf;
}

std::string doc_webhook(const std::string& ext, const std::string& doc) {
  return R"({"event":"extraction.document_completed","extraction_id":")" + ext + R"(","document_id":")" + doc +
         R"(","status":"completed","extracted_data":{"doc":")" + doc + R"("}})";
}
std::string job_webhook(const std::string& ext, int completed) {
  return R"({"event":"extraction.job_completed","extraction_id":")" + ext + R"(","status":"completed",)" +
         R"("document_summary":{"total":)" + std::to_string(completed) + R"(,"completed":)" +
         std::to_string(completed) + R"(,"failed":0,"processing":0}})";
}
std::string ps_webhook(const std::string& id, const std::string& topic, const std::string& updated_at) {
  return R"({"id":")" + id + R"(","type":"documents","attributes":{"status":"done","document_id":)" + id +
         R"(,"updated_at":")" + updated_at + R"("},"topic":")" + topic + R"("})";
}

// One receiver instance: a memory store (all three roles), an inbox, a poller, and handlers that
// record what they saw. Instances made from one `shared` store act like processes on one database.
struct instance {
  std::shared_ptr<hookrx::manual_clock> clock;
  std::shared_ptr<hookrx::memory_store> store;
  std::shared_ptr<fake_vendor> vendor;
  hookrx::dispatcher handlers;
  std::vector<std::string> handled;  // "<key> <origin>"
  std::shared_ptr<hookrx::inbox> box;
  std::shared_ptr<hookrx::poller> poller;
  std::shared_ptr<hookrx::acceptor> accept;
  std::vector<std::string> log;

  instance(std::shared_ptr<hookrx::manual_clock> c, std::shared_ptr<hookrx::memory_store> s,
           std::shared_ptr<fake_vendor> v, hookrx::poller_options options = defaults(), std::string id = "a")
      : clock(std::move(c)), store(std::move(s)), vendor(std::move(v)) {
    handlers.on_any([this](const hookrx::event& ev, const hookrx::delivery_context& ctx) {
      handled.push_back(ev.key() + " " + std::string(hookrx::to_string(ctx.origin())));
    });
    box = hookrx::inbox::create(store, handlers, {}, clock, [] { return 0.5; });
    options.instance_id = std::move(id);
    options.log = [this](std::string_view line) { log.emplace_back(line); };
    auto p = hookrx::poller::create(store, store, store, vendor, handlers, options, clock, [] { return 0.5; });
    REQUIRE(p.has_value());
    poller = *p;
    accept = poller->wrap(box->acceptor());
  }
  static hookrx::poller_options defaults() {
    hookrx::poller_options o;
    o.grace = 10min;
    o.poll_backoff = 2min;
    o.sweep = false;
    return o;
  }
  // Through accept(), or through accept_async() as hookrx serve's server takes webhooks.
  bool async = false;
  std::string deliver(hookrx::provider source, const std::string& body) {
    auto ev = hookrx::parse_event(source, body);
    REQUIRE(ev.has_value());
    std::optional<hookrx::result<hookrx::disposition>> r;
    if (async) {
      int calls = 0;
      accept->accept_async(std::move(*ev), hookrx::request_view(), handlers,
                           [&](hookrx::result<hookrx::disposition> got) {
                             ++calls;
                             r = std::move(got);
                           });
      CHECK(calls == 1);  // the memory store answers at once
    } else {
      r = accept->accept(std::move(*ev), hookrx::request_view(), handlers);
    }
    REQUIRE(r.has_value());
    if (!*r) return std::string(hookrx::to_string(r->error().code()));
    return std::string(hookrx::to_string(**r));
  }
  hookrx::poll_round round() {
    auto r = poller->run_once();
    REQUIRE(r.has_value());
    (void)drain();
    return *r;
  }
  std::size_t drain() {
    std::size_t n = 0;
    while (true) {
      auto pass = box->process_due();
      REQUIRE(pass.has_value());
      if (pass->handled == 0) return n;
      n += pass->handled;
    }
  }
};

struct setup {
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::memory_store> store = hookrx::memory_store::create({}, clock);
  std::shared_ptr<fake_vendor> vendor = std::make_shared<fake_vendor>();
};

std::string doc_key(const std::string& ext, const std::string& doc) {
  return "perfectparser:extraction.document_completed:" + ext + ":" + doc;
}
std::string job_key(const std::string& ext) { return "perfectparser:extraction.job_completed:" + ext; }

}  // namespace

TEST_SUITE("poller") {
  TEST_CASE("an extraction without webhooks is polled only after the grace period, each document once, as a poll") {
    setup s;
    s.vendor->exts["ext_1"] = {"completed", iso(1), {{"d1"}, {"d2"}}};
    instance a(s.clock, s.store, s.vendor);
    REQUIRE(a.poller->watch("ext_1"));
    s.clock->advance(10min - 1ms);
    CHECK(a.round().polled == 0);
    CHECK(s.vendor->total() == 0);
    s.clock->advance(1ms);
    const auto r = a.round();
    CHECK(r.polled == 1);
    CHECK(r.recovered == 3);
    std::sort(a.handled.begin(), a.handled.end());
    CHECK(a.handled == std::vector<std::string>{doc_key("ext_1", "d1") + " poll", doc_key("ext_1", "d2") + " poll",
                                                job_key("ext_1") + " poll"});
    CHECK(s.vendor->calls["get_extraction"] == 1);
    CHECK(s.vendor->calls["get_document"] == 2);
    CHECK(a.poller->counters().documents_recovered == 2);
    CHECK(a.poller->counters().jobs_recovered == 1);
    // One log line per recovery, naming the key.
    CHECK(std::count_if(a.log.begin(), a.log.end(), [](const std::string& l) {
            return l.find("recovered perfectparser:extraction.document_completed:ext_1:d1") != std::string::npos;
          }) == 1);
    // Settled: no further calls however long we wait.
    s.clock->advance(24h);
    CHECK(a.round().polled == 0);
    CHECK(s.vendor->total() == 3);
  }

  TEST_CASE("documents whose webhooks came cost no request: only the missing one is fetched") {
    bool async = false;
    SUBCASE("accept") { async = false; }
    SUBCASE("accept_async") { async = true; }
    setup s;
    s.vendor->exts["ext_2"] = {"completed", iso(2), {{"d1"}, {"d2"}, {"d3"}}};
    instance a(s.clock, s.store, s.vendor);
    a.async = async;
    CHECK(a.deliver(hookrx::provider::perfectparser, doc_webhook("ext_2", "d1")) == "queued");
    CHECK(a.deliver(hookrx::provider::perfectparser, doc_webhook("ext_2", "d3")) == "queued");
    a.drain();
    s.clock->advance(10min);
    a.round();
    CHECK(s.vendor->calls["get_extraction"] == 1);
    CHECK(s.vendor->calls["get_document"] == 1);  // d2 only
    CHECK(a.poller->counters().skipped_known == 2);
    std::sort(a.handled.begin(), a.handled.end());
    CHECK(a.handled == std::vector<std::string>{doc_key("ext_2", "d1") + " webhook", doc_key("ext_2", "d2") + " poll",
                                                doc_key("ext_2", "d3") + " webhook", job_key("ext_2") + " poll"});
  }

  TEST_CASE("a job webhook that accounts for every document settles the extraction without any request") {
    bool async = false;
    SUBCASE("accept") { async = false; }
    SUBCASE("accept_async") { async = true; }
    setup s;
    s.vendor->exts["ext_3"] = {"completed", iso(3), {{"d1"}, {"d2"}}};
    instance a(s.clock, s.store, s.vendor);
    a.async = async;
    CHECK(a.deliver(hookrx::provider::perfectparser, doc_webhook("ext_3", "d1")) == "queued");
    CHECK(a.deliver(hookrx::provider::perfectparser, doc_webhook("ext_3", "d1")) == "duplicate");  // not counted twice
    CHECK(a.deliver(hookrx::provider::perfectparser, doc_webhook("ext_3", "d2")) == "queued");
    CHECK(a.deliver(hookrx::provider::perfectparser, job_webhook("ext_3", 2)) == "queued");
    s.clock->advance(1h);
    a.round();
    CHECK(s.vendor->total() == 0);
    CHECK(a.handled.size() == 3);
  }

  TEST_CASE("a job webhook that counts more documents than arrived keeps the extraction watched until polled") {
    bool async = false;
    SUBCASE("accept") { async = false; }
    SUBCASE("accept_async") { async = true; }
    setup s;
    s.vendor->exts["ext_4"] = {"completed", iso(4), {{"d1"}, {"d2"}}};
    instance a(s.clock, s.store, s.vendor);
    a.async = async;
    CHECK(a.deliver(hookrx::provider::perfectparser, doc_webhook("ext_4", "d1")) == "queued");
    CHECK(a.deliver(hookrx::provider::perfectparser, job_webhook("ext_4", 2)) == "queued");
    s.clock->advance(10min);
    a.round();
    CHECK(s.vendor->calls["get_document"] == 1);
    CHECK(a.handled.size() == 3);
    CHECK(std::count(a.handled.begin(), a.handled.end(), doc_key("ext_4", "d2") + " poll") == 1);
  }

  TEST_CASE("a webhook that arrives after its document was polled is a duplicate and does not act again") {
    setup s;
    s.vendor->exts["ext_5"] = {"completed", iso(5), {{"d1"}}};
    instance a(s.clock, s.store, s.vendor);
    REQUIRE(a.poller->watch("ext_5"));
    s.clock->advance(10min);
    a.round();
    CHECK(a.deliver(hookrx::provider::perfectparser, doc_webhook("ext_5", "d1")) == "duplicate");
    CHECK(a.deliver(hookrx::provider::perfectparser, job_webhook("ext_5", 1)) == "duplicate");
    a.drain();
    CHECK(a.handled.size() == 2);
  }

  TEST_CASE("an extraction still running is polled again later with backoff, then recovered once it finishes") {
    setup s;
    s.vendor->exts["ext_6"] = {"processing", iso(6), {{"d1"}, {"d2", "processing"}}};
    instance a(s.clock, s.store, s.vendor);
    REQUIRE(a.poller->watch("ext_6"));
    s.clock->advance(10min);
    a.round();
    CHECK(a.handled == std::vector<std::string>{doc_key("ext_6", "d1") + " poll"});
    auto w = s.store->watched(hookrx::provider::perfectparser, "ext_6");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK((*w)->polls == 1);
    CHECK((*w)->due_at == s.clock->now() + 2min);  // the first backoff step, jitter draw 0.5 = none
    s.vendor->exts["ext_6"] = {"completed", iso(7), {{"d1"}, {"d2"}}};
    s.clock->advance(2min);
    a.round();
    CHECK(s.vendor->calls["get_document"] == 2);  // d1 was known: not fetched again
    CHECK(a.handled.size() == 3);
  }

  TEST_CASE("a document whose fetch fails is retried on a later round and the extraction stays watched") {
    setup s;
    s.vendor->exts["ext_7"] = {"completed", iso(7), {{"d1"}, {"d2"}}};
    s.vendor->failing.insert("d2");
    instance a(s.clock, s.store, s.vendor);
    REQUIRE(a.poller->watch("ext_7"));
    s.clock->advance(10min);
    const auto r = a.round();
    CHECK(r.errors == 1);
    CHECK(a.handled == std::vector<std::string>{doc_key("ext_7", "d1") + " poll"});  // no job event yet
    s.vendor->failing.clear();
    s.clock->advance(4min);
    a.round();
    CHECK(a.handled.size() == 3);
    CHECK(a.poller->counters().errors == 1);
  }

  TEST_CASE("the sweep catches unregistered extractions and its watermark never passes one left open") {
    setup s;
    auto options = instance::defaults();
    options.sweep = true;
    options.sweep_overlap = 0ms;
    options.first_sweep_lookback = 1000h;
    s.vendor->page_size = 1;
    s.vendor->exts["ext_a"] = {"completed", iso(10), {{"a1"}}};
    s.vendor->exts["ext_b"] = {"completed", iso(20), {{"b1"}}};
    s.vendor->exts["ext_c"] = {"completed", iso(30), {{"c1"}}};
    s.vendor->exts["ext_p"] = {"processing", iso(15), {{"p1", "processing"}}};
    s.vendor->failing.insert("b1");
    instance a(s.clock, s.store, s.vendor, options);
    a.round();
    auto mark = s.store->watermark("perfectparser:sweep");
    REQUIRE(mark.has_value());
    REQUIRE(mark->has_value());
    CHECK(hookrx::to_iso8601(**mark) == iso(15));  // ext_b failed: the mark stays before it
    CHECK(a.handled.size() == 4);                  // a1, its job, c1, its job
    s.vendor->failing.clear();
    s.vendor->list_since.clear();
    s.clock->advance(5min);
    const int before = s.vendor->calls["get_extraction"];
    a.round();  // ext_b is also watched now; the sweep starts at the mark
    CHECK(s.vendor->list_since.front() == iso(15));
    mark = s.store->watermark("perfectparser:sweep");
    REQUIRE(mark->has_value());
    CHECK(hookrx::to_iso8601(**mark) == iso(30));
    CHECK(a.handled.size() == 6);
    // ext_c was settled by the first sweep: seen again in this one, it cost no request.
    CHECK(s.vendor->calls["get_extraction"] - before == 1);  // ext_b only
  }

  TEST_CASE("a restart in the middle of a sweep resumes at the last page it settled, fetching no page twice") {
    setup s;
    auto options = instance::defaults();
    options.sweep = true;
    options.sweep_overlap = 0ms;
    options.first_sweep_lookback = 1000h;
    s.vendor->page_size = 2;
    for (int i = 0; i < 10; ++i) {
      const std::string id = "ext_" + std::to_string(i);
      s.vendor->exts[id] = {"completed", iso(10 + i), {{id + "_d"}}};
    }
    {
      instance first(s.clock, s.store, s.vendor, options, "first");
      // The third list call fails: the process "dies" there (its round ends, it is dropped).
      struct failing_third final : hookrx::poller_api {
        std::shared_ptr<fake_vendor> v;
        int lists = 0;
        hookrx::api_result<hookrx::pp_extraction> get_extraction(std::string_view id) override {
          return v->get_extraction(id);
        }
        hookrx::api_result<hookrx::pp_document> get_document(std::string_view e, std::string_view d) override {
          return v->get_document(e, d);
        }
        hookrx::api_result<hookrx::pp_extraction_page> list_extractions_page(const hookrx::list_extractions_query& q,
                                                                             std::string_view c) override {
          if (++lists == 3) return transient();
          return v->list_extractions_page(q, c);
        }
        hookrx::api_result<hookrx::parashift_document> get_parashift_document(std::string_view id) override {
          return v->get_parashift_document(id);
        }
      };
      auto api = std::make_shared<failing_third>();
      api->v = s.vendor;
      auto p = hookrx::poller::create(s.store, s.store, s.store, api, first.handlers, options, s.clock);
      REQUIRE(p.has_value());
      (void)(*p)->wrap(first.box->acceptor());
      REQUIRE((*p)->run_once().has_value());
      first.drain();
      CHECK(first.handled.size() == 8);  // 4 extractions on the two pages that came
    }
    auto mark = s.store->watermark("perfectparser:sweep");
    REQUIRE(mark.has_value());
    REQUIRE(mark->has_value());
    CHECK(hookrx::to_iso8601(**mark) == iso(13));
    s.vendor->list_since.clear();
    s.vendor->calls.clear();
    s.clock->advance(2min);  // the dead instance's lease (90 s) ran out
    instance second(s.clock, s.store, s.vendor, options, "second");
    second.round();
    CHECK(second.handled.size() == 12);  // the 6 extractions not seen before, each doc + job
    CHECK(s.vendor->list_since.front() == iso(13));
    // Pages: ext_3 (the mark itself) .. ext_9 = 7 rows, 4 pages; ext_3 settled, so no fetch for it.
    CHECK(s.vendor->calls["list_extractions"] == 4);
    CHECK(s.vendor->calls["get_extraction"] == 6);
    CHECK(s.vendor->calls["get_document"] == 6);
  }

  TEST_CASE("a Parashift terminal topic acts once per document, by webhook or by poll, whichever comes first") {
    bool async = false;
    SUBCASE("accept") { async = false; }
    SUBCASE("accept_async") { async = true; }
    setup s;
    s.vendor->ps_docs["101"] = {"done", "2026-06-20T10:05:00.000Z"};
    s.vendor->ps_docs["102"] = {"failed", "2026-06-20T10:06:00.000Z"};
    instance a(s.clock, s.store, s.vendor);
    a.async = async;
    const hookrx::time_point expected = s.clock->now() + 1min;
    REQUIRE(a.poller->watch_parashift("101", expected));
    REQUIRE(a.poller->watch_parashift("102", expected));
    // 101: the webhook comes first (its updated_at differs from what a poll would see later).
    CHECK(a.deliver(hookrx::provider::parashift,
                    ps_webhook("101", "processing-finished", "2026-06-20T10:04:59.000Z")) == "queued");
    s.clock->advance(1min + 5min - 1ms);
    a.round();
    CHECK(s.vendor->total() == 0);  // not overdue yet
    s.clock->advance(1ms);
    a.round();
    // 101's webhook took it off the watch list: only 102 is fetched.
    CHECK(s.vendor->calls["parashift_document"] == 1);
    // 102: polled first; its late webhook (another updated_at, so another key) is a duplicate.
    CHECK(a.deliver(hookrx::provider::parashift, ps_webhook("102", "processing-failed", "2026-06-20T10:07:00.000Z")) ==
          "duplicate");
    a.drain();
    std::sort(a.handled.begin(), a.handled.end());
    CHECK(a.handled == std::vector<std::string>{"parashift:processing-failed:102:2026-06-20T10:06:00.000Z poll",
                                                "parashift:processing-finished:101:2026-06-20T10:04:59.000Z webhook"});
  }

  TEST_CASE("one of two instances on one store polls, and the other takes over once the leader stops renewing") {
    setup s;
    s.vendor->exts["ext_l"] = {"completed", iso(1), {{"d1"}}};
    instance a(s.clock, s.store, s.vendor, instance::defaults(), "a");
    instance b(s.clock, s.store, s.vendor, instance::defaults(), "b");
    CHECK(a.round().leader);
    CHECK_FALSE(b.round().leader);
    REQUIRE(b.poller->watch("ext_l"));
    s.clock->advance(10min);  // a's lease (90 s) ran out while it did nothing
    CHECK(b.round().leader);
    CHECK_FALSE(a.round().leader);
    CHECK(b.handled.size() + a.handled.size() == 2);
    CHECK(s.vendor->calls["get_extraction"] == 1);
  }

  TEST_CASE("a store failure while settling a job webhook answers 503, and the sender's retry settles it") {
    bool async = false;
    SUBCASE("accept") { async = false; }
    SUBCASE("accept_async") { async = true; }
    // The poll role of a store that fails its next watch() call.
    struct flaky_poll final : hookrx::poll_store {
      std::shared_ptr<hookrx::memory_store> real;
      int fail_watch = 0;
      hookrx::result<bool> watch(const hookrx::watch_entry& e) override {
        if (fail_watch > 0) {
          --fail_watch;
          return hookrx::error(hookrx::errc::store_unavailable, "flaky: down");
        }
        return real->watch(e);
      }
      hookrx::status note_document(hookrx::provider p, std::string_view id, hookrx::time_point t) override {
        return real->note_document(p, id, t);
      }
      hookrx::result<std::vector<hookrx::watch_entry>> due(std::size_t max) override { return real->due(max); }
      hookrx::status reschedule(hookrx::provider p, std::string_view id, hookrx::time_point t) override {
        return real->reschedule(p, id, t);
      }
      hookrx::status unwatch(hookrx::provider p, std::string_view id) override { return real->unwatch(p, id); }
      hookrx::result<std::optional<hookrx::watch_entry>> watched(hookrx::provider p, std::string_view id) override {
        return real->watched(p, id);
      }
      hookrx::result<std::optional<hookrx::time_point>> watermark(std::string_view n) override {
        return real->watermark(n);
      }
      hookrx::status set_watermark(std::string_view n, hookrx::time_point t) override {
        return real->set_watermark(n, t);
      }
      hookrx::result<bool> try_lead(std::string_view n, std::string_view h, std::chrono::milliseconds l) override {
        return real->try_lead(n, h, l);
      }
      hookrx::status resign(std::string_view n, std::string_view h) override { return real->resign(n, h); }
    };
    setup s;
    s.vendor->exts["ext_f"] = {"completed", iso(1), {{"d1"}}};
    auto flaky = std::make_shared<flaky_poll>();
    flaky->real = s.store;
    hookrx::dispatcher handlers;
    std::vector<std::string> handled;
    handlers.on_any([&](const hookrx::event& ev) { handled.push_back(ev.key()); });
    auto box = hookrx::inbox::create(s.store, handlers, {}, s.clock, [] { return 0.5; });
    auto p = hookrx::poller::create(flaky, s.store, s.store, s.vendor, handlers, instance::defaults(), s.clock);
    REQUIRE(p.has_value());
    auto accept = (*p)->wrap(box->acceptor());
    const auto deliver = [&](const std::string& body) {
      auto ev = hookrx::parse_event(hookrx::provider::perfectparser, body);
      REQUIRE(ev.has_value());
      std::optional<hookrx::result<hookrx::disposition>> r;
      if (async) {
        accept->accept_async(std::move(*ev), hookrx::request_view(), handlers,
                             [&r](hookrx::result<hookrx::disposition> got) { r = std::move(got); });
      } else {
        r = accept->accept(std::move(*ev), hookrx::request_view(), handlers);
      }
      REQUIRE(r.has_value());
      return *r ? std::string(hookrx::to_string(**r)) : std::string(hookrx::to_string(r->error().code()));
    };
    // The job webhook came, its document's did not: the extraction must end up watched.
    flaky->fail_watch = 1;
    CHECK(deliver(job_webhook("ext_f", 1)) == "store_unavailable");
    CHECK(deliver(job_webhook("ext_f", 1)) == "duplicate");  // the retry: not run twice, but settled
    s.clock->advance(10min);
    REQUIRE((*p)->run_once().has_value());
    while (true) {
      auto pass = box->process_due();
      REQUIRE(pass.has_value());
      if (pass->handled == 0) break;
    }
    std::sort(handled.begin(), handled.end());
    CHECK(handled == std::vector<std::string>{doc_key("ext_f", "d1"), job_key("ext_f")});
  }

  TEST_CASE("start() runs rounds on a thread until stop(), which gives the lease up") {
    setup s;
    s.vendor->exts["ext_t"] = {"completed", iso(1), {{"d1"}}};
    auto options = instance::defaults();
    options.grace = 0ms;
    options.round_interval = 5ms;
    instance a(s.clock, s.store, s.vendor, options, "threaded");
    REQUIRE(a.poller->watch("ext_t"));
    a.poller->start();
    a.poller->start();  // idempotent
    // Waits for the outcome (bounded), it does not time it.
    for (int i = 0; i < 2000 && a.poller->counters().jobs_recovered == 0; ++i) {
      std::this_thread::sleep_for(1ms);
    }
    a.poller->stop();
    CHECK(a.poller->counters().documents_recovered == 1);
    CHECK(a.poller->counters().jobs_recovered == 1);
    auto other = s.store->try_lead(options.lease_name, "other", 1min);
    REQUIRE(other.has_value());
    CHECK(*other);  // resigned on stop: no need to wait for the lease to run out
    a.drain();
    CHECK(a.handled.size() == 2);
  }

  TEST_CASE("the thread waits through the injected wait, which moves the manual clock past the grace period") {
    setup s;
    s.vendor->exts["ext_w"] = {"completed", iso(1), {{"d1"}, {"d2"}}};
    auto options = instance::defaults();
    options.round_interval = 1min;
    std::atomic<int> waits{0};
    options.wait = [&](std::chrono::milliseconds d) {
      s.clock->advance(d);  // no sleeping: each round is a minute later
      std::this_thread::yield();
      return waits.fetch_add(1) < 100000;
    };
    instance a(s.clock, s.store, s.vendor, options, "waits");
    REQUIRE(a.poller->watch("ext_w"));
    a.poller->start();
    for (int i = 0; i < 5000 && a.poller->counters().jobs_recovered == 0; ++i) {
      std::this_thread::sleep_for(1ms);
    }
    a.poller->stop();
    CHECK(waits.load() >= 10);  // ten minutes of grace passed through the injected wait
    CHECK(a.poller->counters().documents_recovered == 2);
  }

  TEST_CASE("options that cannot work are refused with the option named") {
    setup s;
    hookrx::dispatcher d;
    auto o = instance::defaults();
    o.page_limit = 500;
    auto p = hookrx::poller::create(s.store, s.store, s.store, s.vendor, d, o, s.clock);
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().message().find("page_limit") != std::string::npos);
    p = hookrx::poller::create(nullptr, s.store, s.store, s.vendor, d, instance::defaults(), s.clock);
    CHECK_FALSE(p.has_value());
  }
}
