// Errors as values: every fallible function returns Expected<T>, and an Error carries a category
// the caller can act on, a message that says what failed and where, and optional context added on
// the way up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace autoprov {

enum class ErrorCode {
  kInvalidArgument,  // usage or configuration error
  kParse,            // a file does not parse (message names file:line)
  kValidation,       // a value is outside its schema
  kIo,               // local file system
  kDatabase,         // SQLite
  kNetwork,          // connect, DNS, reset
  kTimeout,          // connect timeout, stall, transfer time limit
  kHttpStatus,       // server answered with an error status
  kTls,              // certificate or handshake
  kAuth,             // 401/403 or bad credentials
  kTooLarge,         // body above the size limit
  kRefusedScheme,    // URL scheme or redirect target not allowed
  kTruncated,        // body shorter than announced
  kNotFound,         // FTP/TFTP/file: no such file (HTTP uses kHttpStatus 404)
  kRejected,         // content is well-formed but not acceptable (wrong serial, bad PEM...)
  kBusy,             // another run holds the state directory
  kCancelled,        // stopped by a signal
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // Prefixes where the error happened ("loading config.ini: ...").
  Error WithContext(std::string_view context) const {
    Error e = *this;
    e.message = std::string(context) + ": " + message;
    return e;
  }
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// The error half of an Expected, as std::unexpected. (std::expected itself is not usable from clang
// 14, which builds the fuzzers, so the project carries this small equivalent.)
template <typename E>
struct Unexpected {
  explicit Unexpected(E e) : err(std::move(e)) {}
  const E& error() const { return err; }
  E err;
};
template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T>
struct IsUnexpected : std::false_type {};
template <typename E>
struct IsUnexpected<Unexpected<E>> : std::true_type {};

// E is Error, or a type made from an Error that carries more (transfer/transfer.hpp's
// TransferError: what a failed transfer cost).
template <typename T, typename E = Error>
class [[nodiscard]] Expected {
 public:
  using value_type = T;
  Expected(const T& v) : v_(std::in_place_index<0>, v) {}
  Expected(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Expected> &&
           !std::is_same_v<std::remove_cvref_t<U>, T> &&
           !IsUnexpected<std::remove_cvref_t<U>>::value) Expected(U&& u)
      : v_(std::in_place_index<0>, T(std::forward<U>(u))) {}
  // From any error E can be made of (an Error into a TransferError, a TransferError into an Error).
  template <typename F>
  requires std::is_constructible_v<E, F&&> Expected(Unexpected<F> u)
      : v_(std::in_place_index<1>, E(std::move(u.err))) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  const E& error() const { return std::get<1>(v_); }
  E& error() { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

template <>
class [[nodiscard]] Expected<void, Error> {
 public:
  Expected() = default;
  template <typename F>
  requires std::is_constructible_v<Error, F&&> Expected(Unexpected<F> u)
      : err_(Error(std::move(u.err))) {}
  bool has_value() const { return !err_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const { return *err_; }
  Error& error() { return *err_; }

 private:
  std::optional<Error> err_;
};

inline Unexpected<Error> Fail(ErrorCode code, std::string message) {
  return Unexpected<Error>(MakeError(code, std::move(message)));
}

}  // namespace autoprov
