#include "hookrx/postgres_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <utility>

#include "millis.hpp"
#include "pg.hpp"

namespace hookrx {
namespace {

namespace pg = detail::pg;
using std::chrono::milliseconds;

// Every state an entry can be in, as stored (smallint).
constexpr std::int16_t st_queued = 0;
constexpr std::int16_t st_leased = 1;
constexpr std::int16_t st_done = 2;
constexpr std::int16_t st_dead = 3;

// Dedup rows are a claim (state 0) or a done key (1); either is void once expires_at has passed.
constexpr std::int16_t claim_done = 1;

// Key of the transaction-scoped advisory lock that serialises table creation ("hookrx").
constexpr const char* ddl_lock_key = "114776497648248";  // 0x686f6f6b7278

// Rows purge_expired() deletes per statement, so that a large backlog never meets the timeout.
constexpr std::int64_t purge_batch = 5000;

std::int16_t stored(entry_state s) {
  switch (s) {
    case entry_state::queued: return st_queued;
    case entry_state::leased: return st_leased;
    case entry_state::done: return st_done;
    case entry_state::dead: return st_dead;
  }
  return st_queued;
}

entry_state loaded(std::int64_t s) {
  switch (s) {
    case st_leased: return entry_state::leased;
    case st_done: return entry_state::done;
    case st_dead: return entry_state::dead;
    default: return entry_state::queued;
  }
}

using detail::add_ms;
using detail::from_ms;
using detail::to_ms;

std::int64_t clamp_count(std::size_t n) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

std::int64_t as_signed(std::uint64_t v) {
  std::int64_t s = 0;
  std::memcpy(&s, &v, sizeof s);
  return s;
}

std::uint64_t as_unsigned(std::int64_t v) {
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

// Spelled out so that no compiler copies the vector into the result.
result<std::vector<inbox_entry>> entries(std::vector<inbox_entry>&& v) {
  return result<std::vector<inbox_entry>>(std::in_place, std::move(v));
}

std::uint64_t random_u64() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return engine();
}

// A claim token: random and never zero (zero means "no claim").
std::uint64_t new_claim_token() {
  for (;;) {
    if (const std::uint64_t t = random_u64(); t != 0) return t;
  }
}

// A lease's tokens are base XOR id (one per entry, computed in SQL). The base has its top bit set
// and ids are positive, so no token is ever zero.
std::uint64_t new_lease_base() { return random_u64() | (std::uint64_t{1} << 63); }

bool plain_identifier(const std::string& s, bool may_start_with_digit) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return may_start_with_digit || !(s[0] >= '0' && s[0] <= '9');
}

std::string quoted(const std::string& ident) { return '"' + ident + '"'; }

// The statements, in the order of `op`. Each names its table with the schema and prefix.
enum op : std::size_t {
  op_try_claim,
  op_complete,
  op_release_claim,
  op_offer,
  op_lease,
  op_ack,
  op_ack_all,
  op_retry_at,
  op_dead_letter,
  op_release_entry,
  op_list,
  op_get,
  op_replay,
  op_purge_inbox,
  op_purge_dedup,
  op_tables_exist,
  op_find,
  op_pending_count,
  op_watch,
  op_note_document,
  op_due,
  op_reschedule,
  op_unwatch,
  op_watched,
  op_watermark,
  op_set_watermark,
  op_try_lead,
  op_resign,
  op_count,
};

// The SQL below names tables and indexes as {dedup}, {inbox}, {schema}, ..., filled in by expand()
// with quoted identifiers. Parameters are binary; times are milliseconds since the epoch.
std::string expand(std::string text, const std::vector<std::pair<std::string, std::string>>& vars) {
  for (const auto& [name, value] : vars) {
    for (auto at = text.find(name); at != std::string::npos; at = text.find(name, at + value.size())) {
      text.replace(at, name.size(), value);
    }
  }
  return text;
}

constexpr const char* entry_columns =
    "i.id, i.key, i.provider, i.event_name, i.body, i.headers, i.received_at, i.state, i.attempts, "
    "i.next_attempt_at, i.lease_until, i.lease_token, i.last_error, i.origin";

// What ack does to an entry: done, the body and headers gone, the key kept until $3 (retention end).
constexpr const char* ack_set =
    "state = 2, body = NULL, headers = ''::bytea, expires_at = $3, lease_until = 0, lease_token = 0";

// The state changes that need the lease token: the update, and whether the id exists at all, so
// that a stale token reads in_progress and an unknown id not_found. $1 id, $2 token.
std::string owned_update(const std::string& set) {
  return R"sql(
WITH u AS (UPDATE {inbox} SET )sql" +
         set + R"sql( WHERE id = $1 AND state = 1 AND lease_token = $2 RETURNING 1)
SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM {inbox} WHERE id = $1))sql";
}

