#include "engine/device_state.hpp"

#include <cstdlib>
#include <ctime>

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
constexpr const char* kIniFallbacks = "dhcp_ini_fallbacks";
// version \n running \n sha256 \n time [\n "reported"]
constexpr const char* kInstallFailure = "install_failure";
constexpr const char* kQuietPolls = "quiet_polls";  // "<count> <first> <last>"
std::string DhcpKey(const std::string& param) { return "dhcp_set:" + param; }
std::string ComposeKey(const std::string& kind) { return "compose_pending:" + kind; }

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

// "<since>\n<image>\n<cause>"; an older state kept the cause alone.
Expected<std::optional<PendingRestart>> DeviceState::PendingRestartState() {
  auto v = store_.GetValue(device_, kRestartPending);
  if (!v) return Unexpected(v.error());
  if (!v->has_value() || (*v)->empty()) return std::optional<PendingRestart>();
  const std::string& text = **v;
  PendingRestart p;
  size_t first = text.find('\n');
  size_t second = first == std::string::npos ? first : text.find('\n', first + 1);
  char* end = nullptr;
  long long since = std::strtoll(text.c_str(), &end, 10);
  if (second == std::string::npos || end != text.c_str() + first) {
    p.cause = text;
  } else {
    p.since = since;
    p.image = text.substr(first + 1, second - first - 1);
    p.cause = text.substr(second + 1);
  }
  return std::optional<PendingRestart>(std::move(p));
}

Expected<void> DeviceState::SetRestartPending(PendingRestart pending) {
  auto before = PendingRestartState();
  if (!before) return Unexpected(before.error());
  if (before->has_value() && (*before)->since > 0) pending.since = (*before)->since;
  return store_.PutValue(
      device_, kRestartPending,
      std::to_string(pending.since) + "\n" + pending.image + "\n" + pending.cause);
}

Expected<std::vector<std::string>> DeviceState::Describe() {
  auto values = store_.ListValues(device_);
  if (!values) return Unexpected(values.error());
  std::vector<std::string> out;
  for (const auto& [key, value] : *values) {
    if (key == kRunningVersion) {
      out.push_back("running version: " + value);
    } else if (key == kPendingImageVersion && !value.empty()) {
      out.push_back("installed image waiting for a restart: " + value);
    } else if (key == kRestartTimes) {
      std::string times;
      for (auto t : SplitWhitespace(value))
        times += (times.empty() ? "" : ", ") + IsoTime(std::atoll(std::string(t).c_str()));
      if (!times.empty()) out.push_back("restarts counted for the hourly limit (S-9.8): " + times);
    } else if (key == kLastRestartCause) {
      std::string files;
      for (auto cause : Split(value, ',')) {
        auto colon = cause.find(':');
        files += (files.empty() ? "" : ", ") + std::string(cause.substr(0, colon));
        if (colon != std::string_view::npos)
          files += " (sha256 " + std::string(cause.substr(colon + 1, 12)) + "…)";
      }
      out.push_back("last restart caused by: " + files);
    } else if (key == kRetryAttempt) {
      out.push_back("failed runs in a row worth a retry (S-10.1): " + value);
    } else if (key == kIniFallbacks) {
      std::string urls;
      for (auto u : Split(value, '\n'))
        if (!u.empty()) urls += (urls.empty() ? "" : ", ") + std::string(u);
      out.push_back("configuration files to try after IniFileURL (S-10.6): " + urls);
    } else if (key.starts_with("compose_pending:")) {
      out.push_back("configuration incomplete: the " + key.substr(16) +
                    " is to be applied again after a replace-mode file (S-7.7)");
    } else if (key == kQuietPolls) {
      auto q = SplitWhitespace(value);
      if (q.size() == 3)
        out.push_back("polls since the last stored report that changed nothing: " +
                      std::string(q[0]) + " (" + IsoTime(std::atoll(std::string(q[1]).c_str())) +
                      " to " + IsoTime(std::atoll(std::string(q[2]).c_str())) + ")");
    } else if (key.starts_with("dhcp_set:")) {
      out.push_back(key.substr(9) + " last set by DHCP (S-10.6): " + value);
    }
    // kRestartPending and kInstallFailure have lines of their own; kSeeded is the fleet's.
  }
  return out;
}

Expected<bool> DeviceState::ComposePending(const std::string& kind) {
  auto v = store_.GetValue(device_, ComposeKey(kind));
  if (!v) return Unexpected(v.error());
  return v->has_value();
}

