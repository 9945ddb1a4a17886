// cli/log.hpp: structured logs, one JSON object per line on stderr.
//
//   hookrx::cli::logger log(hookrx::cli::options::level::info);
//   log.info("listening", {{"address", "127.0.0.1:8080"}, {"routes", 2}});
//   // {"ts":"2026-12-03T09:00:00.123Z","level":"info","msg":"listening","address":"127.0.0.1:8080","routes":2}
//
// Each line is written with one write(2), so lines from several threads never interleave. Never
// pass a secret: fields are written as given.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "config.hpp"

namespace hookrx::cli {

/// Appends `s` as a JSON string (quoted, escaped; bytes that are not valid UTF-8 pass through).
void append_json_string(std::string& out, std::string_view s);

/// Appends JSON text `json` on one line: as it is when it has no line break, otherwise without
/// the whitespace between its tokens (a pretty-printed body). `json` must be valid JSON (the
/// parser accepted it).
void append_minified_json(std::string& out, std::string_view json);

class logger {
 public:
  using value = std::variant<std::string_view, std::int64_t, double, bool>;
  struct field {
    std::string_view name;
    value v;
    field(std::string_view n, std::string_view s) : name(n), v(s) {}
    field(std::string_view n, const char* s) : name(n), v(std::string_view(s)) {}
    field(std::string_view n, const std::string& s) : name(n), v(std::string_view(s)) {}
    field(std::string_view n, int i) : name(n), v(static_cast<std::int64_t>(i)) {}
    field(std::string_view n, std::int64_t i) : name(n), v(i) {}
    field(std::string_view n, std::uint64_t i) : name(n), v(static_cast<std::int64_t>(i)) {}
    field(std::string_view n, double d) : name(n), v(d) {}
    field(std::string_view n, bool b) : name(n), v(b) {}
  };
  using level = options::level;

  explicit logger(level min = level::info, int fd = 2) noexcept : min_(min), fd_(fd) {}

  void write(level l, std::string_view msg, std::initializer_list<field> fields = {}) const;
  void debug(std::string_view msg, std::initializer_list<field> f = {}) const { write(level::debug, msg, f); }
  void info(std::string_view msg, std::initializer_list<field> f = {}) const { write(level::info, msg, f); }
  void warn(std::string_view msg, std::initializer_list<field> f = {}) const { write(level::warn, msg, f); }
  void error(std::string_view msg, std::initializer_list<field> f = {}) const { write(level::error, msg, f); }
  [[nodiscard]] bool enabled(level l) const noexcept { return l >= min_; }

 private:
  level min_;
  int fd_;
};

}  // namespace hookrx::cli