std::vector<pg::statement> make_statements(const std::vector<std::pair<std::string, std::string>>& vars) {
  using pg::oid_bytea;
  using pg::oid_int2;
  using pg::oid_int8;
  std::vector<pg::statement> s(op_count);
  auto def = [&](op which, const char* name, const std::string& sql, std::vector<Oid> types) {
    s[which] = {name, expand(sql, vars), std::move(types)};
  };

  // $1 key, $2 token, $3 now, $4 lease end. Always returns the row as it is afterwards, in one
  // statement under the row lock: our token means we won; a live row keeps its owner's token
  // and tells done from in_progress.
  def(op_try_claim, "try_claim", R"sql(
INSERT INTO {dedup} AS d (key_hash, key, state, token, expires_at) VALUES (sha256($1), $1, 0, $2, $4)
ON CONFLICT (key_hash) DO UPDATE SET
  state = CASE WHEN d.expires_at <= $3 THEN 0 ELSE d.state END,
  token = CASE WHEN d.expires_at <= $3 THEN EXCLUDED.token ELSE d.token END,
  expires_at = CASE WHEN d.expires_at <= $3 THEN EXCLUDED.expires_at ELSE d.expires_at END
RETURNING d.state, d.token)sql",
      {oid_bytea, oid_int8, oid_int8, oid_int8});
  // $1 key, $2 token, $3 retention end.
  def(op_complete, "complete", R"sql(
UPDATE {dedup} SET state = 1, expires_at = $3 WHERE key_hash = sha256($1) AND token = $2 AND state = 0
RETURNING 1)sql",
      {oid_bytea, oid_int8, oid_int8});
  def(op_release_claim, "release_claim", R"sql(
DELETE FROM {dedup} WHERE key_hash = sha256($1) AND token = $2 AND state = 0)sql",
      {oid_bytea, oid_int8});

  // $1 key, $2 provider, $3 event name, $4 body, $5 headers, $6 received_at, $7 now. A done key
  // whose retention ended (not purged yet) is new again: queued afresh under a new id.
  def(op_offer, "offer", R"sql(
INSERT INTO {inbox} AS i
  (key_hash, key, provider, event_name, body, headers, received_at, state, attempts, next_attempt_at, origin)
VALUES (sha256($1), $1, $2, $3, $4, $5, $6, 0, 0, $7, $8)
ON CONFLICT (key_hash) DO UPDATE SET
  id = DEFAULT, provider = EXCLUDED.provider, origin = EXCLUDED.origin, event_name = EXCLUDED.event_name, body = EXCLUDED.body,
  headers = EXCLUDED.headers, received_at = EXCLUDED.received_at, state = 0, attempts = 0,
  next_attempt_at = EXCLUDED.next_attempt_at, lease_until = 0, lease_token = 0, last_error = ''::bytea,
  expires_at = 0
  WHERE i.state = 2 AND i.expires_at <= $7
RETURNING i.id)sql",
      {oid_bytea, oid_int2, oid_bytea, oid_bytea, oid_bytea, oid_int8, oid_int8, oid_int2});
  // $1 now, $2 max, $3 lease end, $4 token base. A queued entry is due at next_attempt_at, a
  // leased one when its lease runs out; oldest due first. SKIP LOCKED: concurrent leasers (other
  // threads or processes) take different rows and never wait for each other.
  def(op_lease, "lease", R"sql(
WITH due AS (
  SELECT id, CASE WHEN state = 0 THEN next_attempt_at ELSE lease_until END AS due_at FROM {inbox}
  WHERE (state = 0 AND next_attempt_at <= $1) OR (state = 1 AND lease_until <= $1)
  ORDER BY due_at, id LIMIT $2
  FOR UPDATE SKIP LOCKED)
UPDATE {inbox} AS i SET state = 1, attempts = i.attempts + 1, lease_until = $3, lease_token = $4 # i.id
FROM due WHERE i.id = due.id
RETURNING {cols}, due.due_at)sql",
      {oid_int8, oid_int8, oid_int8, oid_int8});
  // $3 retention end. The body and headers go; the key stays until retention ends.
  def(op_ack, "ack", owned_update(ack_set), {oid_int8, oid_int8, oid_int8});
  // $1 ids, $2 their tokens (pairwise), $3 retention end. One statement, so one transaction and
  // one commit for the batch; a pair whose token no longer owns its entry (or whose id is
  // unknown) matches nothing, and an entry named twice is updated, and counted, once.
  def(op_ack_all, "ack_all",
      std::string(R"sql(
WITH acked AS (
  UPDATE {inbox} AS i SET )sql") +
          ack_set + R"sql(
  FROM unnest($1::int8[], $2::int8[]) AS a(id, token)
  WHERE i.id = a.id AND i.lease_token = a.token AND i.state = 1
  RETURNING 1)
SELECT count(*) FROM acked)sql",
      {pg::oid_int8_array, pg::oid_int8_array, oid_int8});
  // $3 when, $4 error.
  def(op_retry_at, "retry_at",
      owned_update("state = 0, next_attempt_at = $3, last_error = $4, lease_until = 0, lease_token = 0"),
      {oid_int8, oid_int8, oid_int8, oid_bytea});
  // $3 error.
  def(op_dead_letter, "dead_letter", owned_update("state = 3, last_error = $3, lease_until = 0, lease_token = 0"),
      {oid_int8, oid_int8, oid_bytea});
  // $3 now: due from the moment of the release; the attempt it started is given back.
  def(op_release_entry, "release_entry",
      owned_update("state = 0, attempts = GREATEST(attempts - 1, 0), next_attempt_at = $3, lease_until = 0, "
                   "lease_token = 0"),
      {oid_int8, oid_int8, oid_int8});
  def(op_list, "list", R"sql(
SELECT {cols} FROM {inbox} AS i WHERE i.state = $1 AND i.id > $2 ORDER BY i.id LIMIT $3)sql",
      {oid_int2, oid_int8, oid_int8});
  def(op_get, "get", "SELECT {cols} FROM {inbox} AS i WHERE i.id = $1", {oid_int8});
  // $2 now.
  def(op_replay, "replay", R"sql(
UPDATE {inbox} SET state = 0, attempts = 0, next_attempt_at = $2, lease_until = 0, lease_token = 0
WHERE id = $1 AND state = 3 RETURNING 1)sql",
      {oid_int8, oid_int8});
  // $1 now, $2 batch size.
  def(op_purge_inbox, "purge_inbox", R"sql(
DELETE FROM {inbox} WHERE id IN (SELECT id FROM {inbox} WHERE state = 2 AND expires_at <= $1 LIMIT $2))sql",
      {oid_int8, oid_int8});
  def(op_purge_dedup, "purge_dedup", R"sql(
DELETE FROM {dedup} WHERE key_hash IN (SELECT key_hash FROM {dedup} WHERE expires_at <= $1 LIMIT $2))sql",
      {oid_int8, oid_int8});
  // $1 key, $2 now. A done key past its retention is new to offer(), so it is unknown here too.
  def(op_find, "find", R"sql(
SELECT {cols} FROM {inbox} AS i WHERE i.key_hash = sha256($1) AND NOT (i.state = 2 AND i.expires_at <= $2))sql",
      {oid_bytea, oid_int8});
  def(op_pending_count, "pending_count", "SELECT count(*) FROM {inbox} WHERE state IN (0, 1)", {});
  // $1 provider, $2 id, $3 due, $4 expected_at, $5 1 when expected_at is set.
  def(op_watch, "watch", R"sql(
INSERT INTO {watch} (provider, id, due_at, expected_at) VALUES ($1, $2, $3, CASE WHEN $5 = 1 THEN $4 END)
ON CONFLICT (provider, id) DO NOTHING RETURNING 1)sql",
      {oid_int2, oid_bytea, oid_int8, oid_int8, oid_int2});
  def(op_note_document, "note_document", R"sql(
INSERT INTO {watch} AS w (provider, id, due_at, documents_seen) VALUES ($1, $2, $3, 1)
ON CONFLICT (provider, id) DO UPDATE SET documents_seen = w.documents_seen + 1)sql",
      {oid_int2, oid_bytea, oid_int8});
  // $1 now, $2 max.
  def(op_due, "due", R"sql(
SELECT provider, id, due_at, polls, documents_seen, expected_at FROM {watch} WHERE due_at <= $1
ORDER BY due_at, provider, id LIMIT $2)sql",
      {oid_int8, oid_int8});
  def(op_reschedule, "reschedule", R"sql(
UPDATE {watch} SET polls = polls + 1, due_at = $3 WHERE provider = $1 AND id = $2 RETURNING 1)sql",
      {oid_int2, oid_bytea, oid_int8});
  def(op_unwatch, "unwatch", "DELETE FROM {watch} WHERE provider = $1 AND id = $2", {oid_int2, oid_bytea});
  def(op_watched, "watched", R"sql(
SELECT provider, id, due_at, polls, documents_seen, expected_at FROM {watch} WHERE provider = $1 AND id = $2)sql",
      {oid_int2, oid_bytea});
  def(op_watermark, "watermark", "SELECT at FROM {watermark} WHERE name = $1", {oid_bytea});
  def(op_set_watermark, "set_watermark", R"sql(
INSERT INTO {watermark} (name, at) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET at = EXCLUDED.at)sql",
      {oid_bytea, oid_int8});
  // $1 name, $2 holder, $3 lease end, $4 now: taken when free, expired, or already ours.
  def(op_try_lead, "try_lead", R"sql(
INSERT INTO {leader} AS l (name, holder, until) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
  WHERE l.holder = EXCLUDED.holder OR l.until <= $4
RETURNING 1)sql",
      {oid_bytea, oid_bytea, oid_int8, oid_int8});
  def(op_resign, "resign", "DELETE FROM {leader} WHERE name = $1 AND holder = $2", {oid_bytea, oid_bytea});
  def(op_tables_exist, "tables_exist", R"sql(
SELECT to_regclass('{dedup}') IS NOT NULL AND to_regclass('{inbox}') IS NOT NULL AND
  to_regclass('{watch}') IS NOT NULL AND to_regclass('{watermark}') IS NOT NULL AND
  to_regclass('{leader}') IS NOT NULL AND EXISTS (
  SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('{inbox}') AND attname = 'origin' AND NOT attisdropped))sql",
      {});
  return s;
}

