#include "common/systemd.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/text.hpp"

namespace autoprov {
namespace {

bool SendDatagram(const std::string& path, std::string_view data) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) return false;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  if (a.sun_path[0] == '@') a.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  bool ok = ::sendto(fd, data.data(), data.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&a),
                     len) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

// A field in the native protocol: "KEY=value\n", or, when the value holds a newline,
// "KEY\n" + its length as 64-bit little endian + the value + "\n".
void AppendField(std::string& out, std::string_view key, std::string_view value) {
  if (value.find('\n') == std::string_view::npos) {
    out.append(key).append("=").append(value).append("\n");
    return;
  }
  out.append(key).append("\n");
  uint64_t n = value.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(value).append("\n");
}

int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return 3;
    case LogLevel::kWarning:
      return 4;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kDebug:
      return 7;
  }
  return 6;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

}  // namespace

bool SdNotify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  return SendDatagram(path, state);
}

std::chrono::microseconds WatchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec) return std::chrono::microseconds(0);
  // WATCHDOG_PID, when set, names the process the watchdog is for.
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && std::atol(pid) != ::getpid())
    return std::chrono::microseconds(0);
  return std::chrono::microseconds(std::strtoll(usec, nullptr, 10));
}

bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return ::fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

std::string_view MessageId(std::string_view event) {
  // Fixed ids, one per kind of event: `journalctl MESSAGE_ID=...` finds every such entry.
  static constexpr std::pair<std::string_view, std::string_view> kIds[] = {
      {"step", "48b007b862bf46c2b94c86b5bc4bca17"},
      {"run", "800aac68340447a49911eb9b47d9e7d4"},
      {"trigger", "06e838ab1d0c408e81a8110558ebf4e8"},
      {"restart", "6b52524855ac43e1a450b661d5eb3c3f"},
      {"daemon", "79f81879c4f14c8fa851ad3f9296f034"},
      {"sip", "a3217231ecff420782efaeb60a5dee0e"},
      {"report-upload", "6695791514614837af3c87343fe5935a"},
      {"retry", "e79229885c694106b0256d7d5f2382a3"},
  };
  for (const auto& [name, id] : kIds)
    if (name == event) return id;
  return {};
}

std::string JournalEntry(LogLevel level, std::string_view message, const LogContext& c) {
  std::string out;
  AppendField(out, "MESSAGE", message);
  AppendField(out, "PRIORITY", std::to_string(Priority(level)));
  AppendField(out, "SYSLOG_IDENTIFIER", "autoprov");
  if (auto id = MessageId(c.event); !id.empty()) AppendField(out, "MESSAGE_ID", id);
  if (!c.step.empty()) AppendField(out, "AUTOPROV_STEP", c.step);
  if (!c.kind.empty()) AppendField(out, "AUTOPROV_KIND", c.kind);
  if (!c.url.empty()) AppendField(out, "AUTOPROV_URL", c.url);
  if (!c.outcome.empty()) AppendField(out, "AUTOPROV_OUTCOME", c.outcome);
  return out;
}

bool JournalSend(LogLevel level, std::string_view message, const LogContext& context,
                 const std::string& socket_path) {
  return SendDatagram(socket_path.empty() ? "/run/systemd/journal/socket" : socket_path,
                      JournalEntry(level, message, context));
}

LogSink SystemLogSink() {
  if (StderrIsJournal()) {
    return [](LogLevel level, std::string_view m, const LogContext& c) {
      // Falls back to a plain line (journald reads stderr) if the socket cannot be reached.
      if (!JournalSend(level, m, c))
        std::fprintf(stderr, "<%d>%.*s\n", Priority(level), static_cast<int>(m.size()), m.data());
    };
  }
  return [](LogLevel level, std::string_view m, const LogContext&) {
    char when[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
    std::fprintf(stderr, "%s autoprov[%d]: %s: %.*s\n", when, static_cast<int>(::getpid()),
                 LevelName(level), static_cast<int>(m.size()), m.data());
  };
}

bool ParseLogLevel(std::string_view text, LogLevel& level) {
  std::string t = ToLower(text);
  if (t == "debug")
    level = LogLevel::kDebug;
  else if (t == "info")
    level = LogLevel::kInfo;
  else if (t == "warning")
    level = LogLevel::kWarning;
  else if (t == "error")
    level = LogLevel::kError;
  else
    return false;
  return true;
}

}  // namespace autoprov
