// Private: reading typed fields with simdjson On-Demand, mapping simdjson's errors onto hookrx's
// three parse errors. Only the parse_*.cpp files include this (and so simdjson).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hookrx/error.hpp"

namespace hookrx::detail::json {

namespace od = simdjson::ondemand;

/// The body copied once into storage that simdjson may read past the end of (SIMDJSON_PADDING);
/// the same string becomes the event's raw_json(), so the copy is paid once.
[[nodiscard]] inline std::string padded_copy(std::string_view body) {
  std::string s;
  s.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  s.assign(body);
  return s;
}

/// The calling thread's parser: its buffers are reused from one delivery to the next.
[[nodiscard]] inline od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

/// The document itself is broken (syntax, encoding, nesting depth): simdjson's message says where.
[[nodiscard]] inline error document_error(simdjson::error_code ec) {
  return {errc::invalid_json, simdjson::error_message(ec)};
}

/// A simdjson error met while reading `field`: a type mismatch is the sender's wrong type, anything
/// else means the document itself is broken.
[[nodiscard]] inline error field_error(simdjson::error_code ec, std::string_view field) {
  if (ec == simdjson::INCORRECT_TYPE || ec == simdjson::NUMBER_ERROR ||
      ec == simdjson::NUMBER_OUT_OF_RANGE) {
    return {errc::wrong_type, std::string(field)};
  }
  return document_error(ec);
}

/// Outcome of reading one field: its value, null (treated as absent), or an error.
template <class T>
struct field {
  std::optional<T> value;
  std::optional<error> err;
};

[[nodiscard]] inline bool is_null(od::value& v, simdjson::error_code& ec) {
  bool null = false;
  ec = v.is_null().get(null);
  return ec == simdjson::SUCCESS && null;
}

[[nodiscard]] inline field<std::string> read_string(od::value v, std::string_view name) {
  simdjson::error_code ec{};
  if (is_null(v, ec)) return {};
  if (ec) return {std::nullopt, field_error(ec, name)};
  std::string_view s;
  if ((ec = v.get_string().get(s))) return {std::nullopt, field_error(ec, name)};
  return {std::string(s), std::nullopt};
}

[[nodiscard]] inline field<std::int64_t> read_int(od::value v, std::string_view name) {
  simdjson::error_code ec{};
  if (is_null(v, ec)) return {};
  if (ec) return {std::nullopt, field_error(ec, name)};
  std::int64_t n = 0;
  if ((ec = v.get_int64().get(n))) return {std::nullopt, field_error(ec, name)};
  return {n, std::nullopt};
}

[[nodiscard]] inline field<double> read_double(od::value v, std::string_view name) {
  simdjson::error_code ec{};
  if (is_null(v, ec)) return {};
  if (ec) return {std::nullopt, field_error(ec, name)};
  double d = 0;
  if ((ec = v.get_double().get(d))) return {std::nullopt, field_error(ec, name)};
  return {d, std::nullopt};
}

[[nodiscard]] inline field<bool> read_bool(od::value v, std::string_view name) {
  simdjson::error_code ec{};
  if (is_null(v, ec)) return {};
  if (ec) return {std::nullopt, field_error(ec, name)};
  bool b = false;
  if ((ec = v.get_bool().get(b))) return {std::nullopt, field_error(ec, name)};
  return {b, std::nullopt};
}

/// The value's JSON text as sent (objects and arrays whole), for fields kept raw.
[[nodiscard]] inline field<std::string> read_raw(od::value v, std::string_view name) {
  simdjson::error_code ec{};
  if (is_null(v, ec)) return {};
  if (ec) return {std::nullopt, field_error(ec, name)};
  od::json_type type{};
  if ((ec = v.type().get(type))) return {std::nullopt, document_error(ec)};
  std::string_view raw;
  if (type == od::json_type::object) {
    od::object o;
    if (!(ec = v.get_object().get(o))) ec = o.raw_json().get(raw);
  } else if (type == od::json_type::array) {
    od::array a;
    if (!(ec = v.get_array().get(a))) ec = a.raw_json().get(raw);
  } else {
    raw = v.raw_json_token();
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
      raw.remove_suffix(1);
    }
  }
  if (ec) return {std::nullopt, document_error(ec)};
  return {std::string(raw), std::nullopt};
}

/// True when tokens follow the root value: `{} x` is not one JSON document. Call after the root
/// object has been read to its end.
[[nodiscard]] inline bool has_trailing_content(od::document& doc) {
  const char* at = nullptr;
  return doc.current_location().get(at) == simdjson::SUCCESS;
}

}  // namespace hookrx::detail::json
