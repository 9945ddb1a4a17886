#include "pg.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace hookrx::detail::pg {
namespace {

constexpr std::string_view prefix = "postgres: ";

// libpq messages end with a newline and continue with hints on further lines; keep the first.
std::string first_line(const char* msg) {
  std::string_view s = msg ? msg : "";
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Connection errors read 'connection to server at "host", port N failed: <reason>': the reason
// is what matters, and dropping the rest keeps anything taken from the conninfo out of errors.
std::string connect_reason(const char* msg) {
  std::string line = first_line(msg);
  const auto at = line.rfind("failed: ");
  if (at != std::string::npos) line.erase(0, at + 8);
  if (line.rfind("FATAL:", 0) == 0) {
    line.erase(0, 6);
    line.erase(0, line.find_first_not_of(' '));
  }
  if (!line.empty() && line[0] >= 'A' && line[0] <= 'Z' && (line.size() < 2 || line[1] < 'A' || line[1] > 'Z'))
    line[0] = static_cast<char>(line[0] - 'A' + 'a');
  return line.empty() ? "cannot connect" : line;
}

void put_be(std::array<char, 8>& out, std::uint64_t v, std::size_t len) {
  for (std::size_t i = 0; i < len; ++i) out[i] = static_cast<char>((v >> (8 * (len - 1 - i))) & 0xffU);
}

void append_be(std::string& out, std::uint64_t v, std::size_t len) {
  for (std::size_t i = 0; i < len; ++i) out.push_back(static_cast<char>((v >> (8 * (len - 1 - i))) & 0xffU));
}

std::uint64_t get_be(const char* p, std::size_t len) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < len; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void ignore_notice(void* /*arg*/, const char* /*message*/) {}

// The SQLSTATEs after which a connection must not be reused: class 08 (connection exception) and
// the operator interventions (admin shutdown, crash shutdown, cannot connect now).
bool connection_lost(const char* sqlstate) {
  if (!sqlstate) return false;
  const std::string_view s(sqlstate);
  return s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03";
}

}  // namespace

// --- params ---------------------------------------------------------------------------------

void params::push(Oid type, const char* data, std::size_t len) {
  // The statements are ours and have fewer parameters; running past the array would be a bug.
  if (count_ >= max_params) return;
  types_[count_] = type;
  values_[count_] = data;
  lengths_[count_] = static_cast<int>(std::min<std::size_t>(len, std::numeric_limits<int>::max()));
  formats_[count_] = 1;
  ++count_;
}

void params::add_i64(std::int64_t v) {
  if (count_ >= max_params) return;
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof u);
  put_be(ints_[count_], u, 8);
  push(oid_int8, ints_[count_].data(), 8);
}

void params::add_i16(std::int16_t v) {
  if (count_ >= max_params) return;
  put_be(ints_[count_], static_cast<std::uint16_t>(v), 2);
  push(oid_int2, ints_[count_].data(), 2);
}

bool params::add_i64_array(const std::vector<std::int64_t>& v) {
  if (count_ >= max_params || v.size() > max_array_elements) return false;
  // The binary array format (array_send): dimensions, a has-NULLs flag, the element type, each
  // dimension's length and lower bound, then every element as its length and its bytes.
  std::string& out = arrays_[count_];
  out.clear();
  out.reserve(20 + 12 * v.size());
  append_be(out, v.empty() ? 0 : 1, 4);
  append_be(out, 0, 4);
  append_be(out, oid_int8, 4);
  if (!v.empty()) {
    append_be(out, v.size(), 4);
    append_be(out, 1, 4);
  }
  for (const std::int64_t x : v) {
    std::uint64_t u = 0;
    std::memcpy(&u, &x, sizeof u);
    append_be(out, 8, 4);
    append_be(out, u, 8);
  }
  push(oid_int8_array, out.data(), out.size());
  return true;
}

void params::add_bytes(std::string_view v) {
  // A zero-length binary parameter still needs a non-null pointer (null means SQL NULL).
  push(oid_bytea, v.empty() ? "" : v.data(), v.size());
}

// --- results --------------------------------------------------------------------------------

std::int64_t get_int(const PGresult* r, int row, int col) noexcept {
  if (PQgetisnull(r, row, col)) return 0;
  const int len = PQgetlength(r, row, col);
  const char* p = PQgetvalue(r, row, col);
  switch (len) {
    case 2: return static_cast<std::int16_t>(static_cast<std::uint16_t>(get_be(p, 2)));
    case 4: return static_cast<std::int32_t>(static_cast<std::uint32_t>(get_be(p, 4)));
    case 8: {
      const std::uint64_t u = get_be(p, 8);
      std::int64_t v = 0;
      std::memcpy(&v, &u, sizeof v);
      return v;
    }
    default: return 0;
  }
}

bool get_bool(const PGresult* r, int row, int col) noexcept {
  if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 1) return false;
  return PQgetvalue(r, row, col)[0] != 0;
}

std::string get_bytes(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
}

// --- connection -----------------------------------------------------------------------------

connection::~connection() { close(); }

void connection::close() noexcept {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
}

hookrx::error connection::fail(std::string_view what, bool with_reason) {
  std::string detail(prefix);
  detail += what;
  if (conn_ && with_reason) {
    const std::string reason = first_line(PQerrorMessage(conn_));
    if (!reason.empty()) detail += ": " + reason;
  }
  close();
  return {errc::store_unavailable, std::move(detail)};
}

