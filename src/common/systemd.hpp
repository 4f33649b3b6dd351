// systemd integration without libsystemd (the resident daemon loads libc and libm only): the
// sd_notify datagram (READY, STATUS, WATCHDOG, STOPPING) and journald's native protocol, both plain
// datagrams on Unix sockets whose formats systemd documents as stable (sd_notify(3),
// https://systemd.io/JOURNAL_NATIVE_PROTOCOL).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/log.hpp"

namespace autoprov {

// Sends `state` ("READY=1", "STATUS=idle", ...) to $NOTIFY_SOCKET; false when there is none.
bool SdNotify(std::string_view state);

// The watchdog interval systemd asks for ($WATCHDOG_USEC, for this process), or zero.
std::chrono::microseconds WatchdogInterval();

// Whether standard error is connected to the journal ($JOURNAL_STREAM names its device and inode):
// then log lines go to the journal natively, once, with priorities and fields.
bool StderrIsJournal();

// One journal entry: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, and the event's fields (MESSAGE_ID per
// event kind, AUTOPROV_STEP, AUTOPROV_KIND, AUTOPROV_URL, AUTOPROV_OUTCOME) in the native
// protocol's binary-safe form. `socket_path` defaults to /run/systemd/journal/socket.
bool JournalSend(LogLevel level, std::string_view message, const LogContext& context,
                 const std::string& socket_path = "");
// The datagram JournalSend sends (for tests).
std::string JournalEntry(LogLevel level, std::string_view message, const LogContext& context);
// The MESSAGE_ID of an event kind ("step", "run", ...): a fixed 128-bit id, "" for none.
std::string_view MessageId(std::string_view event);

// The log sink of a command-line program: the journal when stderr is connected to it, else
// standard error as "<time> autoprov[<pid>]: <level>: <message>".
LogSink SystemLogSink();

// "debug", "info", "warning", "error" (case-insensitive); false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel& level);

}  // namespace autoprov
