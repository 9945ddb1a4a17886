// The libpq layer under postgres_store: binary parameters and results, connections that never
// block past a deadline, and the pool that hands them out. Private to hookrx::postgres.
//
//   detail::pg::pool pool(settings, 8, "postgres: ");
//   auto conn = pool.acquire(deadline);                 // reconnects a broken connection first
//   detail::pg::params p;
//   p.add_bytes(key);
//   auto res = conn->exec(statement, p, deadline);      // prepared once per connection
#pragma once

#include <libpq-fe.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connection_pool.hpp"
#include "hookrx/error.hpp"

namespace hookrx::detail::pg {

using steady = std::chrono::steady_clock;
using deadline = steady::time_point;

/// Type OIDs of the parameter and result types we use (pg_type.h is a server header).
inline constexpr Oid oid_bool = 16;
inline constexpr Oid oid_bytea = 17;
inline constexpr Oid oid_int8 = 20;
inline constexpr Oid oid_int2 = 21;
inline constexpr Oid oid_int4 = 23;
inline constexpr Oid oid_int8_array = 1016;  // int8[]

/// Statement parameters, all in binary format. Byte parameters point at the caller's bytes, which
/// must outlive the exec() call; integers and arrays are copied in. Not copyable: the values point
/// into the object itself.
class params {
 public:
  params() = default;
  params(const params&) = delete;
  params& operator=(const params&) = delete;

  void add_i64(std::int64_t v);
  void add_i16(std::int16_t v);
  void add_bytes(std::string_view v);
  /// An int8[] of `v`: one parameter for a whole list (e.g. `unnest($1::int8[])`), so a batch is
  /// one statement. False (nothing added) for more than max_array_elements.
  [[nodiscard]] bool add_i64_array(const std::vector<std::int64_t>& v);

  [[nodiscard]] int size() const noexcept { return static_cast<int>(count_); }
  [[nodiscard]] const Oid* types() const noexcept { return types_.data(); }
  [[nodiscard]] const char* const* values() const noexcept { return values_.data(); }
  [[nodiscard]] const int* lengths() const noexcept { return lengths_.data(); }
  [[nodiscard]] const int* formats() const noexcept { return formats_.data(); }

  static constexpr std::size_t max_params = 16;
  /// Keeps an array parameter far below the server's 1 GB limit on one value (12 bytes each).
  static constexpr std::size_t max_array_elements = std::size_t{1} << 20;

 private:
  void push(Oid type, const char* data, std::size_t len);

  std::size_t count_ = 0;
  std::array<Oid, max_params> types_{};
  std::array<const char*, max_params> values_{};
  std::array<int, max_params> lengths_{};
  std::array<int, max_params> formats_{};
  std::array<std::array<char, 8>, max_params> ints_{};  // storage for integer parameters
  std::array<std::string, max_params> arrays_{};        // storage for array parameters
};

struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

/// Reading binary-format result columns. A column of an unexpected type reads as 0 / empty.
[[nodiscard]] std::int64_t get_int(const PGresult* r, int row, int col) noexcept;
[[nodiscard]] bool get_bool(const PGresult* r, int row, int col) noexcept;
[[nodiscard]] std::string get_bytes(const PGresult* r, int row, int col);

/// A prepared statement: its SQL and parameter types (binary parameters, binary results).
struct statement {
  std::string name;
  std::string sql;
  std::vector<Oid> param_types;
};

/// What a connection needs to (re)connect.
struct settings {
  std::string conninfo;
  std::chrono::milliseconds timeout{2000};
  const std::vector<statement>* statements = nullptr;  // indexed by statement number
};

/// One server connection, used by one thread at a time. Every wait is bounded by a deadline: on
/// timeout or any connection-level failure the connection is closed, and the next acquire()
/// connects afresh.
class connection {
 public:
  explicit connection(const settings& s) : settings_(s) {}
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// True when connected, idle and nothing arrived while idle (a server that shut down or
  /// restarted sends an error and closes: such a connection is replaced before use).
  [[nodiscard]] bool healthy();
  [[nodiscard]] status connect(deadline until);
  void close() noexcept;

  /// Runs prepared statement `index` (preparing it first on this connection if needed).
  [[nodiscard]] result<result_ptr> exec(std::size_t index, const params& p, deadline until);
  /// Runs SQL text through the simple protocol (several statements: one implicit transaction).
  /// `what` names it in errors.
  [[nodiscard]] status exec_script(std::string_view what, const std::string& sql, deadline until);

 private:
  [[nodiscard]] status flush(std::string_view what, deadline until);
  [[nodiscard]] result<result_ptr> collect(std::string_view what, deadline until);
  [[nodiscard]] status wait_socket(bool for_write, deadline until);
  /// Closes the connection and returns store_unavailable: "postgres: <what>[: <libpq's reason>]".
  [[nodiscard]] hookrx::error fail(std::string_view what, bool with_reason = true);
  [[nodiscard]] hookrx::error check_result(const PGresult* r, std::string_view what);

  const settings& settings_;
  PGconn* conn_ = nullptr;
  std::vector<bool> prepared_;
};

/// The backend's connections (stores/common/connection_pool.hpp).
using pool = connection_pool<connection, settings>;

}  // namespace hookrx::detail::pg