// Run when a table is missing, as one implicit transaction under an advisory lock held until
// commit, so that instances starting together do not race each other's CREATE (IF NOT EXISTS
// alone is not safe against that). Strings are bytea, since keys, headers and errors may hold any
// bytes (text refuses NUL and invalid UTF-8); keys are unique by their SHA-256, so that a long key
// never meets btree's limit on index entries (about 2.7 kB). Times are bigint milliseconds.
constexpr const char* ddl_template = R"sql(
SELECT pg_advisory_xact_lock({lock});
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {dedup} (
  key_hash bytea PRIMARY KEY,         -- sha256(key)
  key bytea NOT NULL,
  state smallint NOT NULL,            -- 0 claimed, 1 done
  token bigint NOT NULL,
  expires_at bigint NOT NULL          -- lease end (claimed) or retention end (done)
);
CREATE INDEX IF NOT EXISTS {prefix_dedup_expires} ON {dedup} (expires_at);
CREATE TABLE IF NOT EXISTS {inbox} (
  id bigserial PRIMARY KEY,
  key_hash bytea NOT NULL UNIQUE,     -- sha256(key)
  key bytea NOT NULL,
  provider smallint NOT NULL,         -- 0 perfectparser, 1 parashift
  event_name bytea NOT NULL,
  body bytea,                         -- NULL once done
  headers bytea NOT NULL,
  received_at bigint NOT NULL,
  state smallint NOT NULL,            -- 0 queued, 1 leased, 2 done, 3 dead
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  lease_until bigint NOT NULL DEFAULT 0,
  lease_token bigint NOT NULL DEFAULT 0,
  last_error bytea NOT NULL DEFAULT ''::bytea,
  expires_at bigint NOT NULL DEFAULT 0, -- retention end (done)
  origin smallint NOT NULL DEFAULT 0    -- 0 webhook, 1 poll
);
CREATE TABLE IF NOT EXISTS {watch} (
  provider smallint NOT NULL,
  id bytea NOT NULL,
  due_at bigint NOT NULL,
  polls integer NOT NULL DEFAULT 0,
  documents_seen integer NOT NULL DEFAULT 0,
  expected_at bigint,
  PRIMARY KEY (provider, id)
);
CREATE INDEX IF NOT EXISTS {prefix_watch_due} ON {watch} (due_at);
CREATE TABLE IF NOT EXISTS {watermark} (name bytea PRIMARY KEY, at bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {leader} (name bytea PRIMARY KEY, holder bytea NOT NULL, until bigint NOT NULL);
-- Tables made by an older version lack the columns added since.
ALTER TABLE {inbox} ADD COLUMN IF NOT EXISTS origin smallint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS {prefix_inbox_queued} ON {inbox} (next_attempt_at, id) WHERE state = 0;
CREATE INDEX IF NOT EXISTS {prefix_inbox_leased} ON {inbox} (lease_until, id) WHERE state = 1;
CREATE INDEX IF NOT EXISTS {prefix_inbox_state} ON {inbox} (state, id);
CREATE INDEX IF NOT EXISTS {prefix_inbox_done} ON {inbox} (expires_at) WHERE state = 2;
)sql";

