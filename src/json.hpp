// Private: reading typed fields with simdjson On-Demand. Only the parse_*.cpp files include this
// (and so simdjson). Readers write into an optional (null reads as absent) and return simdjson's
// error code; callers decide whether a type error is fatal and name the field.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "hookrx/error.hpp"
#include "parse.hpp"

namespace hookrx::detail::json {

namespace od = simdjson::ondemand;
using simdjson::error_code;

/// Makes room for `size` characters in `s` without ever shrinking it. (libstdc++'s C++17
/// reserve() shrinks a string to the size asked for, which would reallocate a reused string every
/// time a smaller value followed a larger one.)
inline void grow_to(std::string& s, std::size_t size) {
  if (s.capacity() < size) s.reserve(size);
}

/// Copies the body into `out` (the event's raw_json()), with room that simdjson may read past the
/// end of (SIMDJSON_PADDING): the one copy of the body is the one simdjson parses. A reused `out`
/// allocates only when the body is larger than any it held before.
inline void copy_padded(std::string_view body, std::string& out) {
  grow_to(out, body.size() + simdjson::SIMDJSON_PADDING);
  out.assign(body);
}

/// How deeply arrays and objects may nest: simdjson's default limit.
inline constexpr std::size_t max_depth = simdjson::DEFAULT_MAX_DEPTH;

/// How many times `c` occurs in `s`, counting no further than `limit` + 1. memchr is vectorised,
/// and JSON has few brackets, so this costs a fraction of a byte-by-byte count.
[[nodiscard]] inline std::size_t count_up_to(std::string_view s, char c, std::size_t limit) noexcept {
  std::size_t n = 0;
  const char* p = s.data();
  const char* const end = s.data() + s.size();
  while (n <= limit && p != end) {
    p = static_cast<const char*>(std::memchr(p, c, static_cast<std::size_t>(end - p)));
    if (p == nullptr) break;
    ++n;
    ++p;
  }
  return n;
}

/// True when brackets nest deeper than max_depth. On-Demand skips the values it is not asked for
/// without checking their depth, so the limit is enforced here. A body needs more than max_depth
/// opening brackets to exceed it, so almost every body is cleared by a count; the rest are scanned.
[[nodiscard]] inline bool nests_too_deep(std::string_view json) noexcept {
  if (json.size() <= max_depth) return false;
  const std::size_t squares = count_up_to(json, '[', max_depth);
  if (squares + count_up_to(json, '{', max_depth - std::min(squares, max_depth)) <= max_depth) return false;
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

/// The calling thread's parser, for one document at a time: its buffers are reused from one
/// delivery to the next. They take ~6 bytes per byte of the largest body read, so after a body
/// over kept_body_bytes they are let go when the document is done (64 threads × ~6 MiB after
/// 1 MiB bodies otherwise).
class thread_parser {
 public:
  thread_parser() = default;
  thread_parser(const thread_parser&) = delete;
  thread_parser& operator=(const thread_parser&) = delete;
  ~thread_parser() {
    if (parser_.capacity() > kept_body_bytes) parser_ = od::parser();
  }

  /// Starts iterating `raw` (from copy_padded); `doc` must not outlive this object.
  [[nodiscard]] error_code iterate(std::string& raw, od::document& doc) {
    if (nests_too_deep(raw)) return simdjson::DEPTH_ERROR;
    return parser_.iterate(raw.data(), raw.size(), raw.capacity()).get(doc);
  }

 private:
  static od::parser& instance() {
    thread_local od::parser parser;
    return parser;
  }
  od::parser& parser_ = instance();
};

/// The offset of the first '"' or '\\' in `raw`, the text of a key after its opening quote. Stage 1
/// has checked that every string is closed. The text lies in a padded body copy (copy_padded), so
/// reading it eight bytes at a time reads at most 7 bytes past the closing quote: inside the
/// padding, which simdjson reads too.
[[nodiscard]] inline std::size_t key_end(const char* raw) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr std::uint64_t ones = 0x0101010101010101U;
  constexpr std::uint64_t highs = 0x80 * ones;
  // The high bit of every zero byte of w is set, and possibly of bytes after the first zero byte
  // (the subtraction's borrow), never of bytes before it: the lowest set bit is exact.
  const auto zero_bytes = [](std::uint64_t w) { return (w - ones) & ~w & highs; };
  for (std::size_t n = 0;; n += sizeof(std::uint64_t)) {
    std::uint64_t w = 0;
    std::memcpy(&w, raw + n, sizeof w);
    const std::uint64_t hits = zero_bytes(w ^ ('"' * ones)) | zero_bytes(w ^ ('\\' * ones));
    if (hits != 0) return n + static_cast<std::size_t>(__builtin_ctzll(hits)) / 8;
  }
#else
  std::size_t n = 0;
  while (raw[n] != '"' && raw[n] != '\\') ++n;
  return n;
#endif
}

/// The key of `member`. A key without a backslash is its own text, read in place: keys are short,
/// so finding the closing quote costs less than a call into simdjson's unescaper, which only the
/// rare escaped key still takes.
[[nodiscard]] inline error_code key_of(simdjson::simdjson_result<od::field>& member, std::string_view& out) {
  if (error_code ec = member.error()) return ec;
  const char* const raw = member.value_unsafe().key().raw();
  const std::size_t n = key_end(raw);
  if (raw[n] == '"') {
    out = std::string_view(raw, n);
    return simdjson::SUCCESS;
  }
  return member.unescaped_key().get(out);
}

/// A type mismatch is the sender's wrong type; any other error means the document is broken.
[[nodiscard]] inline bool is_type_error(error_code ec) noexcept {
  return ec == simdjson::INCORRECT_TYPE || ec == simdjson::NUMBER_ERROR || ec == simdjson::NUMBER_OUT_OF_RANGE;
}

/// The document itself is broken (syntax, encoding, nesting depth): simdjson's message says how.
[[nodiscard]] inline error document_error(error_code ec) { return {errc::invalid_json, simdjson::error_message(ec)}; }

/// The error for `ec` met while reading `field`.
[[nodiscard]] inline error field_error(error_code ec, std::string_view field) {
  return is_type_error(ec) ? error(errc::wrong_type, std::string(field)) : document_error(ec);
}

/// The root object, or invalid_json for anything else.
[[nodiscard]] inline result<od::object> root_object(od::document& doc) {
  od::object root;
  if (error_code ec = doc.get_object().get(root)) {
    return ec == simdjson::INCORRECT_TYPE ? error(errc::invalid_json, "the body is not a JSON object")
                                          : document_error(ec);
  }
  return root;
}

/// True when tokens follow the root value: `{} x` is not one JSON document. Call after the root
/// object has been read to its end.
[[nodiscard]] inline bool has_trailing_content(od::document& doc) {
  const char* at = nullptr;
  return doc.current_location().get(at) == simdjson::SUCCESS;
}

[[nodiscard]] inline bool is_null(od::value& v) {
  bool null = false;
  return v.is_null().get(null) == simdjson::SUCCESS && null;
}

// Each reader stores the value into `out`, makes `out` absent (empty) for null, and returns the
// error met, if any; after an error `out` is unspecified. Strings are assigned, not rebuilt, so a
// reused `out` keeps its capacity. A value not read is skipped by the iteration.
[[nodiscard]] inline error_code read(od::value& v, std::optional<std::string>& out) {
  std::string_view s;
  error_code ec = v.get_string().get(s);
  if (ec == simdjson::SUCCESS) {
    if (out) {
      out->assign(s);
    } else {
      out.emplace(s);
    }
  } else if (is_null(v)) {
    out.reset();
    ec = simdjson::SUCCESS;
  }
  return ec;
}

/// A string as a view into the body or simdjson's string buffer, valid until the next string is
/// read.
[[nodiscard]] inline error_code read(od::value& v, std::optional<std::string_view>& out) {
  std::string_view s;
  error_code ec = v.get_string().get(s);
  if (ec == simdjson::SUCCESS) {
    out = s;
  } else if (is_null(v)) {
    out.reset();
    ec = simdjson::SUCCESS;
  }
  return ec;
}

/// For required strings, where an empty string counts as absent.
[[nodiscard]] inline error_code read(od::value& v, std::string& out) {
  std::string_view s;
  error_code ec = v.get_string().get(s);
  if (ec == simdjson::SUCCESS) {
    out.assign(s);
  } else if (is_null(v)) {
    out.clear();
    ec = simdjson::SUCCESS;
  }
  return ec;
}

template <class T>
[[nodiscard]] inline error_code read_scalar(od::value& v, std::optional<T>& out) {
  T x{};
  error_code ec = v.get(x);
  if (ec == simdjson::SUCCESS) {
    out = x;
  } else if (is_null(v)) {
    out.reset();
    ec = simdjson::SUCCESS;
  }
  return ec;
}
[[nodiscard]] inline error_code read(od::value& v, std::optional<std::int64_t>& out) { return read_scalar(v, out); }
[[nodiscard]] inline error_code read(od::value& v, std::optional<double>& out) { return read_scalar(v, out); }
[[nodiscard]] inline error_code read(od::value& v, std::optional<bool>& out) { return read_scalar(v, out); }

/// A value kept as its JSON text (objects and arrays whole), e.g. `extracted_data`; null makes
/// `out` empty.
[[nodiscard]] inline error_code read_raw(od::value& v, std::string& out) {
  od::json_type type{};
  if (error_code ec = v.type().get(type)) return ec;
  std::string_view raw;
  error_code ec = simdjson::SUCCESS;
  switch (type) {
    case od::json_type::null: out.clear(); return simdjson::SUCCESS;
    case od::json_type::object: {
      od::object o;
      if (!(ec = v.get_object().get(o))) ec = o.raw_json().get(raw);
      break;
    }
    case od::json_type::array: {
      od::array a;
      if (!(ec = v.get_array().get(a))) ec = a.raw_json().get(raw);
      break;
    }
    default:
      raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
        raw.remove_suffix(1);
      }
  }
  if (ec == simdjson::SUCCESS) out.assign(raw);
  return ec;
}

}  // namespace hookrx::detail::json
