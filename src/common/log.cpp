#include "common/log.hpp"

#include <atomic>
#include <mutex>

#include "common/redact.hpp"

namespace autoprov {
namespace {
std::mutex g_mutex;
LogSink g_sink;
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
}  // namespace

void SetLogSink(LogSink sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

void SetLogLevel(LogLevel min_level) { g_level = static_cast<int>(min_level); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level; }

void Log(LogLevel level, std::string_view message, const LogContext& context) {
  if (static_cast<int>(level) < g_level) return;
  std::string safe = RedactText(message);  // S-9.5: every log line, and its URL field
  std::string url = context.url.empty() ? std::string() : RedactText(context.url);
  LogContext c = context;
  c.url = url;
  std::lock_guard lock(g_mutex);
  if (g_sink) g_sink(level, safe, c);
}

}  // namespace autoprov
