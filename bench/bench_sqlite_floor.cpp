// bench/bench_sqlite_floor.cpp: what SQLite alone costs per delivery on this machine, the floor
// under `hookrx serve --store sqlite:`'s writer.
//
//   taskset -c 1 build/bench/hookrx_bench_sqlite_floor [--batch 14] [--deliveries 100000] [--sync FULL|NORMAL]
//
// One thread, no hookrx threads around it: the database file gets the store's own schema (a
// sqlite_store creates it and is closed), then batches of `--batch` transactions like the
// writer's: each commits the batch's new entries (a 1 KiB body, the headers serve keeps, an
// 85-byte key, stored leased as serve's offers are) and marks the previous batch done as the
// sinks' acks do, with SQLite's own WAL checkpoints. Prints the rate and the CPU (user and
// system, fsync write-back included) per delivery. Results: RESULTS.md, "Session 8".
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "hookrx/sqlite_store.hpp"

namespace {

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

struct cpu_times {
  double user = 0;
  double system = 0;
};
cpu_times cpu_now() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return {seconds_of(r.ru_utime), seconds_of(r.ru_stime)};
}

int fail(sqlite3* db, std::string_view what) {
  std::fprintf(stderr, "bench_sqlite_floor: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               db != nullptr ? sqlite3_errmsg(db) : "out of memory");
  return 1;
}

sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return nullptr;
  return s;
}

bool step_done(sqlite3_stmt* s) {
  const bool ok = sqlite3_step(s) == SQLITE_DONE;
  sqlite3_reset(s);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int batch = 14;  // what a commit carries at 32 connections (serve's commit stats)
  long deliveries = 100000;
  std::string sync = "FULL";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--batch") {
      batch = std::atoi(argv[i + 1]);
    } else if (flag == "--deliveries") {
      deliveries = std::atol(argv[i + 1]);
    } else if (flag == "--sync") {
      sync = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--batch N] [--deliveries N] [--sync FULL|NORMAL]\n", argv[0]);
      return 2;
    }
  }
  if (batch < 1 || deliveries < batch || (sync != "FULL" && sync != "NORMAL")) {
    std::fprintf(stderr, "bench_sqlite_floor: --batch >= 1, --deliveries >= --batch, --sync FULL or NORMAL\n");
    return 2;
  }
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "hookrx_bench_sqlite_floor.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  {
    hookrx::sqlite_options options;
    options.path = path.string();
    if (auto store = hookrx::sqlite_store::open(options); !store) {
      std::fprintf(stderr, "bench_sqlite_floor: %s\n", store.error().message().c_str());
      return 1;
    }
  }

  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return fail(db, "open");
  const std::string pragma = "PRAGMA synchronous=" + sync;
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(db, pragma.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(db, "pragma");
  }
  sqlite3_stmt* begin = prepare(db, "BEGIN IMMEDIATE");
  sqlite3_stmt* commit = prepare(db, "COMMIT");
  sqlite3_stmt* offer = prepare(
      db,
      "INSERT INTO hookrx_inbox (key, provider, event_name, body, headers, received_at, state, next_attempt_at, "
      "origin, attempts, lease_until, lease_token) VALUES (?1, 0, 'extraction.document_completed', ?2, ?3, ?4, 1, "
      "?5, 0, 1, ?5, ?6) ON CONFLICT (key) DO NOTHING");
  sqlite3_stmt* ack = prepare(db,
                              "UPDATE hookrx_inbox SET state = 2, body = NULL, lease_token = 0, expires_at = ?2 "
                              "WHERE id = ?1 AND lease_token = ?3");
  if (begin == nullptr || commit == nullptr || offer == nullptr || ack == nullptr) return fail(db, "prepare");

  const std::string body(1024, 'x');
  const std::string headers =
      "Content-Type: application/json\nUser-Agent: PerfectParser-Webhooks/1.0\n"
      "X-PerfectParser-Signature: 1e8aec5395d2363cdcc01c7f41974a4cc5aaf44985f40d67423a39d9320445dc";
  constexpr std::int64_t now_ms = 1'780'000'000'000;
  constexpr std::int64_t token = 7;
  char key[128];

  const auto wall_start = std::chrono::steady_clock::now();
  const cpu_times cpu_start = cpu_now();
  std::int64_t first_of_last_batch = 0;
  long stored = 0;
  for (long i = 0; i < deliveries; i += batch) {
    if (!step_done(begin)) return fail(db, "begin");
    for (std::int64_t id = first_of_last_batch; id > 0 && id < first_of_last_batch + batch; ++id) {
      sqlite3_bind_int64(ack, 1, id);
      sqlite3_bind_int64(ack, 2, now_ms + 86'400'000);
      sqlite3_bind_int64(ack, 3, token);
      if (!step_done(ack)) return fail(db, "ack");
    }
    for (int j = 0; j < batch; ++j) {
      std::snprintf(key, sizeof key, "perfectparser:extraction.document_completed:ext_7f3a9c2e41b84d05:doc_%016ld",
                    i + j);
      sqlite3_bind_text(offer, 1, key, -1, SQLITE_STATIC);
      sqlite3_bind_blob(offer, 2, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
      sqlite3_bind_text(offer, 3, headers.data(), static_cast<int>(headers.size()), SQLITE_STATIC);
      sqlite3_bind_int64(offer, 4, now_ms);
      sqlite3_bind_int64(offer, 5, now_ms + 60'000);
      sqlite3_bind_int64(offer, 6, token);
      if (!step_done(offer)) return fail(db, "offer");
      if (j == 0) first_of_last_batch = sqlite3_last_insert_rowid(db);
      ++stored;
    }
    if (!step_done(commit)) return fail(db, "commit");
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const cpu_times cpu_end = cpu_now();
  const double n = static_cast<double>(stored);
  std::printf(
      "sqlite-floor batch=%d sync=%s deliveries=%ld rate=%.0f/s cpu_us=%.1f (user %.1f, system %.1f) busy=%.0f%%\n",
      batch, sync.c_str(), stored, n / wall,
      (cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system) * 1e6 / n,
      (cpu_end.user - cpu_start.user) * 1e6 / n, (cpu_end.system - cpu_start.system) * 1e6 / n,
      100 * (cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system) / wall);
  for (sqlite3_stmt* s : {begin, commit, offer, ack}) sqlite3_finalize(s);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return 0;
}
