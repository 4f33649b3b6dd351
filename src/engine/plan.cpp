#include "engine/plan.hpp"

#include "common/text.hpp"
#include "transfer/url.hpp"

namespace autoprov {

const std::vector<FileKindInfo>& DownloadOrder() {
  static const std::vector<FileKindInfo> order = {
      {FileKind::kIni, "ini", "IniFileURL", "ini", ".ini", DownloadMode::kPeriodic},
      {FileKind::kCliScript, "cli-script", "CliScriptURL", "cli", "_cli.txt",
       DownloadMode::kPeriodic},
      {FileKind::kStartupScript, "startup-script", "CLIStartupScriptUrl", "startup", "_startup.txt",
       DownloadMode::kPeriodic},
      {FileKind::kPeriodicImage, "auto-firmware", "AutoCmpFileUrl", "cmp", ".cmp",
       DownloadMode::kPeriodic},
      {FileKind::kOneTimeImage, "firmware", "CmpFileURL", "", "", DownloadMode::kOneTime},
      {FileKind::kLicenseKey, "feature-key", "FeatureKeyURL", "fk", "_fk.txt",
       DownloadMode::kOneTime},
      {FileKind::kCpt, "cpt", "CptFileURL", "cpt", "_cpt.dat", DownloadMode::kOneTime},
      {FileKind::kPrt, "prt", "PrtFileURL", "prt", "_prt.dat", DownloadMode::kOneTime},
      {FileKind::kVoicePrompts, "voice-prompts", "VpFileUrl", "vp", "_vp.dat",
       DownloadMode::kOneTime},
      {FileKind::kDialPlan, "dial-plan", "DialPlanFileURL", "dialplan", "_dialplan.txt",
       DownloadMode::kOneTime},
      {FileKind::kUserInfo, "user-info", "UserInfoFileURL", "usrinf", "_usrinf.txt",
       DownloadMode::kOneTime},
      {FileKind::kTlsRoot, "tls-root-cert", "TLSRootFileUrl", "tlsroot", "_root.pem",
       DownloadMode::kOneTime},
      {FileKind::kTlsCert, "tls-cert", "TLSCertFileUrl", "tlscert", "_cert.pem",
       DownloadMode::kOneTime},
      {FileKind::kTlsKey, "tls-private-key", "TLSPkeyFileUrl", "tlskey", "_key.pem",
       DownloadMode::kOneTime},
  };
  return order;
}

const FileKindInfo& InfoOf(FileKind kind) {
  for (const auto& i : DownloadOrder())
    if (i.kind == kind) return i;
  return DownloadOrder().front();
}

bool IsConfigFile(FileKind kind) {
  return kind == FileKind::kIni || kind == FileKind::kCliScript || kind == FileKind::kStartupScript;
}

bool IsImage(FileKind kind) {
  return kind == FileKind::kPeriodicImage || kind == FileKind::kOneTimeImage;
}

std::optional<PlannedStep> PlanStep(FileKind kind, const Configuration& config,
                                    const DeviceIdentity& identity) {
  const FileKindInfo& info = InfoOf(kind);
  PlaceholderValues values;  // URLs take <MAC> (and <FILE>) only
  values.mac = identity.mac;
  const std::string& explicit_url = config.Get(info.url_param);
  if (!explicit_url.empty())
    return PlannedStep{kind, ExpandUrl(explicit_url, values), info.mode, false};
  if (info.keyword.empty()) return std::nullopt;
  const std::string& templ = config.Get("TemplateUrl");
  if (templ.empty() || templ.find("<FILE>") == std::string::npos) return std::nullopt;
  const std::string& list = config.Get("AupdFilesList");
  bool listed = false;
  size_t start = 0;
  while (start <= list.size() && !listed) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    listed = list.substr(start, end - start) == info.keyword;
    start = end + 1;
  }
  if (!listed) return std::nullopt;
  std::string file = identity.product + std::string(info.file_suffix);
  return PlannedStep{kind, ExpandUrl(templ, values, file), DownloadMode::kPeriodic, true};
}

}  // namespace autoprov
