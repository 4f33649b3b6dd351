// One line per event, to a sink the binary chooses (stderr, syslog). Library code never prints
// directly.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace autoprov {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogSink = std::function<void(LogLevel, std::string_view)>;

void SetLogSink(LogSink sink);
void SetLogLevel(LogLevel min_level);
void Log(LogLevel level, std::string_view message);
// Whether a message of this level goes anywhere: lets a caller skip building it.
bool LogEnabled(LogLevel level);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }

}  // namespace autoprov
