#include "common/error.hpp"

namespace autoprov {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid-argument";
    case ErrorCode::kParse:
      return "parse";
    case ErrorCode::kValidation:
      return "validation";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kDatabase:
      return "database";
    case ErrorCode::kNetwork:
      return "network";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kHttpStatus:
      return "http-status";
    case ErrorCode::kTls:
      return "tls";
    case ErrorCode::kAuth:
      return "auth";
    case ErrorCode::kTooLarge:
      return "too-large";
    case ErrorCode::kRefusedScheme:
      return "refused-scheme";
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kRejected:
      return "rejected";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace autoprov
