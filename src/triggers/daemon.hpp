// The resident agent (SPEC S-6): triggers (start-up, interval, time of day, SIP NOTIFY, manual
// requests on a control socket) feed one worker that runs the Automatic Update; triggers that
// arrive during a run merge into one follow-up run (S-2.4). Configuration changes that move the
// periodic trigger apply at once.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "device/identity.hpp"
#include "triggers/control_socket.hpp"  // AskDaemon, NudgeDaemon

namespace autoprov {

struct DaemonOptions {
  std::filesystem::path state_dir;
  std::vector<std::string> schema_files;
  IdentityOverrides identity;
  std::string sip_listen;  // "127.0.0.1:5060"; empty: no SIP listener
  std::string agent;       // the agent binary each run is executed with (`<agent> ... run-once`)
  bool verbose = false;
  std::string log_level;  // passed on to each run (--log-level); empty: the run's own default
};

// The agent binary beside the running executable (or $AUTOPROV_AGENT when set).
std::string DefaultAgentPath();

// Runs until `stop` is set (SIGTERM): a run in progress is cancelled (its process gets SIGTERM,
// then SIGKILL) and stops within about a second, leaving the old state. Returns the process exit
// status.
int RunDaemon(const DaemonOptions& options, std::atomic<bool>& stop);

}  // namespace autoprov
