// hookrx/error.hpp: the one list of things that can go wrong, and the result type that carries them.
//
// Every fallible hookrx call returns `result<T>` (or `status`, i.e. `result<void>`); no exception
// crosses the API. Member names follow `std::expected`, so moving to C++23 is a rename.
//
//   hookrx::result<hookrx::event> ev = hookrx::parse_event(hookrx::provider::perfectparser, body);
//   if (!ev) std::cerr << ev.error().message() << '\n';   // "missing_field: document_id ..."
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace hookrx {

/// Every error hookrx reports. The names are stable: they are the `code` of HTTP error bodies and,
/// for verification, exactly the verdict names of shared/spec.
enum class errc : std::uint8_t {
  // Request shape.
  body_too_large,                ///< body larger than the receiver's cap
  unsupported_content_encoding,  ///< body arrives encoded (gzip, ...): the signed bytes are not at hand
  // PerfectParser verification (spec/perfectparser.md).
  missing_signature,       ///< X-PerfectParser-Signature absent while signing secrets are configured
  malformed_signature,     ///< signature header present but not exactly 64 hex digits
  signature_mismatch,      ///< no configured signing secret produces this signature
  missing_static_secret,   ///< X-Webhook-Secret absent while a static secret is configured
  static_secret_mismatch,  ///< X-Webhook-Secret differs from every configured static secret
  // Parashift authentication (spec/parashift.md).
  missing_credentials,   ///< a configured credential header is absent
  credentials_mismatch,  ///< a credential header matches none of its accepted values
  source_not_allowed,    ///< client address outside the configured CIDR allow-list
  // Payload.
  invalid_json,   ///< body is not a JSON object (or exceeds the nesting limit)
  missing_field,  ///< a required field is absent
  wrong_type,     ///< a field has a type the contract does not allow
  // Processing.
  handler_failed,     ///< a registered handler reported failure or threw
  store_unavailable,  ///< the dedup store or inbox could not be reached in time
  in_progress,        ///< another worker holds this event right now; retry later
  not_found,          ///< no stored entry with that id in the state the call needs
  // Setup.
  invalid_config,  ///< options rejected at construction (e.g. no credential configured)
};

/// The stable snake_case name of a code, e.g. "signature_mismatch".
[[nodiscard]] std::string_view to_string(errc code) noexcept;

/// One sentence that says what the code means to whoever sent the request.
[[nodiscard]] std::string_view default_message(errc code) noexcept;

/// An error code with optional detail (a field name, a config key). Never holds a secret.
class error {
 public:
  error(errc code, std::string detail = {})
      : code_(code), detail_(std::move(detail)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] errc code() const noexcept { return code_; }
  /// Extra context, e.g. the field name for parse errors; may be empty.
  [[nodiscard]] const std::string& detail() const noexcept { return detail_; }
  /// "code: default message (detail)", for logs and HTTP error bodies.
  [[nodiscard]] std::string message() const;

  friend bool operator==(const error& a, errc b) noexcept { return a.code_ == b; }
  friend bool operator!=(const error& a, errc b) noexcept { return a.code_ != b; }

 private:
  errc code_;
  std::string detail_;
};

/// A value or an error, shaped like `std::expected<T, error>`.
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}          // NOLINT(google-explicit-constructor)
  result(hookrx::error err) : v_(std::in_place_index<1>, std::move(err)) {}  // NOLINT(google-explicit-constructor)
  result(errc code) : v_(std::in_place_index<1>, hookrx::error(code)) {}     // NOLINT(google-explicit-constructor)
  /// Constructs the value in place.
  template <class... Args>
  explicit result(std::in_place_t, Args&&... args) : v_(std::in_place_index<0>, std::forward<Args>(args)...) {}

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  // Precondition: has_value() (value) / !has_value() (error), as with std::expected.
  [[nodiscard]] T& value() & { return *std::get_if<0>(&v_); }
  [[nodiscard]] const T& value() const& { return *std::get_if<0>(&v_); }
  [[nodiscard]] T&& value() && { return std::move(*std::get_if<0>(&v_)); }
  [[nodiscard]] const hookrx::error& error() const& { return *std::get_if<1>(&v_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(value()); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, hookrx::error> v_;
};

/// Success or an error: `result<void>`.
template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(hookrx::error err) : err_(std::move(err)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  result(errc code) : err_(code), ok_(false) {}                    // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  [[nodiscard]] const hookrx::error& error() const& { return err_; }

 private:
  hookrx::error err_{errc::invalid_config};
  bool ok_ = true;
};

using status = result<void>;

}  // namespace hookrx
