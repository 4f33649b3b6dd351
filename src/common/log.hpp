// One line per event, to a sink the binary chooses (stderr, syslog). Library code never prints
// directly.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace autoprov {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// The structured fields of an event, for the journal (empty: absent). Values are redacted with the
// message.
struct LogContext {
  std::string_view event;    // "step", "run", "trigger", "restart", "daemon": the MESSAGE_ID
  std::string_view step;     // "3/9"
  std::string_view kind;     // the file kind, e.g. "ini"
  std::string_view url;      // without credentials
  std::string_view outcome;  // "applied", "failed", ...
};

using LogSink = std::function<void(LogLevel, std::string_view, const LogContext&)>;

void SetLogSink(LogSink sink);
void SetLogLevel(LogLevel min_level);
void Log(LogLevel level, std::string_view message, const LogContext& context = {});
// Whether a message of this level goes anywhere: lets a caller skip building it.
bool LogEnabled(LogLevel level);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }

}  // namespace autoprov
