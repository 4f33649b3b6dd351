#include "engine/status.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/redact.hpp"
#include "common/text.hpp"
#include "engine/device_state.hpp"
#include "engine/rejection.hpp"
#include "engine/report.hpp"
#include "engine/report_upload.hpp"
#include "engine/sequence.hpp"

namespace autoprov {
namespace {

struct Snapshot {
  std::optional<std::string> last;
  std::optional<PendingRestart> pending;  // now, whatever the last report said
  std::vector<std::pair<std::string, UrlState>> urls;
  std::vector<std::pair<std::string, KindState>> kinds;
  std::vector<std::pair<std::string, std::string>> values;
  std::optional<DeviceState::QuietPolls> quiet;  // polls since the last report that changed nothing
};

Expected<Snapshot> Read(StateStore& store, long long device) {
  auto last = store.LastRun(device);
  auto urls = store.ListUrlStates(device);
  auto kinds = store.ListKindStates(device);
  auto values = store.ListValues(device);
  auto pending = DeviceState(store, device).PendingRestartState();
  auto quiet = DeviceState(store, device).QuietPollsSinceLastReport();
  for (const Error* e : {last ? nullptr : &last.error(), urls ? nullptr : &urls.error(),
                         kinds ? nullptr : &kinds.error(), values ? nullptr : &values.error(),
                         pending ? nullptr : &pending.error(), quiet ? nullptr : &quiet.error()})
    if (e) return Fail(e->code, "cannot read the state: " + e->message);
  return Snapshot{std::move(*last),  std::move(*pending), std::move(*urls),
                  std::move(*kinds), std::move(*values),  std::move(*quiet)};
}

// The last run's report, with the restart as it stands now: a restart pending since an earlier
// run shows, one performed since (`autoprov restart`) no longer does.
std::optional<RunReport> LastReport(const Snapshot& s) {
  auto j = s.last ? nlohmann::json::parse(*s.last, nullptr, false) : nlohmann::json();
  if (!j.is_object()) return std::nullopt;
  auto report = RunReportFromJson(j);
  // A restart the run left pending and that has happened since was performed after all.
  if (!s.pending && !report.restart_performed) report.restart_performed = true;
  report.pending = s.pending;
  return report;
}

// The polls that changed nothing since the last stored report.
std::string QuietText(const Snapshot& s) {
  if (!s.quiet) return "";
  return "since then: " + std::to_string(s.quiet->count) +
         " poll(s) that changed nothing (every file not modified), the last at " +
         UtcTimeText(s.quiet->last) + "\n";
}

std::string LastRunText(const Snapshot& s) {
  auto report = LastReport(s);
  if (!report) return "last run: none\n" + QuietText(s);
  return "last run: " + UtcTimeText(report->started_at) + " (" + report->trigger + ")\n" +
         FormatReport(*report) + QuietText(s);
}

}  // namespace

Expected<std::string> StatusJson(StateStore& store, long long device) {
  auto s = Read(store, device);
  if (!s) return Unexpected(s.error());
  nlohmann::json j;
  auto report = LastReport(*s);
  j["last_run"] = report ? ToJson(*report) : nlohmann::json(nullptr);
  j["restart_pending"] = report ? j["last_run"]["restart_pending"] : nlohmann::json(nullptr);
  if (!report && s->pending)
    j["restart_pending"] = {{"since", s->pending->since},
                            {"since_iso", IsoTime(s->pending->since)},
                            {"cause", s->pending->cause},
                            {"image", s->pending->image}};
  j["urls"] = nlohmann::json::array();
  for (const auto& [url, u] : s->urls) {
    auto rejected = DecodeRejection(u.rejected);
    j["urls"].push_back(
        {{"url", RedactUrl(url)},
         {"last_modified", u.last_modified},
         {"etag", u.etag},
         {"downloaded_at", u.downloaded_at},
         {"sha256", u.sha256},
         {"rejected", rejected ? nlohmann::json{{"reason", rejected->reason},
                                                {"since", rejected->since},
                                                {"since_iso", IsoTime(rejected->since)},
                                                {"sha256", rejected->sha256}}
                               : nlohmann::json(nullptr)}});
  }
  j["kinds"] = nlohmann::json::object();
  for (const auto& [kind, k] : s->kinds)
    j["kinds"][kind] = {{"crc", k.crc},
                        {"sha256", k.sha256},
                        {"version", k.version},
                        {"path", k.path},
                        {"installed_at", k.installed_at}};
  j["device"] = nlohmann::json::object();
  for (const auto& [k, v] : s->values)
    if (!IsReportUploadKey(k) && k != "install_failure" && k != "restart_pending" &&
        k != "quiet_polls")
      j["device"][k] = v;
  j["quiet_polls"] = s->quiet ? nlohmann::json{{"count", s->quiet->count},
                                               {"first", s->quiet->first},
                                               {"last", s->quiet->last},
                                               {"last_iso", IsoTime(s->quiet->last)}}
                              : nlohmann::json(nullptr);
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
  auto s = Read(store, device);
  if (!s) return Unexpected(s.error());
  return LastRunText(*s);
}

Expected<std::string> FormatStatus(StateStore& store, long long device) {
  auto s = Read(store, device);
  if (!s) return Unexpected(s.error());
  std::string out = LastRunText(*s);
  out += "\nper URL:\n";
  for (const auto& [url, u] : s->urls) {
    out += "  " + RedactUrl(url) + "\n";
    if (u.downloaded_at > 0)
      out += "    applied content downloaded " + UtcTimeText(u.downloaded_at) +
             (u.last_modified.empty() ? "" : ", Last-Modified " + u.last_modified) +
             (u.etag.empty() ? "" : ", ETag " + u.etag) + "\n";
    if (auto rejected = DecodeRejection(u.rejected))
      out += "    " + RejectedSinceText(*rejected) + ": " + rejected->reason + "\n";
  }
  out += "installed:\n";
  for (const auto& [kind, k] : s->kinds)
    out += "  " + kind + (k.crc.empty() ? "" : " crc " + k.crc) +
           (k.version.empty() ? "" : " version " + k.version) +
           (k.sha256.empty() ? "" : " sha256 " + k.sha256.substr(0, 16) + "…") + "\n";
  out += "device:\n";
  auto described = DeviceState(store, device).Describe();
  if (!described) return Unexpected(described.error());
  for (const auto& line : *described) out += "  " + line + "\n";
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
