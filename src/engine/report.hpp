// The report of one Automatic Update run (SPEC S-8): each step in sequence order, and the restart
// decision.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace autoprov {

enum class StepOutcome {
  kApplied,       // downloaded and applied (installed)
  kNotModified,   // the server answered 304
  kUnchangedCrc,  // same CRC as the last applied configuration file (S-4)
  kUnchanged,     // same content as what is installed (License Key, image, file)
  kOlderImage,    // image not later than the running one (S-1.3)
  kRejected,      // downloaded but invalid: nothing applied
  kFailed,        // not downloaded (network, HTTP error, hook failure)
  kSkipped,       // not attempted (AutoUpdateCmpFile = 0, restart in progress)
  kEmpty,         // an incremental configuration file with no setting: nothing applied (S-9.2)
};

std::string_view OutcomeName(StepOutcome o);

struct StepReport {
  std::string kind;
  std::string url;   // without credentials
  std::string mode;  // "periodic" or "one-time"
  bool from_template = false;
  StepOutcome outcome = StepOutcome::kSkipped;
  long http_status = 0;
  uint64_t bytes = 0;
  uint64_t resumed_from = 0;  // S-10.4: bytes kept from an earlier attempt, not fetched again
  std::string sha256;
  std::string version;  // images
  double seconds = 0;
  std::string if_modified_since;  // what the request carried
  std::string error;
  bool retryable =
      false;  // a failure worth another run (S-10.1): network, time limit, 5xx, 408, 429
  long retry_after_s = 0;            // the server's Retry-After
  std::vector<std::string> details;  // e.g. every bad line of a rejected file
};

enum class RestartWhen { kNone, kAtEnd, kImmediate };

// A restart that waited for the appliance to be idle (S-10.2).
struct BusyDeferral {
  bool deferred = false;
  int checks = 0;       // BusyCommand runs
  double seconds = 0;   // waited in all
  std::string outcome;  // how it ended
};

// The outcome of the report uploads after a run (S-10.3), for `status` and `update --json`.
struct ReportUploadOutcome {
  bool attempted = false;
  long long at = 0;
  std::string url;  // redacted
  int sent = 0;     // reports delivered this time
  int kept = 0;     // reports still waiting
  long http_status = 0;
  std::string error;
};

// A restart that was decided and has not happened yet (it happens when the device restarts, or is
// given up when a later run's start-up clears it): kept by the device until then, so every report
// and `status` show it (issue: truthful reports).
struct PendingRestart {
  long long since = 0;  // when it was first decided (unix time; 0: not known, an older state)
  std::string cause;    // why: the run's restart reasons and why it did not happen
  std::string image;    // the image that waits for it, if any: "<version> (<file>)"
};

struct RunReport {
  std::string trigger = "manual";
  long long started_at = 0;
  long long finished_at = 0;
  std::vector<StepReport> steps;
  RestartWhen restart = RestartWhen::kNone;
  bool restart_performed = false;  // false with a restart decided: pending
  std::vector<std::string> restart_reasons;
  std::string running_version;
  int retry_attempt = 0;        // S-10.1: the number of the retry planned after this run; 0: none
  long long next_retry_at = 0;  // when it comes (unix time); 0: none
  ReportUploadOutcome upload;   // after the report was built: not in the uploaded copy
  std::vector<std::string> warnings;  // about the run as a whole (the clock, S-10.8)
  BusyDeferral busy;                  // S-10.2
  // S-7.7: configuration files applied again from their kept content to compose the configuration.
  std::vector<std::string> reapplied;
  // The device's pending restart after this run (this run's or an earlier one's).
  std::optional<PendingRestart> pending;

  bool Completed() const;            // no step failed or was rejected
  std::string RestartState() const;  // none, at-end, immediate, pending
  // "pending since <ISO time>: <cause>; image …" or "none", "at-end (…)": the report's restart
  // line.
  std::string RestartText() const;
};

// The report of a run that could not start (or whose process died): one failed "start" step that
// says why.
RunReport StartFailureReport(const std::string& trigger, const std::string& error);

nlohmann::json ToJson(const RunReport& r);
nlohmann::json ToJson(const ReportUploadOutcome& o);  // null when not attempted
RunReport RunReportFromJson(const nlohmann::json& j);
// "2026-12-04T22:50:00Z"; "-" for none.
std::string IsoTime(long long unix_time);
// A table for a terminal.
std::string FormatReport(const RunReport& r);

}  // namespace autoprov
