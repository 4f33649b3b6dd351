#include "engine/report_upload.hpp"

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/redact.hpp"
#include "common/text.hpp"
#include "engine/request.hpp"
#include "transfer/url.hpp"

namespace autoprov {
namespace {

constexpr const char* kQueueKey = "report_queue";
constexpr const char* kOutcomeKey = "report_upload";
constexpr size_t kMaxKept = 10;  // the oldest waiting report is dropped beyond this

// The host of a URL, lower case, without credentials or port ("" when it has none).
std::string HostOf(std::string_view url) {
  auto start = url.find("://");
  if (start == std::string_view::npos) return "";
  std::string_view rest = url.substr(start + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') return ToLower(rest.substr(0, rest.find(']') + 1));
  return ToLower(rest.substr(0, rest.find(':')));
}

bool WorthReporting(const RunReport& r, long long when) {
  if (when == 0) return true;
  bool failed = false, changed = r.restart != RestartWhen::kNone;
  for (const auto& s : r.steps) {
    failed |= s.outcome == StepOutcome::kFailed || s.outcome == StepOutcome::kRejected;
    changed |= s.outcome == StepOutcome::kApplied;
  }
  return when == 1 ? failed : failed || changed;
}

std::vector<std::string> Queue(StateStore& store, long long device) {
  auto v = store.GetValue(device, kQueueKey);
  if (!v || !v->has_value()) return {};
  auto j = nlohmann::json::parse(**v, nullptr, false);
  if (!j.is_array()) return {};
  std::vector<std::string> out;
  for (const auto& e : j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

void SaveQueue(StateStore& store, long long device, const std::vector<std::string>& queue) {
  auto r = queue.empty() ? store.DeleteValue(device, kQueueKey)
                         : store.PutValue(device, kQueueKey, nlohmann::json(queue).dump());
  if (!r) LogError("cannot keep the run reports to upload: " + r.error().message);
}

}  // namespace

std::vector<FetchRequest> PrepareReportUploads(const RunReport& report, const Configuration& config,
                                               const RunEnvironment& env, bool restart_follows) {
  const std::string& url_template = config.Get("AupdReportUrl");
  if (url_template.empty()) return {};
  std::vector<std::string> queue = Queue(*env.store, env.device);
  if (WorthReporting(report, config.GetInt("AupdReportWhen"))) {
    queue.push_back(ToJson(report).dump());  // redacted by ToJson (S-9.5)
    if (queue.size() > kMaxKept) queue.erase(queue.begin());
    SaveQueue(*env.store, env.device, queue);
  }
  if (restart_follows) return {};  // sent after the start-up run
  std::string url = ExpandReportUrl(
      url_template, PlaceholderValues{env.identity.product, env.identity.mac,
                                      env.identity.sw_version, config.Get("INIFileVersion")});
  std::string method = config.GetInt("AupdReportMethod") == 1 ? "POST" : "PUT";
  RequestBuilder builder;
  std::vector<FetchRequest> out;
  for (auto& body : queue) {
    FetchRequest req = builder.Upload(url, method, std::move(body), config, env);
    // Its own credentials; the update credentials only to the host they are meant for.
    if (!config.Get("AupdReportUserPassword").empty())
      SetCredentials(req, config.Get("AupdReportUserPassword"));
    else if (HostOf(url) == HostOf(config.Get("IniFileURL")))
      SetUpdateCredentials(req, config);
    out.push_back(std::move(req));
  }
  return out;
}

ReportUploadOutcome FinishReportUploads(StateStore& store, long long device,
                                        const std::vector<FetchRequest>& uploads,
                                        const std::vector<Fetched>& results, long long now) {
  ReportUploadOutcome o;
  if (uploads.empty()) return o;
  o.attempted = true;
  o.at = now;
  o.url = RedactUrl(uploads.front().url);
  for (const auto& r : results) {
    if (!r) {
      o.error = r.error().message;
      o.http_status = r.error().stats.http_status;
      break;
    }
    o.http_status = r->status;
    ++o.sent;
  }
  std::vector<std::string> queue = Queue(store, device);
  // The queue's oldest entries are the ones sent (the run holds the run lock: no other writer).
  queue.erase(queue.begin(), queue.begin() + std::min<size_t>(queue.size(), o.sent));
  o.kept = static_cast<int>(queue.size());
  SaveQueue(store, device, queue);
  if (auto r = store.PutValue(device, kOutcomeKey, ToJson(o).dump()); !r)
    LogError("cannot record the report upload: " + r.error().message);
  if (!o.error.empty())
    LogWarning("report upload to " + o.url + " failed: " + o.error + "; " + std::to_string(o.kept) +
               " report(s) kept for the next run");
  return o;
}

bool IsReportUploadKey(std::string_view key) { return key == kQueueKey || key == kOutcomeKey; }

ReportUploadOutcome LastReportUpload(StateStore& store, long long device) {
  ReportUploadOutcome o;
  auto v = store.GetValue(device, kOutcomeKey);
  if (!v || !v->has_value()) return o;
  auto j = nlohmann::json::parse(**v, nullptr, false);
  if (!j.is_object()) return o;
  o.attempted = true;
  o.at = j.value("at", 0LL);
  o.url = j.value("url", "");
  o.sent = j.value("sent", 0);
  o.kept = j.value("kept", 0);
  o.http_status = j.value("http_status", 0L);
  o.error = j.value("error", "");
  return o;
}

}  // namespace autoprov