inbox_entry read_entry(const PGresult* r, int row) {
  inbox_entry e;
  e.id = pg::get_int(r, row, 0);
  e.record.key = pg::get_bytes(r, row, 1);
  e.record.source = pg::get_int(r, row, 2) == 1 ? provider::parashift : provider::perfectparser;
  e.record.event_name = pg::get_bytes(r, row, 3);
  e.record.body = pg::get_bytes(r, row, 4);
  e.record.headers = pg::get_bytes(r, row, 5);
  e.record.received_at = from_ms(pg::get_int(r, row, 6));
  e.state = loaded(pg::get_int(r, row, 7));
  e.attempts = static_cast<int>(pg::get_int(r, row, 8));
  e.next_attempt_at = from_ms(pg::get_int(r, row, 9));
  e.lease_until = from_ms(pg::get_int(r, row, 10));
  e.lease_token = as_unsigned(pg::get_int(r, row, 11));
  e.last_error = pg::get_bytes(r, row, 12);
  e.record.origin = pg::get_int(r, row, 13) == 1 ? delivery_origin::poll : delivery_origin::webhook;
  if (e.state != entry_state::leased) e.lease_until = time_point{};
  return e;
}

watch_entry read_watch(const PGresult* r, int row) {
  watch_entry e;
  e.source = pg::get_int(r, row, 0) == 1 ? provider::parashift : provider::perfectparser;
  e.id = pg::get_bytes(r, row, 1);
  e.due_at = from_ms(pg::get_int(r, row, 2));
  e.polls = static_cast<int>(pg::get_int(r, row, 3));
  e.documents_seen = static_cast<int>(pg::get_int(r, row, 4));
  if (PQgetisnull(r, row, 5) == 0) e.expected_at = from_ms(pg::get_int(r, row, 5));
  return e;
}

}  // namespace

