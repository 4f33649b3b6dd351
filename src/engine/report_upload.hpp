// Report back (SPEC S-10.3): after a run the agent uploads its JSON report to AupdReportUrl with
// PUT or POST through the transfer layer (same TLS files and limits, http or https only). A report
// not sent — the server down, or a restart following the run — is kept in the state database and
// sent after the next run, so the report of a run that restarted the device arrives after the
// start-up run. An upload never fails or holds up the run beyond its own time limit.
#pragma once

#include <string>
#include <vector>

#include "config/configuration.hpp"
#include "engine/report.hpp"
#include "engine/sequence.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

// After a run: this run's report joins the reports waiting (when AupdReportWhen says it is one to
// report) and, unless a restart follows, every waiting report becomes an upload, oldest first.
// Nothing when AupdReportUrl is empty.
std::vector<FetchRequest> PrepareReportUploads(const RunReport& report, const Configuration& config,
                                               const RunEnvironment& env, bool restart_follows);

// The results of the uploads PrepareReportUploads gave, in order (the caller stops at the first
// failure), at `now` (unix time): the reports delivered leave the queue; the outcome is kept for
// `status`.
ReportUploadOutcome FinishReportUploads(StateStore& store, long long device,
                                        const std::vector<FetchRequest>& uploads,
                                        const std::vector<Fetched>& results, long long now);

// The state values this module keeps (the waiting reports, the last outcome): not shown as device
// values.
bool IsReportUploadKey(std::string_view key);

// The outcome kept by the last FinishReportUploads (attempted = false: none yet).
ReportUploadOutcome LastReportUpload(StateStore& store, long long device);

}  // namespace autoprov
