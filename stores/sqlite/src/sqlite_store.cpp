#include "hookrx/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#include "millis.hpp"

namespace hookrx {
namespace {

// Stored state codes, shared by both tables.
enum : int { queued = 0, leased = 1, done = 2, dead = 3, claimed = 4 };

using detail::add_ms;
using detail::from_ms;
using detail::to_ms;

error sqlite_error(sqlite3* db, std::string_view what) {
  std::string detail = "sqlite: ";
  detail.append(what).append(": ").append(db != nullptr ? sqlite3_errmsg(db) : "out of memory");
  return {errc::store_unavailable, std::move(detail)};
}

// One prepared statement in use: bound, stepped, and reset for the next use when it goes away.
class statement {
 public:
  statement(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  statement& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  statement& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  /// SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return sqlite3_step(s_); }
  /// Runs a statement that returns no rows; the number of rows it changed.
  result<std::size_t> run(std::string_view what) {
    if (step() != SQLITE_DONE) return sqlite_error(db_, what);
    return static_cast<std::size_t>(sqlite3_changes(db_));
  }
  [[nodiscard]] std::int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  [[nodiscard]] sqlite3_stmt* raw() const noexcept { return s_; }
  [[nodiscard]] std::string text(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// A connection with its prepared statements, used by one thread at a time.
class connection {
 public:
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  status open(const std::string& path, int flags) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      return sqlite_error(db_, "cannot open " + path);
    }
    sqlite3_extended_result_codes(db_, 1);
    return {};
  }
  status exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return sqlite_error(db_, sql);
    return {};
  }
  /// The cached statement for `sql` (a string literal: its address is the cache key).
  result<statement> prepare(const char* sql) {
    sqlite3_stmt*& s = cache_[sql];
    if (s == nullptr && sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      return sqlite_error(db_, "prepare");
    }
    return result<statement>(std::in_place, db_, s);
  }
  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS hookrx_dedup (
  key TEXT PRIMARY KEY,
  state INTEGER NOT NULL,
  token INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hookrx_inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  provider INTEGER NOT NULL,
  event_name TEXT NOT NULL,
  body BLOB,
  headers TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0,
  lease_token INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  expires_at INTEGER NOT NULL DEFAULT 0,
  origin INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS hookrx_inbox_due ON hookrx_inbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS hookrx_watch (
  provider INTEGER NOT NULL,
  id TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  polls INTEGER NOT NULL DEFAULT 0,
  documents_seen INTEGER NOT NULL DEFAULT 0,
  expected_at INTEGER,
  PRIMARY KEY (provider, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hookrx_watch_due ON hookrx_watch (due_at);
CREATE TABLE IF NOT EXISTS hookrx_watermark (name TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hookrx_leader (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;
)sql";

constexpr const char* watch_columns = "provider, id, due_at, polls, documents_seen, expected_at";

constexpr const char* entry_columns =
    "id, key, provider, event_name, body, headers, received_at, state, attempts, next_attempt_at, lease_until, "
    "lease_token, last_error, origin";

inbox_entry read_entry(const statement& s) {
  inbox_entry e;
  e.id = s.integer(0);
  e.record.key = s.text(1);
  e.record.source = static_cast<provider>(s.integer(2));
  e.record.event_name = s.text(3);
  e.record.body = s.text(4);
  e.record.headers = s.text(5);
  e.record.received_at = from_ms(s.integer(6));
  e.state = static_cast<entry_state>(s.integer(7));
  e.attempts = static_cast<int>(s.integer(8));
  e.next_attempt_at = from_ms(s.integer(9));
  e.lease_until = from_ms(s.integer(10));
  e.lease_token = static_cast<std::uint64_t>(s.integer(11));
  e.last_error = s.text(12);
  e.record.origin = s.integer(13) == 1 ? delivery_origin::poll : delivery_origin::webhook;
  return e;
}

// What one stored offer wrote: whether the key was new, and the lease it was stored under.
struct stored_offer {
  offer_state state = offer_state::duplicate;
  std::int64_t id = 0;
  std::int64_t now = 0;
  std::int64_t lease_until = 0;
  std::uint64_t token = 0;
};
watch_entry read_watch(const statement& s, sqlite3_stmt* raw) {
  watch_entry e;
  e.source = s.integer(0) == 1 ? provider::parashift : provider::perfectparser;
  e.id = s.text(1);
  e.due_at = from_ms(s.integer(2));
  e.polls = static_cast<int>(s.integer(3));
  e.documents_seen = static_cast<int>(s.integer(4));
  if (sqlite3_column_type(raw, 5) != SQLITE_NULL) e.expected_at = from_ms(s.integer(5));
  return e;
}

}  // namespace

// Every write runs on the writer thread inside a batch transaction; readers use their own
// connection (WAL lets them read while the writer writes).
struct sqlite_store::impl {
  sqlite_options options;
  std::shared_ptr<const clock> time;
  connection writer;  // writer thread only
  connection reader;  // under reader_mutex
  std::mutex reader_mutex;
  std::mt19937_64 tokens{std::random_device{}()};  // writer thread only

  // One queued write. `run` executes inside the transaction and keeps its own result; it returns
  // false when SQLite failed, so that its savepoint is rolled back.
  struct write_op {
    std::function<bool(impl&)> run;
    std::optional<error> failure;  // set when the batch could not commit
    bool finished = false;
    // write_async(): called on the writer thread once the batch committed (or failed), instead
    // of waking a waiting thread.
    std::function<void(const std::optional<error>&)> then;
    // Its own, so that a commit wakes exactly the threads whose writes it carried: with one
    // shared condition every commit woke every waiting thread (dozens of I/O threads and workers),
    // and most went back to sleep, a context switch each.
    std::condition_variable committed;
  };
  std::mutex queue_mutex;
  std::condition_variable queued;
  std::deque<std::shared_ptr<write_op>> queue;
  bool stopping = false;
  // write_async() ops queued and not completed yet, for wait_async(). A completion that queues
  // another (the poller notes a document once its offer is stored) counts it before its own is
  // counted off, so the count reaches zero only when a whole chain has run.
  std::size_t async_pending = 0;
  std::condition_variable async_drained;
  std::thread writer_thread;
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> writes{0};

  // Checkpoints copy the WAL back into the database file. SQLite's automatic ones run inside a
  // COMMIT and stall every write waiting behind it (measured: 10 ms spikes every few thousand
  // writes), so they run here instead, on their own connection and thread, when the WAL has grown.
  //
  // Copying is not enough to bound the WAL: SQLite writes it from the beginning again only when
  // a write transaction begins with every frame already copied. A sustained writer appends while
  // each pass copies, so the passes never quite catch up and the WAL file keeps growing (traced:
  // 5,800 pages before a lucky restart). So passes run every few hundred new frames, and once the
  // WAL has checkpoint_pages and a pass leaves only a short tail (tail_pages()), the checkpointer
  // stops and hands the tail to the writer, which copies it between two transactions (traced:
  // 0.4-0.9 ms); its next transaction restarts the WAL, whose file is reused rather than grown.
  // At 4x checkpoint_pages the writer also waits for the pass in progress and checkpoints, which
  // bounds the WAL whatever the timing.
  connection checkpointer;
  std::thread checkpoint_thread;
  std::mutex checkpoint_mutex;
  std::condition_variable checkpoint_wanted;
  bool checkpoint_due = false;
  bool checkpoint_stopping = false;
  bool tail_for_writer = false;   // a pass left only a small tail, for the writer to copy
  std::mutex pass_mutex;          // held while a checkpoint runs, on either connection
  std::atomic<int> wal_pages{0};  // frames in the WAL after the last commit
  std::atomic<std::uint64_t> wal_restarts{0};
  std::atomic<int> copied_to{0};  // frames of the current WAL the last pass copied
  int forced_at = 0;              // writer thread only: the WAL size at which the writer checkpoints anyway

  // Passes start every `step` new frames (up to 2 MB of WAL), so that each writes a bounded part
  // of the database file: one large pass (4 MB and its fsync) queues ahead of the commits' WAL
  // fsyncs on the same disk. Not much smaller either: a pass writes each page it copies once, and
  // the pages a commit touches (the table's last leaves, the indexes' last leaves, their parents)
  // are the same from commit to commit, so shorter passes write them back more often, each pass
  // with its own fsync. Measured at 32 connections (serve, SQLite, alternating runs): passes
  // every 128 frames cost the checkpointer ~4 us per delivery; every 512, 4-11 % more deliveries
  // per second at 32 and 256 connections, p99 no higher.
  [[nodiscard]] int step_pages() const { return std::max(1, std::min(512, options.checkpoint_pages / 2)); }
  // The tail a pass may leave for the writer to copy between two transactions: short, since
  // every write waits while it does.
  [[nodiscard]] int tail_pages() const { return std::max(1, std::min(128, options.checkpoint_pages / 4)); }
  [[nodiscard]] int hard_limit() const { return 4 * options.checkpoint_pages; }

  static int on_wal_commit(void* self, sqlite3* /*db*/, const char* /*name*/, int pages) {
    auto* p = static_cast<impl*>(self);
    if (pages < p->wal_pages.exchange(pages, std::memory_order_relaxed)) {
      p->wal_restarts.fetch_add(1, std::memory_order_relaxed);
      p->copied_to.store(0, std::memory_order_relaxed);
    }
    if (pages - p->copied_to.load(std::memory_order_relaxed) >= p->step_pages()) {
      {
        const std::lock_guard<std::mutex> lock(p->checkpoint_mutex);
        p->checkpoint_due = true;
      }
      p->checkpoint_wanted.notify_one();
    }
    return SQLITE_OK;
  }

  void checkpoint_loop() {
    std::unique_lock<std::mutex> lock(checkpoint_mutex);
    while (true) {
      checkpoint_wanted.wait(lock, [&] { return checkpoint_stopping || (checkpoint_due && !tail_for_writer); });
      if (checkpoint_stopping) return;
      checkpoint_due = false;
      lock.unlock();
      int frames = 0;
      int copied = 0;
      int rc = SQLITE_OK;
      {
        const std::lock_guard<std::mutex> pass(pass_mutex);
        rc = sqlite3_wal_checkpoint_v2(checkpointer.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
      }
      // All this pass saw is copied (no reader held it back), so the tail is what the writer
      // appended meanwhile. A smaller WAL than the pass saw means it has restarted already.
      const int pages = wal_pages.load(std::memory_order_relaxed);
      if (rc == SQLITE_OK && pages >= copied) copied_to.store(copied, std::memory_order_relaxed);
      lock.lock();
      if (rc == SQLITE_OK && frames >= options.checkpoint_pages && copied == frames && pages >= frames &&
          pages - frames <= tail_pages()) {
        tail_for_writer = true;
      }
    }
  }

  // On the writer thread, before each transaction.
  void checkpoint_on_writer() {
    const int pages = wal_pages.load(std::memory_order_relaxed);
    if (pages < options.checkpoint_pages) forced_at = hard_limit();
    bool tail = false;
    {
      const std::lock_guard<std::mutex> lock(checkpoint_mutex);
      tail = tail_for_writer;
    }
    if (!tail && pages < forced_at) return;
    {
      const std::lock_guard<std::mutex> pass(pass_mutex);  // waits for a pass in progress
      (void)sqlite3_wal_checkpoint_v2(writer.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    // If a reader keeps the WAL from restarting, force the next checkpoint only after another
    // checkpoint_pages, not before every transaction.
    if (pages >= forced_at) forced_at = pages + options.checkpoint_pages;
    // This copied everything committed so far: no pass is due until the WAL grows again.
    const std::lock_guard<std::mutex> lock(checkpoint_mutex);
    tail_for_writer = false;
    checkpoint_due = false;
  }

  [[nodiscard]] std::int64_t now_ms() const { return to_ms(time->now()); }
  std::uint64_t new_token() {
    std::uint64_t t = 0;
    while (t == 0) t = tokens();
    return t;
  }

  // A write that runs `fn` inside the batch's transaction and keeps its result in `out`.
  template <class R, class F>
  static std::shared_ptr<write_op> make_op(F&& fn, const std::shared_ptr<std::optional<result<R>>>& out) {
    auto op = std::make_shared<write_op>();
    op->run = [out, f = std::forward<F>(fn)](impl& self) {
      out->emplace(f(self));
      return out->value().has_value() || out->value().error().code() != errc::store_unavailable;
    };
    return op;
  }

  // Queues `fn` for the next batch and waits until that batch has committed (or failed).
  template <class R, class F>
  result<R> write(F&& fn) {
    auto out = std::make_shared<std::optional<result<R>>>();
    auto op = make_op<R>(std::forward<F>(fn), out);
    if (std::this_thread::get_id() == writer_thread.get_id()) {
      // A completion of write_async() (they run on the writer thread, after their batch
      // committed) calling back into the store: queued, it would wait for this very thread.
      // It commits on its own instead.
      if (const std::optional<error> failure = commit({op})) return *failure;
      return std::move(**out);
    }
    std::unique_lock<std::mutex> lock(queue_mutex);
    if (stopping) return error(errc::store_unavailable, "sqlite: the store is closing");
    queue.push_back(op);
    queued.notify_one();
    op->committed.wait(lock, [&] { return op->finished; });
    if (op->failure) return *op->failure;
    return std::move(**out);
  }

  // write() without waiting: `done` gets the result on the writer thread once the batch that
  // carried it has committed (or failed), or at once when the store is closing.
  template <class R, class F>
  void write_async(F&& fn, std::function<void(result<R>)> done) {
    auto out = std::make_shared<std::optional<result<R>>>();
    auto op = make_op<R>(std::forward<F>(fn), out);
    op->then = [out, done = std::move(done)](const std::optional<error>& failure) {
      if (failure) {
        done(*failure);
      } else {
        done(std::move(**out));
      }
    };
    {
      const std::lock_guard<std::mutex> lock(queue_mutex);
      if (!stopping) {
        queue.push_back(std::move(op));
        ++async_pending;
        queued.notify_one();
        return;
      }
    }
    op->then(error(errc::store_unavailable, "sqlite: the store is closing"));
  }

  void write_loop() {
    std::vector<std::shared_ptr<write_op>> batch;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(queue_mutex);
        queued.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping with nothing left to write
        while (!queue.empty() && batch.size() < options.max_batch) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      checkpoint_on_writer();
      const std::optional<error> failure = commit(batch);
      {
        const std::lock_guard<std::mutex> lock(queue_mutex);
        for (const auto& op : batch) {
          op->failure = failure;
          op->finished = true;
          if (!op->then) op->committed.notify_one();
        }
      }
      std::size_t completed = 0;
      for (const auto& op : batch) {
        if (!op->then) continue;
        try {
          op->then(op->failure);
        } catch (...) {  // a completion that throws loses its own answer, never the writer
        }
        ++completed;
      }
      if (completed > 0) {
        const std::lock_guard<std::mutex> lock(queue_mutex);
        async_pending -= completed;
        if (async_pending == 0) async_drained.notify_all();
      }
      batch.clear();
    }
  }

  // Runs a batch in one transaction: one fsync for all of it. One failing write must not undo
  // the others, which a savepoint around each write ensures; but a savepoint pair costs more than
  // a tenth of a delivery's SQLite work (bench_sqlite_floor: +1.2 us on 13.5) and writes almost
  // never fail. So the batch runs without them first, and only if a write fails is all of it
  // rolled back and run again, each write in its own savepoint. Running a write again is safe:
  // the rollback took back everything its first run did, and its result is overwritten.
  std::optional<error> commit(const std::vector<std::shared_ptr<write_op>>& batch) {
    if (status st = run_prepared("BEGIN IMMEDIATE"); !st) return st.error();
    const bool all_ran =
        std::all_of(batch.begin(), batch.end(), [this](const std::shared_ptr<write_op>& op) { return op->run(*this); });
    if (!all_ran) {
      (void)writer.exec("ROLLBACK");  // may say no transaction is active: SQLite rolled back already
      if (status st = run_prepared("BEGIN IMMEDIATE"); !st) return st.error();
      for (const auto& op : batch) {
        (void)run_prepared("SAVEPOINT w");
        if (!op->run(*this)) (void)run_prepared("ROLLBACK TO w");
        (void)run_prepared("RELEASE w");
      }
    }
    if (status st = run_prepared("COMMIT"); !st) {
      (void)writer.exec("ROLLBACK");
      return st.error();
    }
    commits.fetch_add(1, std::memory_order_relaxed);
    writes.fetch_add(batch.size(), std::memory_order_relaxed);
    return std::nullopt;
  }

  // Runs a cached statement on the writer (sqlite3_exec would compile it every time).
  status run_prepared(const char* sql) {
    auto s = writer.prepare(sql);
    if (!s) return s.error();
    if (auto r = s->run(sql); !r) return r.error();
    return {};
  }

  // Runs a read on the reader connection.
  template <class R, class F>
  result<R> read(F&& fn) {
    const std::lock_guard<std::mutex> lock(reader_mutex);
    return fn(reader);
  }

  // Brings a database made by an older version up to date: CREATE TABLE IF NOT EXISTS leaves an
  // existing table as it was, so columns added since are added here (another process may race us
  // to it: a column that appeared meanwhile is fine).
  status upgrade_schema() {
    const auto has_column = [this](const char* sql) -> result<bool> {
      auto s = writer.prepare(sql);
      if (!s) return s.error();
      const int rc = s->step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_error(writer.handle(), "schema");
      return rc == SQLITE_ROW;
    };
    const char* probe = "SELECT 1 FROM pragma_table_info('hookrx_inbox') WHERE name = 'origin'";
    auto has = has_column(probe);
    if (!has) return has.error();
    if (*has) return {};
    if (writer.exec("ALTER TABLE hookrx_inbox ADD COLUMN origin INTEGER NOT NULL DEFAULT 0")) return {};
    has = has_column(probe);
    if (has && *has) return {};
    return sqlite_error(writer.handle(), "adding column hookrx_inbox.origin");
  }

  // Changes a leased entry if `token` still owns it.
  status change_leased(const char* sql, std::int64_t id, std::uint64_t token,
                       const std::function<void(statement&)>& bind_rest, std::string_view what) {
    return write<void>([=](impl& self) -> status {
      auto s = self.writer.prepare(sql);
      if (!s) return s.error();
      s->bind(1, id).bind(2, static_cast<std::int64_t>(token));
      bind_rest(*s);
      auto changed = s->run(what);
      if (!changed) return changed.error();
      if (*changed == 0) return error(errc::in_progress, "the lease is no longer this worker's");
      return {};
    });
  }
};

result<std::shared_ptr<sqlite_store>> sqlite_store::open(sqlite_options options, std::shared_ptr<const clock> time) {
  auto p = std::make_unique<impl>();
  p->options = std::move(options);
  p->time = std::move(time);
  p->options.checkpoint_pages = std::max(1, p->options.checkpoint_pages);
  p->forced_at = p->hard_limit();
  const int rw = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (status st = p->writer.open(p->options.path, rw); !st) return st.error();
  sqlite3_busy_timeout(p->writer.handle(), static_cast<int>(p->options.busy_timeout.count()));
  for (const char* pragma : {"PRAGMA journal_mode=WAL",
                             p->options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"}) {
    if (status st = p->writer.exec(pragma); !st) return st.error();
  }
  if (status st = p->writer.exec(schema); !st) return st.error();
  if (status st = p->upgrade_schema(); !st) return st.error();
  if (status st = p->reader.open(p->options.path, SQLITE_OPEN_READONLY); !st) return st.error();
  sqlite3_busy_timeout(p->reader.handle(), static_cast<int>(p->options.busy_timeout.count()));
  if (status st = p->checkpointer.open(p->options.path, SQLITE_OPEN_READWRITE); !st) return st.error();
  sqlite3_busy_timeout(p->checkpointer.handle(), static_cast<int>(p->options.busy_timeout.count()));
  // A connection learns that the file is in WAL mode only when it first reads it; until then
  // sqlite3_wal_checkpoint_v2() does nothing and still returns SQLITE_OK (with -1 frames).
  if (status st = p->checkpointer.exec("SELECT count(*) FROM sqlite_schema"); !st) return st.error();
  impl* raw = p.get();
  sqlite3_wal_hook(raw->writer.handle(), &impl::on_wal_commit, raw);
  raw->checkpoint_thread = std::thread([raw] { raw->checkpoint_loop(); });
  raw->writer_thread = std::thread([raw] { raw->write_loop(); });
  return std::shared_ptr<sqlite_store>(new sqlite_store(std::move(p)));
}

sqlite_store::sqlite_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

sqlite_store::~sqlite_store() {
  {
    const std::lock_guard<std::mutex> lock(impl_->queue_mutex);
    impl_->stopping = true;
  }
  impl_->queued.notify_all();
  impl_->writer_thread.join();  // commits what was queued before returning
  {
    const std::lock_guard<std::mutex> lock(impl_->checkpoint_mutex);
    impl_->checkpoint_stopping = true;
  }
  impl_->checkpoint_wanted.notify_all();
  impl_->checkpoint_thread.join();
}

sqlite_store::commit_stats sqlite_store::stats() const {
  return {impl_->commits.load(std::memory_order_relaxed), impl_->writes.load(std::memory_order_relaxed),
          impl_->wal_restarts.load(std::memory_order_relaxed)};
}

// --- dedup ---------------------------------------------------------------------------------------

namespace {
// The dedup writes, on the writer thread inside the batch's transaction.
result<claim> claim_into(sqlite_store::impl& self, std::string_view key, std::chrono::milliseconds lease) {
  const std::int64_t now = self.now_ms();
  {
    auto s = self.writer.prepare("SELECT state, expires_at FROM hookrx_dedup WHERE key = ?1");
    if (!s) return s.error();
    s->bind(1, key);
    const int rc = s->step();
    if (rc == SQLITE_ROW && s->integer(1) > now) {
      return claim{s->integer(0) == done ? claim_state::done : claim_state::in_progress, 0};
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_error(self.writer.handle(), "claim");
  }
  const std::uint64_t token = self.new_token();
  auto s = self.writer.prepare(
      "INSERT INTO hookrx_dedup (key, state, token, expires_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (key) DO UPDATE SET state = excluded.state, token = excluded.token, "
      "expires_at = excluded.expires_at");
  if (!s) return s.error();
  s->bind(1, key).bind(2, std::int64_t{claimed}).bind(3, static_cast<std::int64_t>(token)).bind(4, add_ms(now, lease));
  if (auto r = s->run("claim"); !r) return r.error();
  return claim{claim_state::claimed, token};
}

status complete_into(sqlite_store::impl& self, std::string_view key, std::uint64_t token,
                     std::chrono::milliseconds retention) {
  auto s = self.writer.prepare(
      "UPDATE hookrx_dedup SET state = ?3, expires_at = ?4 WHERE key = ?1 AND token = ?2 AND state = ?5");
  if (!s) return s.error();
  s->bind(1, key).bind(2, static_cast<std::int64_t>(token)).bind(3, std::int64_t{done});
  s->bind(4, add_ms(self.now_ms(), retention)).bind(5, std::int64_t{claimed});
  auto changed = s->run("complete");
  if (!changed) return changed.error();
  if (*changed == 0) return error(errc::in_progress, "the claim is no longer this caller's");
  return {};
}

status release_into(sqlite_store::impl& self, std::string_view key, std::uint64_t token) {
  auto s = self.writer.prepare("DELETE FROM hookrx_dedup WHERE key = ?1 AND token = ?2 AND state = ?3");
  if (!s) return s.error();
  s->bind(1, key).bind(2, static_cast<std::int64_t>(token)).bind(3, std::int64_t{claimed});
  if (auto r = s->run("release"); !r) return r.error();
  return {};
}
}  // namespace

result<claim> sqlite_store::try_claim(std::string_view key, std::chrono::milliseconds lease) {
  return impl_->write<claim>([key, lease](impl& self) { return claim_into(self, key, lease); });
}

status sqlite_store::complete(std::string_view key, std::uint64_t token, std::chrono::milliseconds retention) {
  return impl_->write<void>([key, token, retention](impl& self) { return complete_into(self, key, token, retention); });
}

status sqlite_store::release(std::string_view key, std::uint64_t token) {
  return impl_->write<void>([key, token](impl& self) { return release_into(self, key, token); });
}

void sqlite_store::try_claim_async(std::string key, std::chrono::milliseconds lease,
                                   std::function<void(result<claim>)> done) {
  impl_->write_async<claim>([key = std::move(key), lease](impl& self) { return claim_into(self, key, lease); },
                            std::move(done));
}

void sqlite_store::complete_async(std::string key, std::uint64_t token, std::chrono::milliseconds retention,
                                  std::function<void(status)> done) {
  impl_->write_async<void>(
      [key = std::move(key), token, retention](impl& self) { return complete_into(self, key, token, retention); },
      std::move(done));
}

void sqlite_store::release_async(std::string key, std::uint64_t token, std::function<void(status)> done) {
  impl_->write_async<void>([key = std::move(key), token](impl& self) { return release_into(self, key, token); },
                           std::move(done));
}

// --- inbox ---------------------------------------------------------------------------------------

namespace {
// Queues `rec`, or, with a lease, stores it leased to the caller (attempts 1): one row written
// once, where offer() then lease() would write it twice and read its body back. On the writer
// thread, inside the batch's transaction.
result<stored_offer> offer_into(sqlite_store::impl& self, const inbox_record& rec,
                                std::optional<std::chrono::milliseconds> lease) {
  stored_offer out;
  out.now = self.now_ms();
  if (lease) {
    out.lease_until = add_ms(out.now, *lease);
    out.token = self.new_token();
  }
  const auto insert = [&]() -> result<std::size_t> {
    auto s = self.writer.prepare(
        "INSERT INTO hookrx_inbox (key, provider, event_name, body, headers, received_at, state, next_attempt_at, "
        "origin, attempts, lease_until, lease_token) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
        "ON CONFLICT (key) DO NOTHING");
    if (!s) return s.error();
    s->bind(1, rec.key).bind(2, static_cast<std::int64_t>(rec.source)).bind(3, rec.event_name);
    s->bind_blob(4, rec.body).bind(5, rec.headers).bind(6, to_ms(rec.received_at));
    // A leased entry is due again when its lease runs out (see lease()).
    s->bind(7, std::int64_t{lease ? leased : queued}).bind(8, lease ? out.lease_until : out.now);
    s->bind(9, static_cast<std::int64_t>(rec.origin)).bind(10, std::int64_t{lease ? 1 : 0});
    s->bind(11, out.lease_until).bind(12, static_cast<std::int64_t>(out.token));
    return s->run("offer");
  };
  auto inserted = insert();
  if (!inserted) return inserted.error();
  if (*inserted == 0) {
    // The key is known. A done key past its retention is forgotten even before purge_expired().
    auto s = self.writer.prepare("DELETE FROM hookrx_inbox WHERE key = ?1 AND state = ?2 AND expires_at <= ?3");
    if (!s) return s.error();
    s->bind(1, rec.key).bind(2, std::int64_t{done}).bind(3, out.now);
    auto forgotten = s->run("offer");
    if (!forgotten) return forgotten.error();
    if (*forgotten == 0) return out;
    inserted = insert();
    if (!inserted) return inserted.error();
    if (*inserted == 0) return out;
  }
  out.state = offer_state::queued;
  out.id = sqlite3_last_insert_rowid(self.writer.handle());
  return out;
}

// What offer_leased() answers, once `stored` is committed (SQLite no longer reads `rec`).
leased_offer answer(const stored_offer& stored, inbox_record&& rec) {
  leased_offer out{stored.state, std::nullopt};
  if (stored.state != offer_state::queued || stored.token == 0) return out;
  inbox_entry& e = out.entry.emplace();
  e.id = stored.id;
  e.record = std::move(rec);
  e.state = entry_state::leased;
  e.attempts = 1;
  e.next_attempt_at = from_ms(stored.lease_until);
  e.lease_until = e.next_attempt_at;
  e.lease_token = stored.token;
  return out;
}
}  // namespace

result<offer_state> sqlite_store::offer(inbox_record rec) {
  auto stored = impl_->write<stored_offer>([&rec](impl& self) { return offer_into(self, rec, std::nullopt); });
  if (!stored) return stored.error();
  return stored->state;
}

result<leased_offer> sqlite_store::offer_leased(inbox_record rec, std::chrono::milliseconds lease) {
  auto stored = impl_->write<stored_offer>([&rec, lease](impl& self) { return offer_into(self, rec, lease); });
  if (!stored) return stored.error();
  return answer(*stored, std::move(rec));
}

void sqlite_store::offer_async(inbox_record rec, std::optional<std::chrono::milliseconds> lease,
                               std::function<void(result<leased_offer>)> done) {
  auto kept = std::make_shared<inbox_record>(std::move(rec));
  impl_->write_async<stored_offer>([kept, lease](impl& self) { return offer_into(self, *kept, lease); },
                                   [kept, done = std::move(done)](result<stored_offer> stored) {
                                     if (!stored) {
                                       done(stored.error());
                                     } else {
                                       done(answer(*stored, std::move(*kept)));
                                     }
                                   });
}

void sqlite_store::wait_async() {
  // From a completion (the writer thread) there is nothing it could wait for without waiting for
  // itself: the completions before it have run, the rest run once it returns.
  if (std::this_thread::get_id() == impl_->writer_thread.get_id()) return;
  std::unique_lock<std::mutex> lock(impl_->queue_mutex);
  impl_->async_drained.wait(lock, [this] { return impl_->async_pending == 0; });
}

result<std::vector<inbox_entry>> sqlite_store::lease(std::size_t max, std::chrono::milliseconds lease) {
  return impl_->write<std::vector<inbox_entry>>([max, lease](impl& self) -> result<std::vector<inbox_entry>> {
    const std::int64_t now = self.now_ms();
    std::vector<std::int64_t> due;
    {
      // Leased entries carry next_attempt_at = lease_until, so one index range finds both the
      // queued entries that are due and the leases that have run out.
      auto s = self.writer.prepare(
          "SELECT id FROM hookrx_inbox WHERE state IN (?1, ?2) AND next_attempt_at <= ?3 "
          "ORDER BY next_attempt_at, id LIMIT ?4");
      if (!s) return s.error();
      s->bind(1, std::int64_t{queued})
          .bind(2, std::int64_t{leased})
          .bind(3, now)
          .bind(4, static_cast<std::int64_t>(max));
      int rc = SQLITE_ROW;
      while ((rc = s->step()) == SQLITE_ROW) due.push_back(s->integer(0));
      if (rc != SQLITE_DONE) return sqlite_error(self.writer.handle(), "lease");
    }
    const std::uint64_t token = self.new_token();
    std::vector<inbox_entry> out;
    out.reserve(due.size());
    static const std::string sql = std::string(
                                       "UPDATE hookrx_inbox SET state = ?2, attempts = attempts + 1, lease_until = ?3, "
                                       "next_attempt_at = ?3, lease_token = ?4 WHERE id = ?1 RETURNING ") +
                                   entry_columns;
    for (const std::int64_t id : due) {
      auto s = self.writer.prepare(sql.c_str());
      if (!s) return s.error();
      s->bind(1, id)
          .bind(2, std::int64_t{leased})
          .bind(3, add_ms(now, lease))
          .bind(4, static_cast<std::int64_t>(token));
      if (s->step() != SQLITE_ROW) return sqlite_error(self.writer.handle(), "lease");
      out.push_back(read_entry(*s));
      if (s->step() != SQLITE_DONE) return sqlite_error(self.writer.handle(), "lease");
    }
    return out;
  });
}

namespace {
constexpr const char* ack_sql =
    "UPDATE hookrx_inbox SET state = ?3, body = NULL, lease_token = 0, expires_at = ?4 "
    "WHERE id = ?1 AND lease_token = ?2 AND state = ?5";
}  // namespace

status sqlite_store::ack(std::int64_t id, std::uint64_t token, std::chrono::milliseconds retention) {
  const std::int64_t expires = add_ms(impl_->now_ms(), retention);
  return impl_->change_leased(
      ack_sql, id, token,
      [expires](statement& s) { s.bind(3, std::int64_t{done}).bind(4, expires).bind(5, std::int64_t{leased}); }, "ack");
}

// One write (one commit, one fsync) for the whole batch.
result<std::size_t> sqlite_store::ack_all(const std::vector<lease_ref>& leases, std::chrono::milliseconds retention) {
  const std::int64_t expires = add_ms(impl_->now_ms(), retention);
  return impl_->write<std::size_t>([&leases, expires](impl& self) -> result<std::size_t> {
    std::size_t acknowledged = 0;
    for (const lease_ref& l : leases) {
      auto s = self.writer.prepare(ack_sql);
      if (!s) return s.error();
      s->bind(1, l.id).bind(2, static_cast<std::int64_t>(l.token));
      s->bind(3, std::int64_t{done}).bind(4, expires).bind(5, std::int64_t{leased});
      auto changed = s->run("ack");
      if (!changed) return changed.error();
      acknowledged += static_cast<std::size_t>(*changed);
    }
    return acknowledged;
  });
}

status sqlite_store::retry_at(std::int64_t id, std::uint64_t token, time_point when, std::string_view error) {
  return impl_->change_leased(
      "UPDATE hookrx_inbox SET state = ?3, next_attempt_at = ?4, lease_until = 0, lease_token = 0, last_error = ?5 "
      "WHERE id = ?1 AND lease_token = ?2 AND state = ?6",
      id, token,
      [when, err = std::string(error)](statement& s) {
        s.bind(3, std::int64_t{queued}).bind(4, to_ms(when)).bind(5, err).bind(6, std::int64_t{leased});
      },
      "retry");
}

status sqlite_store::dead_letter(std::int64_t id, std::uint64_t token, std::string_view error) {
  return impl_->change_leased(
      "UPDATE hookrx_inbox SET state = ?3, lease_token = 0, lease_until = 0, last_error = ?4 "
      "WHERE id = ?1 AND lease_token = ?2 AND state = ?5",
      id, token,
      [err = std::string(error)](statement& s) {
        s.bind(3, std::int64_t{dead}).bind(4, err).bind(5, std::int64_t{leased});
      },
      "dead letter");
}

status sqlite_store::release(std::int64_t id, std::uint64_t token) {
  const std::int64_t now = impl_->now_ms();
  return impl_->change_leased(
      "UPDATE hookrx_inbox SET state = ?3, attempts = attempts - 1, next_attempt_at = ?4, lease_until = 0, "
      "lease_token = 0 WHERE id = ?1 AND lease_token = ?2 AND state = ?5",
      id, token, [now](statement& s) { s.bind(3, std::int64_t{queued}).bind(4, now).bind(5, std::int64_t{leased}); },
      "release");
}

result<std::vector<inbox_entry>> sqlite_store::list(entry_state state, std::size_t limit, std::int64_t after_id) {
  return impl_->read<std::vector<inbox_entry>>([&](connection& db) -> result<std::vector<inbox_entry>> {
    static const std::string sql =
        std::string("SELECT ") + entry_columns + " FROM hookrx_inbox WHERE state = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
    auto s = db.prepare(sql.c_str());
    if (!s) return s.error();
    s->bind(1, static_cast<std::int64_t>(state)).bind(2, after_id).bind(3, static_cast<std::int64_t>(limit));
    std::vector<inbox_entry> out;
    int rc = SQLITE_ROW;
    while ((rc = s->step()) == SQLITE_ROW) out.push_back(read_entry(*s));
    if (rc != SQLITE_DONE) return sqlite_error(db.handle(), "list");
    return out;
  });
}

result<std::optional<inbox_entry>> sqlite_store::get(std::int64_t id) {
  return impl_->read<std::optional<inbox_entry>>([&](connection& db) -> result<std::optional<inbox_entry>> {
    static const std::string sql = std::string("SELECT ") + entry_columns + " FROM hookrx_inbox WHERE id = ?1";
    auto s = db.prepare(sql.c_str());
    if (!s) return s.error();
    s->bind(1, id);
    const int rc = s->step();
    if (rc == SQLITE_DONE) return std::optional<inbox_entry>();
    if (rc != SQLITE_ROW) return sqlite_error(db.handle(), "get");
    return std::optional<inbox_entry>(read_entry(*s));
  });
}

result<std::optional<inbox_entry>> sqlite_store::find(std::string_view key) {
  const std::int64_t now = impl_->now_ms();
  return impl_->read<std::optional<inbox_entry>>([&](connection& db) -> result<std::optional<inbox_entry>> {
    // A done key past its retention is new to offer(), so it is unknown here too.
    static const std::string sql = std::string("SELECT ") + entry_columns +
                                   " FROM hookrx_inbox WHERE key = ?1 AND NOT (state = ?2 AND expires_at <= ?3)";
    auto s = db.prepare(sql.c_str());
    if (!s) return s.error();
    s->bind(1, key).bind(2, std::int64_t{done}).bind(3, now);
    const int rc = s->step();
    if (rc == SQLITE_DONE) return std::optional<inbox_entry>();
    if (rc != SQLITE_ROW) return sqlite_error(db.handle(), "find");
    return std::optional<inbox_entry>(read_entry(*s));
  });
}

result<std::int64_t> sqlite_store::pending_count() {
  return impl_->read<std::int64_t>([](connection& db) -> result<std::int64_t> {
    // Counted on the (state, next_attempt_at) index.
    auto s = db.prepare("SELECT count(*) FROM hookrx_inbox WHERE state IN (0, 1)");
    if (!s) return s.error();
    if (s->step() != SQLITE_ROW) return sqlite_error(db.handle(), "pending count");
    return s->integer(0);
  });
}

status sqlite_store::replay(std::int64_t id) {
  return impl_->write<void>([id](impl& self) -> status {
    auto s = self.writer.prepare(
        "UPDATE hookrx_inbox SET state = ?2, attempts = 0, next_attempt_at = ?3 WHERE id = ?1 AND state = ?4");
    if (!s) return s.error();
    s->bind(1, id).bind(2, std::int64_t{queued}).bind(3, self.now_ms()).bind(4, std::int64_t{dead});
    auto changed = s->run("replay");
    if (!changed) return changed.error();
    if (*changed == 0) return error(errc::not_found, "no dead letter with id " + std::to_string(id));
    return {};
  });
}

// --- poller --------------------------------------------------------------------------------------

namespace {
result<bool> watch_into(sqlite_store::impl& self, const watch_entry& e) {
  auto s = self.writer.prepare(
      "INSERT INTO hookrx_watch (provider, id, due_at, expected_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (provider, id) DO NOTHING");
  if (!s) return s.error();
  s->bind(1, static_cast<std::int64_t>(e.source)).bind(2, e.id).bind(3, to_ms(e.due_at));
  if (e.expected_at) s->bind(4, to_ms(*e.expected_at));
  auto n = s->run("watch");
  if (!n) return n.error();
  return *n == 1;
}
}  // namespace

result<bool> sqlite_store::watch(const watch_entry& e) {
  return impl_->write<bool>([&e](impl& self) { return watch_into(self, e); });
}

void sqlite_store::watch_async(watch_entry e, std::function<void(result<bool>)> done) {
  impl_->write_async<bool>([e = std::move(e)](impl& self) { return watch_into(self, e); }, std::move(done));
}

namespace {
status note_document_into(sqlite_store::impl& self, provider source, std::string_view id, time_point due_if_new) {
  auto s = self.writer.prepare(
      "INSERT INTO hookrx_watch (provider, id, due_at, documents_seen) VALUES (?1, ?2, ?3, 1) "
      "ON CONFLICT (provider, id) DO UPDATE SET documents_seen = documents_seen + 1");
  if (!s) return s.error();
  s->bind(1, static_cast<std::int64_t>(source)).bind(2, id).bind(3, to_ms(due_if_new));
  if (auto n = s->run("note document"); !n) return n.error();
  return {};
}
}  // namespace

status sqlite_store::note_document(provider source, std::string_view id, time_point due_if_new) {
  return impl_->write<void>(
      [source, id, due_if_new](impl& self) { return note_document_into(self, source, id, due_if_new); });
}

void sqlite_store::note_document_async(provider source, std::string id, time_point due_if_new,
                                       std::function<void(status)> done) {
  impl_->write_async<void>(
      [source, id = std::move(id), due_if_new](impl& self) { return note_document_into(self, source, id, due_if_new); },
      std::move(done));
}

result<std::vector<watch_entry>> sqlite_store::due(std::size_t max) {
  const std::int64_t now = impl_->now_ms();
  return impl_->read<std::vector<watch_entry>>([&](connection& db) -> result<std::vector<watch_entry>> {
    static const std::string sql = std::string("SELECT ") + watch_columns +
                                   " FROM hookrx_watch WHERE due_at <= ?1 ORDER BY due_at, provider, id LIMIT ?2";
    auto s = db.prepare(sql.c_str());
    if (!s) return s.error();
    s->bind(1, now).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(max, 1U << 30)));
    std::vector<watch_entry> out;
    int rc = SQLITE_ROW;
    while ((rc = s->step()) == SQLITE_ROW) out.push_back(read_watch(*s, s->raw()));
    if (rc != SQLITE_DONE) return sqlite_error(db.handle(), "due");
    return out;
  });
}

status sqlite_store::reschedule(provider source, std::string_view id, time_point next) {
  return impl_->write<void>([source, id, next](impl& self) -> status {
    auto s =
        self.writer.prepare("UPDATE hookrx_watch SET polls = polls + 1, due_at = ?3 WHERE provider = ?1 AND id = ?2");
    if (!s) return s.error();
    s->bind(1, static_cast<std::int64_t>(source)).bind(2, id).bind(3, to_ms(next));
    auto n = s->run("reschedule");
    if (!n) return n.error();
    if (*n == 0) return error(errc::not_found, "sqlite: that id is not watched");
    return {};
  });
}

namespace {
status unwatch_into(sqlite_store::impl& self, provider source, std::string_view id) {
  auto s = self.writer.prepare("DELETE FROM hookrx_watch WHERE provider = ?1 AND id = ?2");
  if (!s) return s.error();
  s->bind(1, static_cast<std::int64_t>(source)).bind(2, id);
  if (auto n = s->run("unwatch"); !n) return n.error();
  return {};
}
}  // namespace

status sqlite_store::unwatch(provider source, std::string_view id) {
  return impl_->write<void>([source, id](impl& self) { return unwatch_into(self, source, id); });
}

void sqlite_store::unwatch_async(provider source, std::string id, std::function<void(status)> done) {
  impl_->write_async<void>([source, id = std::move(id)](impl& self) { return unwatch_into(self, source, id); },
                           std::move(done));
}

result<std::optional<watch_entry>> sqlite_store::watched(provider source, std::string_view id) {
  return impl_->read<std::optional<watch_entry>>([&](connection& db) -> result<std::optional<watch_entry>> {
    static const std::string sql =
        std::string("SELECT ") + watch_columns + " FROM hookrx_watch WHERE provider = ?1 AND id = ?2";
    auto s = db.prepare(sql.c_str());
    if (!s) return s.error();
    s->bind(1, static_cast<std::int64_t>(source)).bind(2, id);
    const int rc = s->step();
    if (rc == SQLITE_DONE) return std::optional<watch_entry>();
    if (rc != SQLITE_ROW) return sqlite_error(db.handle(), "watched");
    return std::optional<watch_entry>(read_watch(*s, s->raw()));
  });
}

result<std::optional<time_point>> sqlite_store::watermark(std::string_view name) {
  return impl_->read<std::optional<time_point>>([&](connection& db) -> result<std::optional<time_point>> {
    auto s = db.prepare("SELECT at FROM hookrx_watermark WHERE name = ?1");
    if (!s) return s.error();
    s->bind(1, name);
    const int rc = s->step();
    if (rc == SQLITE_DONE) return std::optional<time_point>();
    if (rc != SQLITE_ROW) return sqlite_error(db.handle(), "watermark");
    return std::optional<time_point>(from_ms(s->integer(0)));
  });
}

status sqlite_store::set_watermark(std::string_view name, time_point at) {
  return impl_->write<void>([name, at](impl& self) -> status {
    auto s = self.writer.prepare(
        "INSERT INTO hookrx_watermark (name, at) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET at = excluded.at");
    if (!s) return s.error();
    s->bind(1, name).bind(2, to_ms(at));
    if (auto n = s->run("set watermark"); !n) return n.error();
    return {};
  });
}

result<bool> sqlite_store::try_lead(std::string_view name, std::string_view holder, std::chrono::milliseconds lease) {
  return impl_->write<bool>([name, holder, lease](impl& self) -> result<bool> {
    const std::int64_t now = self.now_ms();
    auto s = self.writer.prepare(
        "INSERT INTO hookrx_leader (name, holder, until) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET "
        "holder = excluded.holder, until = excluded.until WHERE hookrx_leader.holder = excluded.holder OR "
        "hookrx_leader.until <= ?4");
    if (!s) return s.error();
    s->bind(1, name).bind(2, holder).bind(3, add_ms(now, lease)).bind(4, now);
    auto n = s->run("lead");
    if (!n) return n.error();
    return *n == 1;
  });
}

status sqlite_store::resign(std::string_view name, std::string_view holder) {
  return impl_->write<void>([name, holder](impl& self) -> status {
    auto s = self.writer.prepare("DELETE FROM hookrx_leader WHERE name = ?1 AND holder = ?2");
    if (!s) return s.error();
    s->bind(1, name).bind(2, holder);
    if (auto n = s->run("resign"); !n) return n.error();
    return {};
  });
}

result<std::size_t> sqlite_store::purge_expired() {
  return impl_->write<std::size_t>([](impl& self) -> result<std::size_t> {
    const std::int64_t now = self.now_ms();
    auto inbox = self.writer.prepare("DELETE FROM hookrx_inbox WHERE state = ?1 AND expires_at <= ?2");
    if (!inbox) return inbox.error();
    inbox->bind(1, std::int64_t{done}).bind(2, now);
    auto a = inbox->run("purge");
    if (!a) return a.error();
    // Expired claims (a crashed caller's) go too: they mean the same as no row.
    auto dedup = self.writer.prepare("DELETE FROM hookrx_dedup WHERE expires_at <= ?1");
    if (!dedup) return dedup.error();
    dedup->bind(1, now);
    auto b = dedup->run("purge");
    if (!b) return b.error();
    return *a + *b;
  });
}

}  // namespace hookrx