Expected<void> DeviceState::SetComposePending(const std::string& kind, bool pending) {
  if (pending) return store_.PutValue(device_, ComposeKey(kind), "1");
  auto now = ComposePending(kind);
  if (!now) return Unexpected(now.error());
  return *now ? store_.DeleteValue(device_, ComposeKey(kind)) : Expected<void>{};
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

Expected<std::optional<std::string>> DeviceState::DhcpValue(const std::string& param) {
  return store_.GetValue(device_, DhcpKey(param));
}

Expected<void> DeviceState::SetDhcpValue(const std::string& param, const std::string& value) {
  return store_.PutValue(device_, DhcpKey(param), value);
}

Expected<std::vector<std::string>> DeviceState::IniFallbacks() {
  auto v = store_.GetValue(device_, kIniFallbacks);
  if (!v) return Unexpected(v.error());
  std::vector<std::string> out;
  if (!v->has_value()) return out;
  std::string_view rest = **v;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    if (nl != 0) out.emplace_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return out;
}

Expected<void> DeviceState::SetIniFallbacks(const std::vector<std::string>& urls) {
  if (urls.empty()) return store_.DeleteValue(device_, kIniFallbacks);
  std::string joined;
  for (const auto& u : urls) joined += u + "\n";
  return store_.PutValue(device_, kIniFallbacks, joined);
}

Expected<void> DeviceState::MarkSeeded() { return store_.PutValue(device_, kSeeded, "1"); }

Expected<void> DeviceState::ActivatePendingImage(const std::optional<std::string>& actual) {
  return store_.Transaction([&]() -> Expected<void> {
    auto pending = PendingImageVersion();
    if (!pending) return Unexpected(pending.error());
    if (pending->has_value() && actual && *actual != **pending) {
      // S-11.2: the image was installed, the device came back on another version.
      std::string sha;
      if (auto k = store_.GetKindState(device_, "image"); k && k->has_value()) sha = (*k)->sha256;
      std::string record = **pending + "\n" + *actual + "\n" + sha + "\n" +
                           std::to_string(static_cast<long long>(std::time(nullptr)));
      if (auto r = store_.PutValue(device_, kInstallFailure, record); !r) return r;
    }
    std::optional<std::string> running = actual                 ? actual
                                         : pending->has_value() ? *pending
                                                                : std::optional<std::string>();
    if (running)
      if (auto r = store_.PutValue(device_, kRunningVersion, *running); !r) return r;
    if (pending->has_value())
      if (auto r = store_.DeleteValue(device_, kPendingImageVersion); !r) return r;
    return store_.DeleteValue(device_, kRestartPending);
  });
}

Expected<std::optional<DeviceState::InstallFailure>> DeviceState::LastInstallFailure() {
  auto v = store_.GetValue(device_, kInstallFailure);
  if (!v) return Unexpected(v.error());
  if (!v->has_value() || (*v)->empty()) return std::optional<InstallFailure>();
  InstallFailure f;
  std::string_view rest = **v;
  auto next = [&rest] {
    auto nl = rest.find('\n');
    std::string part(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return part;
  };
  f.version = next();
  f.running = next();
  f.sha256 = next();
  f.at = std::atoll(next().c_str());
  f.reported = next() == "reported";
  return std::optional<InstallFailure>(f);
}

Expected<void> DeviceState::MarkInstallFailureReported() {
  auto v = store_.GetValue(device_, kInstallFailure);
  if (!v) return Unexpected(v.error());
  if (!v->has_value() || (*v)->empty() || (*v)->ends_with("\nreported")) return {};
  return store_.PutValue(device_, kInstallFailure, **v + "\nreported");
}

Expected<void> DeviceState::ClearInstallFailure() {
  return store_.DeleteValue(device_, kInstallFailure);
}

Expected<std::optional<DeviceState::QuietPolls>> DeviceState::QuietPollsSinceLastReport() {
  auto v = store_.GetValue(device_, kQuietPolls);
  if (!v) return Unexpected(v.error());
  if (!v->has_value()) return std::optional<QuietPolls>();
  auto q = SplitWhitespace(**v);
  if (q.size() != 3) return std::optional<QuietPolls>();
  auto num = [](std::string_view s) { return std::atoll(std::string(s).c_str()); };
  return std::optional<QuietPolls>(QuietPolls{num(q[0]), num(q[1]), num(q[2])});
}

Expected<void> DeviceState::NoteQuietPoll(long long at) {
  auto q = QuietPollsSinceLastReport();
  if (!q) return Unexpected(q.error());
  QuietPolls next = q->value_or(QuietPolls{0, at, at});
  ++next.count;
  next.last = at;
  std::string value = std::to_string(next.count) + " " + std::to_string(next.first) + " " +
                      std::to_string(next.last);
  return store_.WriteRelaxed([&] { return store_.PutValue(device_, kQuietPolls, value); });
}

Expected<void> DeviceState::ClearQuietPolls() {
  auto v = store_.GetValue(device_, kQuietPolls);
  if (!v) return Unexpected(v.error());
  if (!v->has_value()) return {};
  return store_.WriteRelaxed([&] { return store_.DeleteValue(device_, kQuietPolls); });
}

}  // namespace autoprov
