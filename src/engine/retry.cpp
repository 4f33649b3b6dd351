#include "engine/retry.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "engine/device_state.hpp"

namespace autoprov {

bool IsRetryable(const TransferError& e) {
  switch (e.code) {
    case ErrorCode::kNetwork:
    case ErrorCode::kTimeout:
    case ErrorCode::kTruncated:  // the connection ended early
      return true;
    case ErrorCode::kHttpStatus:
      return e.stats.http_status >= 500 || e.stats.http_status == 408 || e.stats.http_status == 429;
    default:
      return false;
  }
}

long long RetryDelay(const std::vector<BackoffEntry>& schedule, int attempt, double random,
                     long retry_after_s) {
  if (schedule.empty() || attempt < 1) return -1;
  const BackoffEntry& e =
      schedule[std::min<size_t>(static_cast<size_t>(attempt), schedule.size()) - 1];
  random = std::clamp(random, 0.0, 1.0);
  long long delay = e.base_s + static_cast<long long>(random * static_cast<double>(e.random_s));
  return std::max<long long>(delay, retry_after_s);
}

void PlanRetry(RunReport& report, const Configuration& config, StateStore& store, long long device,
               double random) {
  bool retry = false;
  long retry_after = 0;
  for (const auto& s : report.steps) {
    if (s.outcome != StepOutcome::kFailed || !s.retryable) continue;
    retry = true;
    retry_after = std::max(retry_after, s.retry_after_s);
  }
  DeviceState state(store, device);
  auto schedule = ParseBackoffList(config.Get("AupdRetrySchedule"));
  if (!retry || !schedule || schedule->empty()) {
    if (auto r = state.SetRetryAttempt(0); !r)
      LogError("cannot store the retry count: " + r.error().message);
    return;
  }
  auto before = state.RetryAttempt();
  int attempt = (before ? *before : 0) + 1;
  long long delay = RetryDelay(*schedule, attempt, random, retry_after);
  report.retry_attempt = attempt;
  report.next_retry_at = report.finished_at + delay;
  if (auto r = state.SetRetryAttempt(attempt); !r)
    LogError("cannot store the retry count: " + r.error().message);
}

}  // namespace autoprov