hookrx::error connection::check_result(const PGresult* r, std::string_view what) {
  const char* sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string detail(prefix);
  detail += what;
  detail += ": ";
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  detail += primary ? first_line(primary) : first_line(PQresultErrorMessage(r));
  if (sqlstate) {
    detail += " (SQLSTATE ";
    detail += sqlstate;
    detail += ')';
  }
  if (connection_lost(sqlstate) || PQstatus(conn_) != CONNECTION_OK) close();
  return {errc::store_unavailable, std::move(detail)};
}

bool connection::healthy() {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK || PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
  const int fd = PQsocket(conn_);
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  const int n = ::poll(&p, 1, 0);
  // An idle connection has nothing to read; data or EOF here means the server said goodbye.
  return n == 0;
}

status connection::wait_socket(bool for_write, deadline until) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - steady::now()).count();
    if (left <= 0) return errc::store_unavailable;
    const int fd = PQsocket(conn_);
    if (fd < 0) return errc::store_unavailable;
    pollfd p{fd, static_cast<short>(for_write ? (POLLOUT | POLLIN) : POLLIN), 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, std::numeric_limits<int>::max())));
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return errc::store_unavailable;
  }
}

status connection::connect(deadline until) {
  close();
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {settings_.conninfo.c_str(), "hookrx", nullptr};
  conn_ = PQconnectStartParams(keywords, values, 1);
  if (!conn_) return hookrx::error(errc::store_unavailable, std::string(prefix) + "cannot connect: out of memory");
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  auto connect_failed = [&](std::string reason) {
    close();
    return hookrx::error(errc::store_unavailable, std::string(prefix) + std::move(reason));
  };
  if (PQstatus(conn_) == CONNECTION_BAD) return connect_failed(connect_reason(PQerrorMessage(conn_)));

  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) return connect_failed(connect_reason(PQerrorMessage(conn_)));
    if (!wait_socket(state == PGRES_POLLING_WRITING, until)) {
      return connect_failed("connect timed out after " + std::to_string(settings_.timeout.count()) + " ms");
    }
    state = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) return fail("cannot connect: setting non-blocking mode failed", false);
  prepared_.assign(settings_.statements ? settings_.statements->size() : 0, false);

  // The server gives up on a statement when we would; a backstop for when we cannot tell it.
  const std::string setup = "SET statement_timeout = " + std::to_string(settings_.timeout.count()) +
                            "; SET lock_timeout = " + std::to_string(settings_.timeout.count());
  return exec_script("session setup", setup, until);
}

status connection::flush(std::string_view what, deadline until) {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) return {};
    if (r < 0) return fail(std::string(what) + " failed");
    if (!wait_socket(true, until)) {
      return fail(std::string(what) + ": timed out after " + std::to_string(settings_.timeout.count()) + " ms", false);
    }
    if (PQconsumeInput(conn_) == 0) return fail(std::string(what) + " failed");
  }
}

result<result_ptr> connection::collect(std::string_view what, deadline until) {
  result_ptr last;
  hookrx::error first_error(errc::store_unavailable);
  bool failed = false;
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!wait_socket(false, until)) {
        return fail(std::string(what) + ": timed out after " + std::to_string(settings_.timeout.count()) + " ms",
                    false);
      }
      if (PQconsumeInput(conn_) == 0) return fail(std::string(what) + " failed");
    }
    result_ptr r(PQgetResult(conn_));
    if (!r) break;
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !failed) {
      failed = true;
      first_error = check_result(r.get(), what);
      if (!conn_) return first_error;  // closed: nothing more will come
    }
    last = std::move(r);
  }
  if (failed) return first_error;
  if (!last) return fail(std::string(what) + ": no result");
  result<result_ptr> out(std::in_place, std::move(last));
  return out;
}

result<result_ptr> connection::exec(std::size_t index, const params& p, deadline until) {
  if (!conn_) return hookrx::error(errc::store_unavailable, std::string(prefix) + "not connected");
  const statement& s = (*settings_.statements)[index];
  if (!prepared_[index]) {
    if (!PQsendPrepare(conn_, s.name.c_str(), s.sql.c_str(), static_cast<int>(s.param_types.size()),
                       s.param_types.data())) {
      return fail(s.name + " failed");
    }
    if (auto f = flush(s.name, until); !f) return f.error();
    auto r = collect(s.name, until);
    if (!r) return r.error();
    prepared_[index] = true;
  }
  if (!PQsendQueryPrepared(conn_, s.name.c_str(), p.size(), p.values(), p.lengths(), p.formats(), 1)) {
    return fail(s.name + " failed");
  }
  if (auto f = flush(s.name, until); !f) return f.error();
  return collect(s.name, until);
}

status connection::exec_script(std::string_view what, const std::string& sql, deadline until) {
  if (!conn_) return hookrx::error(errc::store_unavailable, std::string(prefix) + "not connected");
  if (!PQsendQuery(conn_, sql.c_str())) return fail(std::string(what) + " failed");
  if (auto f = flush(what, until); !f) return f.error();
  auto r = collect(what, until);
  if (!r) return r.error();
  return {};
}

}  // namespace hookrx::detail::pg
