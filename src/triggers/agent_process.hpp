// The daemon's runs happen in a child process (the agent binary, `autoprov run-once`), so the
// resident daemon links no transfer or crypto library and stays small, and a crash or leak in a run
// cannot take it down: the next trigger starts a new child.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "engine/report.hpp"

namespace autoprov {

struct AgentProcessResult {
  RunReport report;
  bool died = false;  // the child crashed, was killed or printed no report: `report` says why
};

// Runs `argv` (argv[0]: the agent's path) with its standard output read as the run's JSON report;
// standard error is shared (the run's log lines join the daemon's). When `cancel` is set the child
// gets SIGTERM and, if it has not ended `grace_ms` later, SIGKILL.
AgentProcessResult RunAgentProcess(const std::vector<std::string>& argv, const std::string& trigger,
                                   const std::atomic<bool>& cancel, int grace_ms = 1500);

}  // namespace autoprov
