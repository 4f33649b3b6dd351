// The daemon's control socket (SPEC S-6): <state-dir>/control.sock, owner-only, one request line
// per connection and one JSON line back. Its protocol, its server side (the daemon) and its client
// side (the commands that ask a running daemon) live here.
//
//   run     a manual run; the answer is the run's report when it has finished
//   dhcp    a run for a new DHCP lease (S-10.6); answered {"queued":true} at once
//   status  the daemon's schedule and last report
#pragma once

#include <filesystem>
#include <string>

#include "common/error.hpp"

namespace autoprov {

enum class ControlCommand { kRun, kDhcp, kStatus, kUnknown };
ControlCommand ParseControlCommand(const std::string& line);
// The answer to a request the daemon does not know.
inline constexpr const char* kUnknownControlReply =
    R"({"error":"unknown request; use run or status"})";

// "<dir>/control.sock".
std::filesystem::path ControlSocketPath(const std::filesystem::path& state_dir);

// The daemon's side: listens on the socket (mode 0600); the fd, or why not.
Expected<int> ListenOnControlSocket(const std::filesystem::path& state_dir);
// Accepts one connection and reads its request line (a client that sends nothing within 2 s is
// dropped: -1). `line` is the request without its newline.
int AcceptControlRequest(int listen_fd, std::string& line);
// Writes all of `s` to a connection; false when the peer has gone.
bool WriteAll(int fd, const std::string& s);

// The client's side. Sends one command ("run", "status") to the daemon and returns its reply
// (JSON). Fails with kNetwork when no daemon listens, kAuth when the socket is not the caller's.
Expected<std::string> AskDaemon(const std::filesystem::path& state_dir, const std::string& command,
                                int timeout_s);
// Asks a running daemon for a run under the trigger `trigger` ("dhcp") without waiting for it: true
// when a daemon took the request. Returns at once.
bool NudgeDaemon(const std::filesystem::path& state_dir, const std::string& trigger);

}  // namespace autoprov
