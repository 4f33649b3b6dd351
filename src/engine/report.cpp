#include "engine/report.hpp"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/redact.hpp"
#include "common/text.hpp"

namespace autoprov {

namespace {
// S-9.5: every report passes the one redaction, whatever a step wrote into it.
std::vector<std::string> RedactDetails(const std::vector<std::string>& details) {
  std::vector<std::string> out;
  out.reserve(details.size());
  for (const auto& d : details) out.push_back(RedactText(d));
  return out;
}
}  // namespace

std::string_view OutcomeName(StepOutcome o) {
  switch (o) {
    case StepOutcome::kApplied:
      return "applied";
    case StepOutcome::kNotModified:
      return "not-modified";
    case StepOutcome::kUnchangedCrc:
      return "unchanged-crc";
    case StepOutcome::kUnchanged:
      return "unchanged";
    case StepOutcome::kOlderImage:
      return "older-image";
    case StepOutcome::kRejected:
      return "rejected";
    case StepOutcome::kFailed:
      return "failed";
    case StepOutcome::kSkipped:
      return "skipped";
    case StepOutcome::kEmpty:
      return "empty";
  }
  return "?";
}

bool RunReport::Completed() const {
  for (const auto& s : steps)
    if (s.outcome == StepOutcome::kFailed || s.outcome == StepOutcome::kRejected) return false;
  return true;
}

std::string RunReport::RestartState() const {
  if (pending) return "pending";
  if (restart == RestartWhen::kNone) return "none";
  if (!restart_performed) return "pending";
  return restart == RestartWhen::kImmediate ? "immediate" : "at-end";
}

std::string IsoTime(long long t) { return UtcTime(t, "%Y-%m-%dT%H:%M:%SZ"); }

std::string RunReport::RestartText() const {
  std::string out = RestartState();
  if (pending) {
    if (pending->since > 0) out += " since " + IsoTime(pending->since);
    out += ": " + pending->cause;
    if (!pending->image.empty()) out += "; pending image " + pending->image;
    return out;
  }
  if (!restart_reasons.empty()) {
    out += " (";
    for (size_t i = 0; i < restart_reasons.size(); ++i) out += (i ? "; " : "") + restart_reasons[i];
    out += ")";
  }
  return out;
}

namespace {
const char* WhenName(RestartWhen w) {
  return w == RestartWhen::kNone ? "none" : w == RestartWhen::kAtEnd ? "at-end" : "immediate";
}
}  // namespace

nlohmann::json ToJson(const RunReport& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    nlohmann::json j = {{"kind", s.kind},
                        {"url", RedactUrl(s.url)},
                        {"mode", s.mode},
                        {"from_template", s.from_template},
                        {"outcome", std::string(OutcomeName(s.outcome))},
                        {"http_status", s.http_status},
                        {"bytes", s.bytes},
                        {"sha256", s.sha256},
                        {"duration_s", s.seconds},
                        {"if_modified_since", s.if_modified_since},
                        {"error", RedactText(s.error)},
                        {"details", RedactDetails(s.details)}};
    if (!s.version.empty()) j["version"] = s.version;
    if (s.outcome == StepOutcome::kFailed) j["retryable"] = s.retryable;
    if (s.retry_after_s > 0) j["retry_after_s"] = s.retry_after_s;
    if (s.resumed_from > 0) j["resumed_from"] = s.resumed_from;
    steps.push_back(std::move(j));
  }
  return {{"trigger", r.trigger},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"completed", r.Completed()},
          {"steps", steps},
          {"restart", r.RestartState()},
          {"restart_when", WhenName(r.restart)},
          {"restart_reasons", r.restart_reasons},
          {"running_version", r.running_version},
          {"retry_attempt", r.retry_attempt},
          {"next_retry_at", r.next_retry_at},
          {"report_upload", ToJson(r.upload)},
          {"warnings", r.warnings},
          {"reapplied", r.reapplied},
          {"restart_pending", r.pending ? nlohmann::json{{"since", r.pending->since},
                                                         {"since_iso", IsoTime(r.pending->since)},
                                                         {"cause", r.pending->cause},
                                                         {"image", r.pending->image}}
                                        : nlohmann::json(nullptr)},
          {"busy_deferral", r.busy.deferred ? nlohmann::json{{"checks", r.busy.checks},
                                                             {"seconds", r.busy.seconds},
                                                             {"outcome", r.busy.outcome}}
                                            : nlohmann::json(nullptr)}};
}

nlohmann::json ToJson(const ReportUploadOutcome& o) {
  if (!o.attempted) return nullptr;
  return {{"at", o.at},
          {"url", o.url},
          {"sent", o.sent},
          {"kept", o.kept},
          {"http_status", o.http_status},
          {"error", RedactText(o.error)}};
}

