// Errors as values: every fallible function returns Expected<T>, and an Error carries a category the
// caller can act on, a message that says what failed and where, and optional context added on the way up.
#pragma once

#include <expected>
#include <string>
#include <string_view>

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
  kRejected,         // content is well-formed but not acceptable (wrong serial, bad PEM...)
  kBusy,             // another run holds the state directory
  kCancelled,        // stopped by a signal
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  long http_status = 0;  // only for kHttpStatus/kAuth

  // Prefixes where the error happened ("loading config.ini: ...").
  Error WithContext(std::string_view context) const {
    Error e = *this;
    e.message = std::string(context) + ": " + message;
    return e;
  }
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message), 0};
}

template <typename T>
using Expected = std::expected<T, Error>;

inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected(MakeError(code, std::move(message)));
}

}  // namespace autoprov
