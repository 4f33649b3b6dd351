#include "engine/status.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/redact.hpp"
#include "engine/device_state.hpp"
#include "engine/report.hpp"
#include "engine/report_upload.hpp"

namespace autoprov {
namespace {

struct Snapshot {
  std::optional<std::string> last;
  std::vector<std::pair<std::string, UrlState>> urls;
  std::vector<std::pair<std::string, KindState>> kinds;
  std::vector<std::pair<std::string, std::string>> values;
};

Expected<Snapshot> Read(StateStore& store, long long device) {
  auto last = store.LastRun(device);
  auto urls = store.ListUrlStates(device);
  auto kinds = store.ListKindStates(device);
  auto values = store.ListValues(device);
  for (const Error* e : {last ? nullptr : &last.error(), urls ? nullptr : &urls.error(),
                         kinds ? nullptr : &kinds.error(), values ? nullptr : &values.error()})
    if (e) return Fail(ErrorCode::kDatabase, "cannot read the state: " + e->message);
  return Snapshot{std::move(*last), std::move(*urls), std::move(*kinds), std::move(*values)};
}

std::string LastRunText(const std::optional<std::string>& last) {
  auto j = last ? nlohmann::json::parse(*last, nullptr, false) : nlohmann::json();
  if (!j.is_object()) return "last run: none\n";
  auto report = RunReportFromJson(j);
  return "last run: " + UtcTimeText(report.started_at) + " (" + report.trigger + ")\n" +
         FormatReport(report);
}

}  // namespace

std::string UtcTimeText(long long t) {
  if (t <= 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  char buf[64];
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

Expected<std::string> StatusJson(StateStore& store, long long device) {
  auto s = Read(store, device);
  if (!s) return Unexpected(s.error());
  nlohmann::json j;
  j["last_run"] =
      s->last ? nlohmann::json::parse(*s->last, nullptr, false) : nlohmann::json(nullptr);
  j["urls"] = nlohmann::json::array();
  for (const auto& [url, u] : s->urls)
    j["urls"].push_back({{"url", RedactUrl(url)},
                         {"last_modified", u.last_modified},
                         {"etag", u.etag},
                         {"downloaded_at", u.downloaded_at},
                         {"sha256", u.sha256}});
  j["kinds"] = nlohmann::json::object();
  for (const auto& [kind, k] : s->kinds)
    j["kinds"][kind] = {{"crc", k.crc},
                        {"sha256", k.sha256},
                        {"version", k.version},
                        {"path", k.path},
                        {"installed_at", k.installed_at}};
  j["device"] = nlohmann::json::object();
  for (const auto& [k, v] : s->values)
    if (!IsReportUploadKey(k) && k != "install_failure") j["device"][k] = v;
  j["install_failure"] = nullptr;
  if (auto f = DeviceState(store, device).LastInstallFailure(); f && f->has_value())
    j["install_failure"] = {{"version", (*f)->version},
                            {"running", (*f)->running},
                            {"sha256", (*f)->sha256},
                            {"at", (*f)->at}};
  j["report_upload"] = ToJson(LastReportUpload(store, device));
  return RedactText(j.dump(2));  // S-9.5
}

std::string FormatDaemonStatus(const std::string& daemon_json) {
  auto j = nlohmann::json::parse(daemon_json, nullptr, false);
  if (!j.is_object()) return "daemon: not running\n";
  std::string out = "daemon: running" +
                    std::string(j.value("running", false) ? ", a run is in progress" : "") + "\n";
  std::string next = j.value("next_trigger", "");
  out += "next trigger: " + (next.empty() ? std::string("none")
                                          : next + " (" + j.value("next_trigger_kind", "") + ")");
  out += "\n";
  if (std::string retry = j.value("next_retry", ""); !retry.empty())
    out += "next retry: " + retry + " (retry " + std::to_string(j.value("next_retry_attempt", 0)) +
           " after failed runs; AupdRetrySchedule)\n";
  if (std::string startup = j.value("next_startup", ""); !startup.empty())
    out += "start-up run: " + startup + " (AupdStartupRandomDelay)\n";
  return out;
}

Expected<std::string> FormatLastRun(StateStore& store, long long device) {
  auto last = store.LastRun(device);
  if (!last) return Unexpected(last.error());
  return LastRunText(*last);
}

Expected<std::string> FormatStatus(StateStore& store, long long device) {
  auto s = Read(store, device);
  if (!s) return Unexpected(s.error());
  std::string out = LastRunText(s->last);
  out += "\nper URL:\n";
  for (const auto& [url, u] : s->urls)
    out += "  " + RedactUrl(url) + "\n    downloaded " + UtcTimeText(u.downloaded_at) +
           (u.last_modified.empty() ? "" : ", Last-Modified " + u.last_modified) +
           (u.etag.empty() ? "" : ", ETag " + u.etag) + "\n";
  out += "installed:\n";
  for (const auto& [kind, k] : s->kinds)
    out += "  " + kind + (k.crc.empty() ? "" : " crc " + k.crc) +
           (k.version.empty() ? "" : " version " + k.version) +
           (k.sha256.empty() ? "" : " sha256 " + k.sha256.substr(0, 16) + "…") + "\n";
  for (const auto& [k, v] : s->values)
    if (!IsReportUploadKey(k) && k != "install_failure") out += "  " + k + ": " + v + "\n";
  if (auto f = DeviceState(store, device).LastInstallFailure(); f && f->has_value())
    out += "install failed: image " + (*f)->version + " was installed at " + UtcTimeText((*f)->at) +
           " but the device came back on " + (*f)->running +
           "; it is not installed again until its file changes (S-11.2)\n";
  ReportUploadOutcome up = LastReportUpload(store, device);
  if (up.attempted)
    out += "report upload: " + UtcTimeText(up.at) + " to " + up.url + ": " +
           (up.error.empty()
                ? std::to_string(up.sent) + " sent (HTTP " + std::to_string(up.http_status) + ")"
                : "failed: " + up.error) +
           (up.kept ? ", " + std::to_string(up.kept) + " kept for the next run" : "") + "\n";
  return RedactText(out);
}

}  // namespace autoprov
