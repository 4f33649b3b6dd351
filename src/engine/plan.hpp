// The file download sequence (SPEC S-2) as data: every kind of file in its order, with the
// parameter that holds its URL, its template keyword and file name (S-5), and whether it is
// periodic or one-time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/configuration.hpp"
#include "device/identity.hpp"

namespace autoprov {

enum class FileKind {
  kIni,
  kCliScript,
  kStartupScript,
  kPeriodicImage,
  kOneTimeImage,
  kLicenseKey,
  kCpt,
  kPrt,
  kVoicePrompts,
  kDialPlan,
  kUserInfo,
  kTlsRoot,
  kTlsCert,
  kTlsKey,
};

enum class DownloadMode { kPeriodic, kOneTime };

struct FileKindInfo {
  FileKind kind;
  std::string_view name;         // "ini", "cli-script", ... (reports, state, apply hooks)
  std::string_view url_param;    // "IniFileURL"
  std::string_view keyword;      // template keyword: "ini", "cli", ... (S-5)
  std::string_view file_suffix;  // template file name: <product><suffix>
  DownloadMode mode;
};

// All kinds, in sequence order.
const std::vector<FileKindInfo>& DownloadOrder();
const FileKindInfo& InfoOf(FileKind kind);

bool IsConfigFile(FileKind kind);
bool IsImage(FileKind kind);

struct PlannedStep {
  FileKind kind;
  std::string url;  // placeholders expanded; may carry credentials
  DownloadMode mode;
  bool from_template = false;
};

// The step for `kind` under the current configuration, if it has a URL: the explicit URL parameter
// (one-time or periodic as the table says), else the template when its keyword is listed (periodic:
// template URLs are never discarded).
std::optional<PlannedStep> PlanStep(FileKind kind, const Configuration& config,
                                    const DeviceIdentity& identity);

}  // namespace autoprov
