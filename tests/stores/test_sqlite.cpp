// The SQLite store: the shared conformance suite, plus what only SQLite has (a file that survives
// the process, group commit, several processes on one file).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "../temp_db.hpp"
#include "hookrx/sqlite_store.hpp"

namespace {

using hookrx_test::temp_db;

std::shared_ptr<hookrx::sqlite_store> open_store(const std::string& path, std::shared_ptr<const hookrx::clock> clock) {
  hookrx::sqlite_options options;
  options.path = path;
  auto store = hookrx::sqlite_store::open(options, std::move(clock));
  REQUIRE_MESSAGE(store.has_value(), (store ? std::string() : store.error().message()));
  return *store;
}

hookrx::inbox_record record(std::string key, std::string body = R"({"event":"x"})") {
  hookrx::inbox_record r;
  r.key = std::move(key);
  r.event_name = "x";
  r.body = std::move(body);
  r.received_at = hookrx::system_clock()->now();
  return r;
}

}  // namespace

struct store_fixture {
  static constexpr const char* backend = "sqlite";
  static constexpr bool offers_leased = true;  // offer_leased() leases; the suite requires it
  temp_db db;
  std::shared_ptr<hookrx::manual_clock> clock = std::make_shared<hookrx::manual_clock>();
  std::shared_ptr<hookrx::sqlite_store> store = open_store(db.path(), clock);
  std::shared_ptr<hookrx::dedup_store> dedup = store;
  std::shared_ptr<hookrx::inbox_store> inbox = store;
  std::shared_ptr<hookrx::poll_store> poll = store;
};
#include "conformance_cases.hpp"