struct postgres_store::impl {
  impl(postgres_options o, std::shared_ptr<const clock> c, std::vector<pg::statement> s)
      : options(std::move(o)),
        time(std::move(c)),
        statements(std::move(s)),
        connections(pg::settings{options.conninfo, options.timeout, &statements}, options.pool_size, "postgres: ") {}

  postgres_options options;
  std::shared_ptr<const clock> time;
  std::vector<pg::statement> statements;
  pg::pool connections;

  [[nodiscard]] std::int64_t now_ms() const { return to_ms(time->now()); }

  /// Runs one statement on a pooled connection; the whole call is bounded by options.timeout.
  [[nodiscard]] result<pg::result_ptr> run(op which, const pg::params& p) {
    const auto until = pg::steady::now() + options.timeout;
    auto conn = connections.acquire(until);
    if (!conn) return conn.error();
    return (*conn)->exec(which, p, until);
  }

  /// For ack, retry_at, dead_letter and release: in_progress for a stale token, not_found for an
  /// unknown id.
  [[nodiscard]] status run_owned(op which, const pg::params& p) {
    auto r = run(which, p);
    if (!r) return r.error();
    const PGresult* res = r->get();
    if (PQntuples(res) != 1) return hookrx::error(errc::store_unavailable, "postgres: unexpected result");
    if (pg::get_bool(res, 0, 0)) return {};
    if (!pg::get_bool(res, 0, 1)) return hookrx::error(errc::not_found, "no inbox entry with that id");
    return hookrx::error(errc::in_progress, "the lease token no longer owns the entry");
  }
};

postgres_store::postgres_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
postgres_store::~postgres_store() = default;

