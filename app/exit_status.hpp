// The exit statuses of autoprov and autoprov-daemon, in one table: main() maps a command's Error to
// its status here, and autoprov(8)'s EXIT STATUS lists the same rows
// (tests/app/exit_status_test.cpp fails when the two differ).
#pragma once

#include <array>
#include <string_view>

#include "common/error.hpp"

namespace autoprov::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a step failed, a file was rejected, the state is unusable
inline constexpr int kExitUsage = 2;   // usage or configuration error

struct ExitStatusRow {
  int status;
  std::string_view meaning;  // as autoprov(8) says it
};

inline constexpr std::array<ExitStatusRow, 3> kExitStatuses{{
    {kExitOk, "Success, including a run where nothing changed."},
    {kExitFailed,
     "A step failed, a file was rejected, the state directory is busy or cannot be used."},
    {kExitUsage,
     "A usage or configuration error: an unknown command, option or parameter, a value outside "
     "its schema, an identity or hooks file that does not parse, a file named on the command line "
     "that cannot be read."},
}};

// What a command's error means for its caller: a usage or configuration error (2), else a failure
// (1).
constexpr int ExitStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kParse:
    case ErrorCode::kValidation:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

}  // namespace autoprov::app
