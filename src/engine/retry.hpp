// Retry after a failed run (SPEC S-10.1): which failures are worth another attempt, and when it
// comes. The daemon and the fleet simulator both take the plan from the run's report, so a
// simulated device retries when a real one would.
#pragma once

#include <ctime>
#include <vector>

#include "common/error.hpp"
#include "config/backoff.hpp"
#include "config/configuration.hpp"
#include "engine/report.hpp"
#include "store/state_store.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

// Worth another attempt: the network, a time limit, a 5xx, 408 or 429. Never a rejected file, a
// refused certificate or another 4xx, which would only fail again.
bool IsRetryable(const TransferError& e);

// The delay before retry `attempt` (1 for the first) on `schedule`: the entry's base plus
// random × its spread (random uniform in [0, 1)), the last entry repeating; at least the server's
// Retry-After. No delay (-1) when the schedule is empty.
long long RetryDelay(const std::vector<BackoffEntry>& schedule, int attempt, double random,
                     long retry_after_s);

// After a finished run: when a failed step is worth retrying and AupdRetrySchedule is set, the next
// attempt's number and time go into the report (retry_attempt, next_retry_at); otherwise the count
// starts again. The count of failed runs in a row is kept in the state database, so it survives
// the agent's process (the daemon runs each run in a process of its own).
void PlanRetry(RunReport& report, const Configuration& config, StateStore& store, long long device,
               double random);

}  // namespace autoprov