result<std::shared_ptr<postgres_store>> postgres_store::open(postgres_options options,
                                                             std::shared_ptr<const clock> time) {
  if (!time) return hookrx::error(errc::invalid_config, "postgres: no clock");
  if (options.conninfo.empty()) return hookrx::error(errc::invalid_config, "postgres: conninfo is empty");
  {
    // Report a malformed conninfo without libpq's message, which may quote the string.
    char* err = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(options.conninfo.c_str(), &err);
    if (err) PQfreemem(err);
    if (!parsed) return hookrx::error(errc::invalid_config, "postgres: conninfo does not parse");
    PQconninfoFree(parsed);
  }
  if (options.pool_size == 0) return hookrx::error(errc::invalid_config, "postgres: pool_size is 0");
  if (options.timeout.count() <= 0) return hookrx::error(errc::invalid_config, "postgres: timeout must be positive");
  // Index names are the prefix plus up to 13 characters; PostgreSQL cuts identifiers at 63.
  if (!plain_identifier(options.schema, false) || options.schema.size() > 63) {
    return hookrx::error(errc::invalid_config, "postgres: schema must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)");
  }
  if ((!options.table_prefix.empty() && !plain_identifier(options.table_prefix, false)) ||
      options.table_prefix.size() > 48) {
    return hookrx::error(errc::invalid_config,
                         "postgres: table_prefix must be a plain identifier of at most 48 characters");
  }

  // Identifiers are checked above to be plain, so quoting them cannot break out.
  const std::string& prefix = options.table_prefix;
  const std::string dedup = quoted(options.schema) + "." + quoted(prefix + "dedup");
  const std::string inbox = quoted(options.schema) + "." + quoted(prefix + "inbox");
  const std::string watch = quoted(options.schema) + "." + quoted(prefix + "watch");
  const std::string watermark = quoted(options.schema) + "." + quoted(prefix + "watermark");
  const std::string leader = quoted(options.schema) + "." + quoted(prefix + "leader");
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"{dedup}", dedup},
      {"{inbox}", inbox},
      {"{watch}", watch},
      {"{watermark}", watermark},
      {"{leader}", leader},
      {"{prefix_watch_due}", quoted(prefix + "watch_due")},
      {"{cols}", entry_columns},
      {"{schema}", quoted(options.schema)},
      {"{lock}", ddl_lock_key},
      {"{prefix_dedup_expires}", quoted(prefix + "dedup_expires")},
      {"{prefix_inbox_queued}", quoted(prefix + "inbox_queued")},
      {"{prefix_inbox_leased}", quoted(prefix + "inbox_leased")},
      {"{prefix_inbox_state}", quoted(prefix + "inbox_state")},
      {"{prefix_inbox_done}", quoted(prefix + "inbox_done")},
  };
  auto statements = make_statements(vars);
  std::string ddl = expand(ddl_template, vars);
  // The public schema exists, and CREATE SCHEMA needs a privilege an ordinary role may lack there.
  if (options.schema == "public") ddl = expand(ddl, {{"CREATE SCHEMA IF NOT EXISTS \"public\";", ""}});

  auto p = std::make_unique<impl>(std::move(options), std::move(time), std::move(statements));
  {
    const auto until = pg::steady::now() + p->options.timeout;
    auto conn = p->connections.acquire(until);
    if (!conn) return conn.error();
    // Only take the lock and run DDL when a table is missing: a role that may use the tables but
    // not create anything in the schema can still open an existing store.
    auto exists = (*conn)->exec(op_tables_exist, pg::params(), until);
    if (!exists) return exists.error();
    if (!pg::get_bool(exists->get(), 0, 0)) {
      if (auto s = (*conn)->exec_script("creating tables", ddl, until); !s) return s.error();
    }
  }
  return std::shared_ptr<postgres_store>(new postgres_store(std::move(p)));
}

// --- dedup ----------------------------------------------------------------------------------

result<claim> postgres_store::try_claim(std::string_view key, milliseconds lease) {
  const std::uint64_t token = new_claim_token();
  const std::int64_t now = impl_->now_ms();
  pg::params p;
  p.add_bytes(key);
  p.add_i64(as_signed(token));
  p.add_i64(now);
  p.add_i64(add_ms(now, lease));
  auto r = impl_->run(op_try_claim, p);
  if (!r) return r.error();
  const PGresult* res = r->get();
  if (PQntuples(res) != 1) return hookrx::error(errc::store_unavailable, "postgres: try_claim: unexpected result");
  claim c;
  if (as_unsigned(pg::get_int(res, 0, 1)) == token) {
    c.state = claim_state::claimed;
    c.token = token;
  } else {
    c.state = pg::get_int(res, 0, 0) == claim_done ? claim_state::done : claim_state::in_progress;
  }
  return c;
}

status postgres_store::complete(std::string_view key, std::uint64_t token, milliseconds retention) {
  pg::params p;
  p.add_bytes(key);
  p.add_i64(as_signed(token));
  p.add_i64(add_ms(impl_->now_ms(), retention));
  auto r = impl_->run(op_complete, p);
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return hookrx::error(errc::in_progress, "the token no longer owns the claim");
  return {};
}

status postgres_store::release(std::string_view key, std::uint64_t token) {
  pg::params p;
  p.add_bytes(key);
  p.add_i64(as_signed(token));
  auto r = impl_->run(op_release_claim, p);
  if (!r) return r.error();
  return {};
}

// --- inbox ----------------------------------------------------------------------------------

result<offer_state> postgres_store::offer(inbox_record rec) {
  pg::params p;
  p.add_bytes(rec.key);
  p.add_i16(static_cast<std::int16_t>(rec.source));
  p.add_bytes(rec.event_name);
  p.add_bytes(rec.body);
  p.add_bytes(rec.headers);
  p.add_i64(to_ms(rec.received_at));
  p.add_i64(impl_->now_ms());
  p.add_i16(static_cast<std::int16_t>(rec.origin));
  // Autocommit with the server's synchronous_commit: the row is durable when the reply comes.
  auto r = impl_->run(op_offer, p);
  if (!r) return r.error();
  return PQntuples(r->get()) == 1 ? offer_state::queued : offer_state::duplicate;
}

