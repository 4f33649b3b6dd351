#include "engine/device_state.hpp"

#include <cstdlib>

#include "common/text.hpp"

namespace autoprov {
namespace {

constexpr const char* kRunningVersion = "running_version";
constexpr const char* kPendingImageVersion = "pending_image_version";
constexpr const char* kRestartPending = "restart_pending";
constexpr const char* kRestartTimes = "restart_times";
constexpr const char* kLastRestartCause = "last_restart_cause";
constexpr const char* kSeeded = "seeded";
constexpr const char* kRetryAttempt = "retry_attempt";

}  // namespace

std::string DeviceState::RunningVersion(const std::string& identity_version) {
  auto v = store_.GetValue(device_, kRunningVersion);
  if (v && v->has_value() && !(*v)->empty()) return **v;
  return identity_version;
}

Expected<std::optional<std::string>> DeviceState::PendingImageVersion() {
  auto v = store_.GetValue(device_, kPendingImageVersion);
  if (v && v->has_value() && (*v)->empty()) return std::optional<std::string>();
  return v;
}

Expected<void> DeviceState::SetPendingImageVersion(const std::string& version) {
  return store_.PutValue(device_, kPendingImageVersion, version);
}

Expected<void> DeviceState::SetRestartPending(const std::string& reasons) {
  return store_.PutValue(device_, kRestartPending, reasons);
}

Expected<std::vector<long long>> DeviceState::RestartTimes() {
  auto value = store_.GetValue(device_, kRestartTimes);
  if (!value) return Unexpected(value.error());
  std::vector<long long> times;
  if (value->has_value())
    for (auto t : SplitWhitespace(**value)) times.push_back(std::atoll(std::string(t).c_str()));
  return times;
}

Expected<void> DeviceState::SetRestartTimes(const std::vector<long long>& times) {
  std::string out;
  for (auto t : times) out += (out.empty() ? "" : " ") + std::to_string(t);
  return store_.PutValue(device_, kRestartTimes, out);
}

Expected<std::optional<std::string>> DeviceState::LastRestartCause() {
  return store_.GetValue(device_, kLastRestartCause);
}

Expected<void> DeviceState::SetLastRestartCause(const std::string& causes) {
  return store_.PutValue(device_, kLastRestartCause, causes);
}

Expected<bool> DeviceState::Seeded() {
  auto v = store_.GetValue(device_, kSeeded);
  if (!v) return Unexpected(v.error());
  return v->has_value();
}

Expected<int> DeviceState::RetryAttempt() {
  auto v = store_.GetValue(device_, kRetryAttempt);
  if (!v) return Unexpected(v.error());
  if (!v->has_value()) return 0;
  return std::atoi((*v)->c_str());
}

Expected<void> DeviceState::SetRetryAttempt(int attempt) {
  auto now = RetryAttempt();
  if (now && *now == attempt) return {};
  if (attempt == 0) return store_.DeleteValue(device_, kRetryAttempt);
  return store_.PutValue(device_, kRetryAttempt, std::to_string(attempt));
}

Expected<void> DeviceState::MarkSeeded() { return store_.PutValue(device_, kSeeded, "1"); }

Expected<void> DeviceState::ActivatePendingImage() {
  return store_.Transaction([&]() -> Expected<void> {
    auto pending = PendingImageVersion();
    if (!pending) return Unexpected(pending.error());
    if (pending->has_value()) {
      if (auto r = store_.PutValue(device_, kRunningVersion, **pending); !r) return r;
      if (auto r = store_.DeleteValue(device_, kPendingImageVersion); !r) return r;
    }
    return store_.DeleteValue(device_, kRestartPending);
  });
}

}  // namespace autoprov