TEST_SUITE("sqlite store") {
  TEST_CASE("a database made before the origin column opens, keeps its entries and gains the column") {
    temp_db db;
    {
      sqlite3* raw = nullptr;
      REQUIRE(sqlite3_open(db.path().c_str(), &raw) == SQLITE_OK);
      // The inbox table as the first release created it, with one queued delivery.
      const char* old_schema = R"sql(
CREATE TABLE hookrx_inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, provider INTEGER NOT NULL,
  event_name TEXT NOT NULL, body BLOB, headers TEXT NOT NULL, received_at INTEGER NOT NULL,
  state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0, lease_token INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '', expires_at INTEGER NOT NULL DEFAULT 0);
INSERT INTO hookrx_inbox (key, provider, event_name, body, headers, received_at, state, next_attempt_at)
VALUES ('old-key', 0, 'x', '{}', '', 0, 0, 0);)sql";
      CHECK(sqlite3_exec(raw, old_schema, nullptr, nullptr, nullptr) == SQLITE_OK);
      sqlite3_close(raw);
    }
    auto clock = std::make_shared<hookrx::manual_clock>();
    auto store = open_store(db.path(), clock);
    auto polled = record("new-key");
    polled.origin = hookrx::delivery_origin::poll;
    auto offered = store->offer(polled);
    REQUIRE(offered.has_value());
    CHECK(*offered == hookrx::offer_state::queued);
    auto leased = store->lease(10, std::chrono::seconds(30));
    REQUIRE(leased.has_value());
    REQUIRE(leased->size() == 2);
    CHECK((*leased)[0].record.key == "old-key");
    CHECK((*leased)[0].record.origin == hookrx::delivery_origin::webhook);
    CHECK((*leased)[1].record.origin == hookrx::delivery_origin::poll);
  }

  TEST_CASE("queued deliveries survive closing and reopening the database") {
    temp_db db;
    auto clock = std::make_shared<hookrx::manual_clock>();
    {
      auto store = open_store(db.path(), clock);
      for (int i = 0; i < 20; ++i) {
        auto offered = store->offer(record("k" + std::to_string(i), std::string("body\0\xff", 6) + std::to_string(i)));
        REQUIRE(offered.has_value());
        CHECK(*offered == hookrx::offer_state::queued);
      }
    }
    auto store = open_store(db.path(), clock);
    auto again = store->offer(record("k7"));
    REQUIRE(again.has_value());
    CHECK(*again == hookrx::offer_state::duplicate);
    auto leased = store->lease(100, std::chrono::seconds(30));
    REQUIRE(leased.has_value());
    CHECK(leased->size() == 20);
  }

  TEST_CASE("an offer_async completion may call back into the store: it is answered, not left waiting") {
    temp_db db;
    auto clock = std::make_shared<hookrx::manual_clock>();
    auto store = open_store(db.path(), clock);
    std::promise<std::string> answer;
    std::future<std::string> got = answer.get_future();
    // The completion runs on the writer thread; its release() must not wait for that thread.
    store->offer_async(record("k"), std::chrono::seconds(30), [&](hookrx::result<hookrx::leased_offer> r) {
      if (!r || !r->entry) {
        answer.set_value("no leased entry");
        return;
      }
      const hookrx::status released = store->release(r->entry->id, r->entry->lease_token);
      const auto again = store->get(r->entry->id);
      answer.set_value(!released                                        ? "release failed"
                       : !again || !*again                              ? "entry gone"
                       : (*again)->state != hookrx::entry_state::queued ? "not queued again"
                                                                        : "ok");
    });
    REQUIRE(got.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    CHECK(got.get() == "ok");
    const auto leased = store->lease(10, std::chrono::seconds(30));
    REQUIRE(leased.has_value());
    REQUIRE(leased->size() == 1);
    CHECK(leased->front().attempts == 1);  // the release gave the offer's attempt back
  }

  TEST_CASE("wait_async returns once every earlier offer_async has called its completion") {
    temp_db db;
    auto store = open_store(db.path(), std::make_shared<hookrx::manual_clock>());
    constexpr int offers = 50;
    std::atomic<int> completed{0};
    for (int i = 0; i < offers; ++i) {
      store->offer_async(record("k" + std::to_string(i)), std::nullopt,
                         [&](const hookrx::result<hookrx::leased_offer>& r) {
                           if (r && r->state == hookrx::offer_state::queued) completed.fetch_add(1);
                         });
    }
    store->wait_async();
    CHECK(completed.load() == offers);
    store->wait_async();  // nothing pending: returns at once
  }

  TEST_CASE("wait_async also waits for what a completion queued in turn") {
    // The poller's document path: the offer's completion queues a note, whose completion answers.
    // A marker queued behind the offers alone would be passed before the notes complete.
    temp_db db;
    auto store = open_store(db.path(), std::make_shared<hookrx::manual_clock>());
    constexpr int offers = 50;
    std::atomic<int> answered{0};
    for (int i = 0; i < offers; ++i) {
      store->offer_async(record("k" + std::to_string(i)), std::nullopt,
                         [&](const hookrx::result<hookrx::leased_offer>& r) {
                           if (!r) return;
                           store->note_document_async(hookrx::provider::perfectparser, "ext_chain",
                                                      hookrx::time_point{}, [&](const hookrx::status& st) {
                                                        if (st) answered.fetch_add(1);
                                                      });
                         });
    }
    store->wait_async();
    CHECK(answered.load() == offers);
    auto w = store->watched(hookrx::provider::perfectparser, "ext_chain");
    REQUIRE(w.has_value());
    REQUIRE(w->has_value());
    CHECK((*w)->documents_seen == offers);
  }

  TEST_CASE("a write that fails takes nothing else of its commit with it") {
    temp_db db;
    auto store = open_store(db.path(), std::make_shared<hookrx::manual_clock>());
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &other) == SQLITE_OK);
    // Every tenth offer fails inside the writer's transaction, as a full disk or a corrupt page
    // would fail one statement.
    REQUIRE(sqlite3_exec(other,
                         "CREATE TRIGGER poison BEFORE INSERT ON hookrx_inbox WHEN NEW.key LIKE 'poison-%' "
                         "BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    // Holding the write lock while the offers are queued puts them in shared commits.
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    constexpr int offers = 200;
    std::atomic<int> stored{0};
    std::atomic<int> refused{0};
    std::atomic<int> wrong{0};
    for (int i = 0; i < offers; ++i) {
      const bool poison = i % 10 == 3;
      store->offer_async(record((poison ? "poison-" : "good-") + std::to_string(i)), std::nullopt,
                         [&, poison](const hookrx::result<hookrx::leased_offer>& r) {
                           if (poison && !r && r.error().code() == hookrx::errc::store_unavailable) {
                             refused.fetch_add(1);
                           } else if (!poison && r && r->state == hookrx::offer_state::queued) {
                             stored.fetch_add(1);
                           } else {
                             wrong.fetch_add(1);
                           }
                         });
    }
    REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    store->wait_async();
    sqlite3_close(other);
    CHECK(wrong.load() == 0);
    CHECK(refused.load() == offers / 10);
    CHECK(stored.load() == offers - offers / 10);
    CHECK(store->stats().commits < static_cast<std::uint64_t>(offers / 10));  // failures shared commits
    auto listed = store->list(hookrx::entry_state::queued, 1000);
    REQUIRE(listed.has_value());
    CHECK(listed->size() == static_cast<std::size_t>(offers - offers / 10));
    for (const auto& e : *listed) CHECK(e.record.key.rfind("good-", 0) == 0);
  }

  TEST_CASE("concurrent offers share commits and each returns only once committed") {
    temp_db db;
    auto store = open_store(db.path(), hookrx::system_clock());
    constexpr int threads = 32;
    constexpr int per_thread = 50;
    std::atomic<int> queued{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
      senders.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          auto r = store->offer(record("t" + std::to_string(t) + "-" + std::to_string(i)));
          if (r && *r == hookrx::offer_state::queued) ++queued;
        }
      });
    }
    for (auto& s : senders) s.join();
    CHECK(queued == threads * per_thread);
    const auto stats = store->stats();
    CHECK(stats.writes == static_cast<std::uint64_t>(threads * per_thread));
    // Group commit: with 32 writers waiting at once, commits carry several writes each.
    CHECK(stats.commits < stats.writes);
    // Every acknowledged offer is in the file, as a second connection sees it.
    auto other = open_store(db.path(), hookrx::system_clock());
    auto listed = other->list(hookrx::entry_state::queued, 10000);
    REQUIRE(listed.has_value());
    CHECK(listed->size() == static_cast<std::size_t>(threads * per_thread));
  }

  TEST_CASE("under a sustained writer the WAL is checkpointed, written from its start again and stays bounded") {
    // Small checkpoints so that a few thousand writes go round the WAL many times. Without
    // working checkpoints these writes alone make a WAL of several thousand pages.
    constexpr int checkpoint_pages = 64;
    for (const int threads : {1, 8}) {
      CAPTURE(threads);
      temp_db db;
      hookrx::sqlite_options options;
      options.path = db.path();
      options.checkpoint_pages = checkpoint_pages;
      auto opened = hookrx::sqlite_store::open(options);
      REQUIRE(opened.has_value());
      const std::shared_ptr<hookrx::sqlite_store> store = *opened;
      const int per_thread = 2400 / threads;
      std::atomic<int> queued{0};
      std::vector<std::thread> senders;
      for (int t = 0; t < threads; ++t) {
        senders.emplace_back([&, t] {
          for (int i = 0; i < per_thread; ++i) {
            auto r = store->offer(record("t" + std::to_string(t) + "-" + std::to_string(i), std::string(1024, 'b')));
            if (r && *r == hookrx::offer_state::queued) ++queued;
          }
        });
      }
      for (auto& s : senders) s.join();
      CHECK(queued == threads * per_thread);
      CHECK(store->stats().wal_restarts > 0);
      // SQLite never shrinks the WAL file while it is open (journal_size_limit is not set), so
      // its size now is the most it ever held: at most the forced-checkpoint size (4x) plus the
      // transaction that crossed it, a few pages here, in frames of a 24-byte header and a page.
      const auto wal_bytes = std::filesystem::file_size(db.path() + "-wal");
      CHECK(wal_bytes <= static_cast<std::uintmax_t>(4 * checkpoint_pages + 64) * (4096 + 24) + 32);
      auto listed = store->list(hookrx::entry_state::queued, 10000);
      REQUIRE(listed.has_value());
      CHECK(listed->size() == static_cast<std::size_t>(threads * per_thread));
    }
  }

  TEST_CASE("a database that cannot be opened is store_unavailable with the reason") {
    hookrx::sqlite_options options;
    options.path = "/nonexistent-dir/for/hookrx.db";
    auto store = hookrx::sqlite_store::open(options);
    REQUIRE_FALSE(store.has_value());
    CHECK(store.error().code() == hookrx::errc::store_unavailable);
    CHECK(store.error().detail().find("cannot open") != std::string::npos);
  }
}