result<std::vector<inbox_entry>> postgres_store::lease(std::size_t max, milliseconds lease) {
  std::vector<inbox_entry> out;
  if (max == 0) return entries(std::move(out));
  const std::int64_t now = impl_->now_ms();
  pg::params p;
  p.add_i64(now);
  p.add_i64(clamp_count(max));
  p.add_i64(add_ms(now, lease));
  p.add_i64(as_signed(new_lease_base()));
  auto r = impl_->run(op_lease, p);
  if (!r) return r.error();
  const PGresult* res = r->get();
  const int n = PQntuples(res);
  std::vector<std::pair<std::int64_t, inbox_entry>> rows;
  rows.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) rows.emplace_back(pg::get_int(res, i, 14), read_entry(res, i));
  // UPDATE ... RETURNING comes in no particular order: oldest due first, as documented.
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.id < b.second.id;
  });
  out.reserve(rows.size());
  for (auto& row : rows) out.push_back(std::move(row.second));
  return entries(std::move(out));
}

status postgres_store::ack(std::int64_t id, std::uint64_t token, milliseconds retention) {
  pg::params p;
  p.add_i64(id);
  p.add_i64(as_signed(token));
  p.add_i64(add_ms(impl_->now_ms(), retention));
  return impl_->run_owned(op_ack, p);
}

result<std::size_t> postgres_store::ack_all(const std::vector<lease_ref>& leases, milliseconds retention) {
  if (leases.empty()) return std::size_t{0};
  const std::int64_t expires = add_ms(impl_->now_ms(), retention);
  std::size_t acknowledged = 0;
  // One statement for any real batch; a list longer than one array parameter may hold goes in
  // chunks, each its own transaction (acks are independent, so no entry is affected by the split).
  for (std::size_t from = 0; from < leases.size(); from += pg::params::max_array_elements) {
    const std::size_t to = std::min(leases.size(), from + pg::params::max_array_elements);
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> tokens;
    ids.reserve(to - from);
    tokens.reserve(to - from);
    for (std::size_t i = from; i < to; ++i) {
      ids.push_back(leases[i].id);
      tokens.push_back(as_signed(leases[i].token));
    }
    pg::params p;
    if (!p.add_i64_array(ids) || !p.add_i64_array(tokens)) {
      return hookrx::error(errc::store_unavailable, "postgres: ack_all: too many entries for one statement");
    }
    p.add_i64(expires);
    auto r = impl_->run(op_ack_all, p);
    if (!r) return r.error();
    if (PQntuples(r->get()) != 1) return hookrx::error(errc::store_unavailable, "postgres: ack_all: unexpected result");
    acknowledged += static_cast<std::size_t>(pg::get_int(r->get(), 0, 0));
  }
  return acknowledged;
}

status postgres_store::retry_at(std::int64_t id, std::uint64_t token, time_point when, std::string_view error) {
  pg::params p;
  p.add_i64(id);
  p.add_i64(as_signed(token));
  p.add_i64(to_ms(when));
  p.add_bytes(error);
  return impl_->run_owned(op_retry_at, p);
}

status postgres_store::dead_letter(std::int64_t id, std::uint64_t token, std::string_view error) {
  pg::params p;
  p.add_i64(id);
  p.add_i64(as_signed(token));
  p.add_bytes(error);
  return impl_->run_owned(op_dead_letter, p);
}

status postgres_store::release(std::int64_t id, std::uint64_t token) {
  pg::params p;
  p.add_i64(id);
  p.add_i64(as_signed(token));
  p.add_i64(impl_->now_ms());
  return impl_->run_owned(op_release_entry, p);
}

result<std::vector<inbox_entry>> postgres_store::list(entry_state state, std::size_t limit, std::int64_t after_id) {
  std::vector<inbox_entry> out;
  if (limit == 0) return entries(std::move(out));
  pg::params p;
  p.add_i16(stored(state));
  p.add_i64(after_id);
  p.add_i64(clamp_count(limit));
  auto r = impl_->run(op_list, p);
  if (!r) return r.error();
  const int n = PQntuples(r->get());
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(read_entry(r->get(), i));
  return entries(std::move(out));
}

result<std::optional<inbox_entry>> postgres_store::get(std::int64_t id) {
  pg::params p;
  p.add_i64(id);
  auto r = impl_->run(op_get, p);
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::optional<inbox_entry>();
  return std::optional<inbox_entry>(read_entry(r->get(), 0));
}

result<std::int64_t> postgres_store::pending_count() {
  auto r = impl_->run(op_pending_count, pg::params());
  if (!r) return r.error();
  return pg::get_int(r->get(), 0, 0);
}

result<std::optional<inbox_entry>> postgres_store::find(std::string_view key) {
  pg::params p;
  p.add_bytes(key);
  p.add_i64(impl_->now_ms());
  auto r = impl_->run(op_find, p);
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::optional<inbox_entry>();
  return std::optional<inbox_entry>(read_entry(r->get(), 0));
}