RunReport RunReportFromJson(const nlohmann::json& j) {
  RunReport r;
  r.trigger = j.value("trigger", "");
  r.started_at = j.value("started_at", 0LL);
  r.finished_at = j.value("finished_at", 0LL);
  std::string when = j.value("restart_when", "none");
  r.restart = when == "at-end"      ? RestartWhen::kAtEnd
              : when == "immediate" ? RestartWhen::kImmediate
                                    : RestartWhen::kNone;
  r.restart_performed = j.value("restart", "none") != "pending";
  r.restart_reasons = j.value("restart_reasons", std::vector<std::string>{});
  r.running_version = j.value("running_version", "");
  r.retry_attempt = j.value("retry_attempt", 0);
  r.warnings = j.value("warnings", std::vector<std::string>{});
  if (auto b = j.find("busy_deferral"); b != j.end() && b->is_object()) {
    r.busy.deferred = true;
    r.busy.checks = b->value("checks", 0);
    r.busy.seconds = b->value("seconds", 0.0);
    r.busy.outcome = b->value("outcome", "");
  }
  r.next_retry_at = j.value("next_retry_at", 0LL);
  r.reapplied = j.value("reapplied", std::vector<std::string>{});
  if (auto p = j.find("restart_pending"); p != j.end() && p->is_object())
    r.pending =
        PendingRestart{p->value("since", 0LL), p->value("cause", ""), p->value("image", "")};
  for (const auto& s : j.value("steps", nlohmann::json::array())) {
    StepReport st;
    st.kind = s.value("kind", "");
    st.url = s.value("url", "");
    st.mode = s.value("mode", "");
    st.from_template = s.value("from_template", false);
    std::string o = s.value("outcome", "skipped");
    for (auto c : {StepOutcome::kApplied, StepOutcome::kNotModified, StepOutcome::kUnchangedCrc,
                   StepOutcome::kUnchanged, StepOutcome::kOlderImage, StepOutcome::kRejected,
                   StepOutcome::kFailed, StepOutcome::kSkipped, StepOutcome::kEmpty})
      if (OutcomeName(c) == o) st.outcome = c;
    st.http_status = s.value("http_status", 0L);
    st.bytes = s.value("bytes", uint64_t{0});
    st.sha256 = s.value("sha256", "");
    st.version = s.value("version", "");
    st.seconds = s.value("duration_s", 0.0);
    st.if_modified_since = s.value("if_modified_since", "");
    st.error = s.value("error", "");
    st.retryable = s.value("retryable", false);
    st.retry_after_s = s.value("retry_after_s", 0L);
    st.resumed_from = s.value("resumed_from", uint64_t{0});
    st.details = s.value("details", std::vector<std::string>{});
    r.steps.push_back(std::move(st));
  }
  return r;
}

std::string FormatReport(const RunReport& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-3s %-16s %-9s %-14s %5s %12s %8s  %s\n", "#", "KIND", "MODE",
                "OUTCOME", "HTTP", "BYTES", "TIME", "URL");
  out += line;
  int n = 0;
  for (const auto& s : r.steps) {
    std::snprintf(line, sizeof line, "%-3d %-16s %-9s %-14s %5s %12llu %7.2fs  %s\n", ++n,
                  s.kind.c_str(), s.mode.c_str(), std::string(OutcomeName(s.outcome)).c_str(),
                  s.http_status ? std::to_string(s.http_status).c_str() : "-",
                  static_cast<unsigned long long>(s.bytes), s.seconds, s.url.c_str());
    out += line;
    if (!s.version.empty()) out += "      version " + s.version + "\n";
    if (s.resumed_from > 0)
      out += "      resumed at byte " + std::to_string(s.resumed_from) + " (S-10.4)\n";
    if (!s.error.empty())
      out += std::string(s.outcome == StepOutcome::kSkipped ? "      skipped: " : "      error: ") +
             s.error + "\n";
    for (const auto& d : s.details) out += "      " + d + "\n";
  }
  if (r.steps.empty()) out += "    (no file configured: set IniFileURL or another URL parameter)\n";
  if (!r.reapplied.empty()) {
    std::string kinds;
    for (const auto& k : r.reapplied) kinds += (kinds.empty() ? "" : ", ") + k;
    out += "applied again to compose the configuration (S-7.7): " + kinds + "\n";
  }
  out += "restart: " + r.RestartText() + "\n";
  if (!r.running_version.empty()) out += "running version: " + r.running_version + "\n";
  for (const auto& w : r.warnings) out += "warning: " + w + "\n";
  if (r.busy.deferred) {
    char waited[64];
    std::snprintf(waited, sizeof waited, "%.0f s", r.busy.seconds);
    out += "restart deferred while busy: " + std::string(waited) + ", " +
           std::to_string(r.busy.checks) + " check(s); " + r.busy.outcome + " (S-10.2)\n";
  }
  if (r.next_retry_at > 0) {
    std::time_t at = static_cast<std::time_t>(r.next_retry_at);
    std::tm tm{};
    localtime_r(&at, &tm);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    out += "next retry: " + std::string(when) + " (retry " + std::to_string(r.retry_attempt) +
           ", " + std::to_string(r.next_retry_at - r.finished_at) + " s after this run; S-10.1)\n";
  }
  out += r.Completed() ? "result: completed\n" : "result: failed steps\n";
  return RedactText(out);  // S-9.5
}

RunReport StartFailureReport(const std::string& trigger, const std::string& error) {
  RunReport report;
  report.trigger = trigger;
  report.started_at = report.finished_at = static_cast<long long>(std::time(nullptr));
  StepReport s;
  s.kind = "start";
  s.outcome = StepOutcome::kFailed;
  s.error = error;
  report.steps.push_back(std::move(s));
  return report;
}

}  // namespace autoprov