status postgres_store::replay(std::int64_t id) {
  pg::params p;
  p.add_i64(id);
  p.add_i64(impl_->now_ms());
  auto r = impl_->run(op_replay, p);
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return hookrx::error(errc::not_found, "no dead-lettered entry with that id");
  return {};
}

// --- poller ---------------------------------------------------------------------------------

result<bool> postgres_store::watch(const watch_entry& e) {
  pg::params p;
  p.add_i16(static_cast<std::int16_t>(e.source));
  p.add_bytes(e.id);
  p.add_i64(to_ms(e.due_at));
  p.add_i64(e.expected_at ? to_ms(*e.expected_at) : 0);
  p.add_i16(e.expected_at ? 1 : 0);
  auto r = impl_->run(op_watch, p);
  if (!r) return r.error();
  return PQntuples(r->get()) == 1;
}

status postgres_store::note_document(provider source, std::string_view id, time_point due_if_new) {
  pg::params p;
  p.add_i16(static_cast<std::int16_t>(source));
  p.add_bytes(id);
  p.add_i64(to_ms(due_if_new));
  auto r = impl_->run(op_note_document, p);
  if (!r) return r.error();
  return {};
}

result<std::vector<watch_entry>> postgres_store::due(std::size_t max) {
  std::vector<watch_entry> out;
  if (max == 0) return out;
  pg::params p;
  p.add_i64(impl_->now_ms());
  p.add_i64(clamp_count(max));
  auto r = impl_->run(op_due, p);
  if (!r) return r.error();
  const int n = PQntuples(r->get());
  for (int i = 0; i < n; ++i) out.push_back(read_watch(r->get(), i));
  return out;
}

status postgres_store::reschedule(provider source, std::string_view id, time_point next) {
  pg::params p;
  p.add_i16(static_cast<std::int16_t>(source));
  p.add_bytes(id);
  p.add_i64(to_ms(next));
  auto r = impl_->run(op_reschedule, p);
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return hookrx::error(errc::not_found, "postgres: that id is not watched");
  return {};
}

status postgres_store::unwatch(provider source, std::string_view id) {
  pg::params p;
  p.add_i16(static_cast<std::int16_t>(source));
  p.add_bytes(id);
  auto r = impl_->run(op_unwatch, p);
  if (!r) return r.error();
  return {};
}

result<std::optional<watch_entry>> postgres_store::watched(provider source, std::string_view id) {
  pg::params p;
  p.add_i16(static_cast<std::int16_t>(source));
  p.add_bytes(id);
  auto r = impl_->run(op_watched, p);
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::optional<watch_entry>();
  return std::optional<watch_entry>(read_watch(r->get(), 0));
}

result<std::optional<time_point>> postgres_store::watermark(std::string_view name) {
  pg::params p;
  p.add_bytes(name);
  auto r = impl_->run(op_watermark, p);
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::optional<time_point>();
  return std::optional<time_point>(from_ms(pg::get_int(r->get(), 0, 0)));
}

status postgres_store::set_watermark(std::string_view name, time_point at) {
  pg::params p;
  p.add_bytes(name);
  p.add_i64(to_ms(at));
  auto r = impl_->run(op_set_watermark, p);
  if (!r) return r.error();
  return {};
}

result<bool> postgres_store::try_lead(std::string_view name, std::string_view holder, milliseconds lease) {
  const std::int64_t now = impl_->now_ms();
  pg::params p;
  p.add_bytes(name);
  p.add_bytes(holder);
  p.add_i64(add_ms(now, lease));
  p.add_i64(now);
  auto r = impl_->run(op_try_lead, p);
  if (!r) return r.error();
  return PQntuples(r->get()) == 1;
}

status postgres_store::resign(std::string_view name, std::string_view holder) {
  pg::params p;
  p.add_bytes(name);
  p.add_bytes(holder);
  auto r = impl_->run(op_resign, p);
  if (!r) return r.error();
  return {};
}

result<std::size_t> postgres_store::purge_expired() {
  const std::int64_t now = impl_->now_ms();
  std::size_t total = 0;
  for (const op which : {op_purge_inbox, op_purge_dedup}) {
    for (;;) {
      pg::params p;
      p.add_i64(now);
      p.add_i64(purge_batch);
      auto r = impl_->run(which, p);
      if (!r) return r.error();
      const char* affected = PQcmdTuples(r->get());
      const auto n = static_cast<std::size_t>(std::strtoull(affected, nullptr, 10));
      total += n;
      if (n < static_cast<std::size_t>(purge_batch)) break;
    }
  }
  return total;
}

}  // namespace hookrx
