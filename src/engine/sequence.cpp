// The sequencing of a run (S-2): which step comes next, what is skipped, how a fetch result reaches
// its apply policy, each step's commit, and the restart decision at the end. Its S-12 steps are in
// sequence_signatures.cpp, the S-7.7 composition in sequence_compose.cpp.
#include "engine/sequence.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "common/atomic_file.hpp"
#include "common/log.hpp"
#include "config/config_file.hpp"
#include "engine/clock.hpp"
#include "engine/config_writer.hpp"
#include "engine/decryption.hpp"
#include "engine/device_state.hpp"
#include "engine/retry.hpp"
#include "signing/signature.hpp"
#include "transfer/resume.hpp"
#include "transfer/url.hpp"

namespace autoprov {
namespace {
std::mt19937_64& RandomEngine() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}
}  // namespace

std::vector<PlanLine> DescribePlan(StateStore& store, long long device, const Configuration& config,
                                   const DeviceIdentity& identity) {
  std::vector<PlanLine> out;
  for (const auto& info : DownloadOrder()) {
    auto plan = PlanStep(info.kind, config, identity);
    if (!plan) continue;
    PlanLine line{std::string(info.name),
                  RedactUrl(plan->url),
                  plan->mode == DownloadMode::kPeriodic ? "periodic" : "one-time",
                  "",
                  "",
                  plan->from_template};
    if (plan->mode == DownloadMode::kPeriodic) {
      auto s = store.GetUrlState(device, plan->url);
      if (s && s->has_value())
        line.if_modified_since =
            (*s)->last_modified.empty() ? HttpDate((*s)->downloaded_at) : (*s)->last_modified;
    }
    if (info.kind == FileKind::kOneTimeImage && config.Get("AutoUpdateCmpFile") != "1")
      line.note = "skipped: AutoUpdateCmpFile = 0";
    if (!IsSupportedScheme(plan->url)) line.note = "unsupported scheme";
    out.push_back(std::move(line));
  }
  return out;
}

Expected<std::unique_ptr<DownloadSequence>> DownloadSequence::Start(RunEnvironment env,
                                                                    RunOptions options) {
  auto config = env.store->LoadConfiguration(env.device, *env.schema);
  if (!config) return Unexpected(config.error());
  env.identity.sw_version =
      DeviceState(*env.store, env.device).RunningVersion(env.identity.sw_version);
  if (env.keep_files) {
    std::error_code ec;
    std::filesystem::create_directories(env.state_dir / "downloads", ec);
    RemoveStaleTemporaries(env.state_dir / "downloads");
  }
  return std::unique_ptr<DownloadSequence>(
      new DownloadSequence(std::move(env), std::move(options), std::move(*config)));
}

DownloadSequence::DownloadSequence(RunEnvironment env, RunOptions options, Configuration config)
    : env_(std::move(env)), options_(std::move(options)), config_(std::move(config)) {
  report_.trigger = options_.trigger;
  report_.started_at = Now();
  report_.steps.reserve(4);
}

DownloadSequence::~DownloadSequence() = default;

long long DownloadSequence::Now() const {
  if (env_.now) return env_.now();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DownloadSequence::Staging() const {
  return (env_.state_dir / "downloads" / std::string(InfoOf(current_->kind).name)).string();
}

ApplyPolicy& DownloadSequence::PolicyFor(FileKind kind) {
  Family family =
      IsConfigFile(kind)              ? kConfigFiles
      : IsImage(kind)                 ? kImages
      : kind == FileKind::kLicenseKey ? kLicense
      : kind == FileKind::kTlsRoot || kind == FileKind::kTlsCert || kind == FileKind::kTlsKey
          ? kTls
          : kAuxFiles;
  auto& policy = policies_[family];
  if (!policy) {
    switch (family) {
      case kConfigFiles:
        policy = MakeConfigFilePolicy();
        break;
      case kImages:
        policy = MakeImagePolicy();
        break;
      case kLicense:
        policy = MakeLicensePolicy();
        break;
      case kTls:
        policy = MakeTlsPolicy();
        break;
      default:
        policy = MakeAuxFilePolicy();
        break;
    }
  }
  return *policy;
}

void DownloadSequence::Record(StepOutcome outcome, std::string error) {
  step_.outcome = outcome;
  if (!error.empty()) step_.error = std::move(error);
  if (outcome == StepOutcome::kRejected && fetched_) KeepRejection(*fetched_);
  bool bad = outcome == StepOutcome::kFailed || outcome == StepOutcome::kRejected;
  LogLevel level = bad ? LogLevel::kWarning : LogLevel::kInfo;
  if (LogEnabled(level)) {
    std::string line =
        "step " + step_.kind + " " + step_.url + ": " + std::string(OutcomeName(outcome));
    if (!step_.error.empty()) line += ": " + step_.error;
    std::string number = std::to_string(next_index_) + "/" + std::to_string(DownloadOrder().size());
    Log(level, line, LogContext{"step", number, step_.kind, step_.url, OutcomeName(outcome)});
  }
  if (env_.on_step) env_.on_step(step_);
  report_.steps.push_back(std::move(step_));
  step_ = StepReport{};
  current_.reset();
  signature_.reset();
  file_request_.reset();
  awaiting_signature_ = false;
  bundle_step_ = false;
}

std::optional<FetchRequest> DownloadSequence::Next() {
  if (again_) {
    // S-10.6: the same step again: another attempt, or the next file of the DHCP chain.
    current_ = std::move(again_);
    again_.reset();
    step_.url = RedactUrl(current_->url);
    return Begin(requests_.Build(*current_, config_, env_, step_.if_modified_since));
  }
  if (file_request_) {  // S-12: the signature was fetched; now the file
    FetchRequest r = std::move(*file_request_);
    file_request_.reset();
    return r;
  }
  if (!bundle_checked_) {
    bundle_checked_ = true;
    if (auto r = BeginBundleStep()) return r;
  }
  const auto& order = DownloadOrder();
  while (next_index_ < order.size()) {
    FileKind kind = order[next_index_++].kind;
    // S-2.1, S-9.1: each step sees the configuration as stored when it is planned: what the steps
    // before it left, and what any other writer (`config set`, the shell) changed meanwhile.
    (void)env_.store->RefreshConfiguration(env_.device, *env_.schema, config_, config_stamp_);
    auto plan = PlanStep(kind, config_, env_.identity);
    if (!plan) {
      // S-7.7: no CLI script any more: nothing to compose.
      if (kind == FileKind::kCliScript)
        (void)DeviceState(*env_.store, env_.device)
            .SetComposePending(std::string(InfoOf(kind).name), false);
      continue;
    }
    step_ = StepReport{};
    step_.kind = std::string(InfoOf(kind).name);
    step_.url = RedactUrl(plan->url);
    step_.mode = plan->mode == DownloadMode::kPeriodic ? "periodic" : "one-time";
    step_.from_template = plan->from_template;
    current_ = plan;
    plan_generation_ = 0;
    if (plan->mode == DownloadMode::kOneTime) {
      // S-9.1: the URL parameter's write counter as the fetch begins; it is cleared only if
      // unchanged.
      auto gen = env_.store->ParamGeneration(env_.device, std::string(InfoOf(kind).url_param));
      plan_generation_ = gen ? *gen : -1;
    }
    if (policies_[kTls]) policies_[kTls]->BeforeStep(*this, kind, false);
    if (restart_.stop) {
      Record(StepOutcome::kSkipped,
             "not attempted: the device restarts now; the start-up run fetches it");
      continue;
    }
    if (kind == FileKind::kOneTimeImage && config_.Get("AutoUpdateCmpFile") != "1") {
      Record(StepOutcome::kSkipped,
             "AutoUpdateCmpFile = 0: one-time software images are not applied (S-1.2)");
      continue;
    }
    if (!IsSupportedScheme(plan->url)) {
      Record(StepOutcome::kFailed, UnsupportedSchemeError(plan->url).message);
      continue;
    }
    auto request = requests_.Build(*plan, config_, env_, step_.if_modified_since);
    if (kind == FileKind::kCliScript && request.condition) {
      // S-7.7: to be applied again but its content is not kept: fetched in full.
      auto pending =
          DeviceState(*env_.store, env_.device).ComposePending(std::string(InfoOf(kind).name));
      if (pending && *pending && !KeptContent(kind)) {
        request.condition.reset();
        step_.if_modified_since.clear();
      }
    }
    return Begin(std::move(request));
  }
  if (policies_[kTls]) policies_[kTls]->BeforeStep(*this, FileKind::kTlsKey, true);
  return std::nullopt;
}

Expected<void> DownloadSequence::CommitFor(const PlannedStep& plan, long long generation,
                                           const FetchResult& r,
                                           const std::function<Expected<void>()>& extra,
                                           bool clear_url) {
  bool kept = false;
  auto result = env_.store->Transaction([&]() -> Expected<void> {
    // The step's own changes first: a configuration file that changes URL parameters forgets their
    // validators (S-9.4), not the ones it was fetched with.
    if (extra)
      if (auto e = extra(); !e) return e;
    // S-12.3: the signing time and signature of the file accepted, with the file's own record.
    if (signature_ && current_ && plan.url == current_->url)
      if (auto e = signature_->KeepAccepted(*env_.store, env_.device, Now()); !e) return e;
    if (plan.mode == DownloadMode::kPeriodic) {
      UrlState s{r.validators.last_modified,
                 r.validators.etag,
                 Now(),
                 r.sha256,
                 std::string(InfoOf(plan.kind).name),
                 ""};
      if (auto e = env_.store->PutUrlState(env_.device, plan.url, s); !e) return e;
    } else if (auto s = env_.store->GetUrlState(env_.device, plan.url); s && s->has_value()) {
      // S-7.8: a one-time URL keeps a record only while its file is rejected.
      if (auto e = env_.store->DeleteUrlState(env_.device, plan.url); !e) return e;
    }
    if (!clear_url) return {};
    // S-1.1: a one-time file is fetched once; its URL parameter is cleared with the install,
    // atomically, unless it was written again since the fetch began (S-9.1): then the new setting
    // stands.
    std::string param(InfoOf(plan.kind).url_param);
    auto gen = env_.store->ParamGeneration(env_.device, param);
    if (!gen) return Unexpected(gen.error());
    if (*gen != generation) {
      kept = true;
      return {};
    }
    auto w = WriteConfiguration(*env_.store, env_.device, *env_.schema,
                                [&](Configuration& c, std::set<std::string>&) -> Expected<void> {
                                  if (const ParamSpec* spec = env_.schema->FindParam(param))
                                    c.Reset(*spec);
                                  return {};
                                });
    if (!w) return Unexpected(w.error());
    config_ = std::move(*w->after);
    return {};
  });
  if (result && kept)
    step_.details.push_back(std::string(InfoOf(plan.kind).url_param) +
                            " was set again during the run: kept, fetched again next run");
  return result;
}

Expected<void> DownloadSequence::InstallFile(const FetchResult& r,
                                             const std::filesystem::path& dest, mode_t mode) {
  if (!env_.keep_files) return {};
  if (ArrivesInMemory(current_->kind)) return WriteFileAtomically(dest, r.body, mode);
  std::error_code ec;
  std::filesystem::create_directories(dest.parent_path(), ec);
  if (::rename(Staging().c_str(), dest.c_str()) != 0)
    return Fail(ErrorCode::kIo, "cannot install " + dest.string() + ": " + std::strerror(errno));
  ::chmod(dest.c_str(), mode);
  return FsyncDirectory(dest.parent_path());
}

// S-10.6: the configuration file that DHCP option 160 named (or <Product><MAC>.ini) and the ones
// after it in the vendor's chain: a file not found moves on to the next; another failure is tried
// again, up to three attempts for each file, and never moves on (a server error is not a missing
// file). Only while IniFileURL is still what DHCP set.
bool DownloadSequence::TryIniFallback(const TransferError& e) {
  if (current_->kind != FileKind::kIni) return false;
  if (ini_chain_.empty()) {
    DeviceState device(*env_.store, env_.device);
    auto dhcp = device.DhcpValue("IniFileURL");
    if (!dhcp || !dhcp->has_value() || **dhcp != config_.Get("IniFileURL")) return false;
    auto rest = device.IniFallbacks();
    if (!rest || rest->empty()) return false;
    ini_chain_.push_back(**dhcp);
    ini_chain_.insert(ini_chain_.end(), rest->begin(), rest->end());
  }
  bool not_found = e.code == ErrorCode::kNotFound ||
                   (e.code == ErrorCode::kHttpStatus &&
                    (e.stats.http_status == 404 || e.stats.http_status == 410));
  PlaceholderValues values;
  values.mac = env_.identity.mac;
  if (not_found) {
    if (ini_link_ + 1 >= ini_chain_.size()) return false;
    ++ini_link_;
    ini_attempt_ = 1;
    step_.details.push_back(RedactUrl(current_->url) + " not found: trying " +
                            RedactUrl(ini_chain_[ini_link_]) + " (S-10.6)");
  } else {
    if (!IsRetryable(e) || ini_attempt_ >= 3) return false;
    ++ini_attempt_;
    step_.details.push_back(e.message + ": attempt " + std::to_string(ini_attempt_) + " of 3");
  }
  again_ = PlannedStep{FileKind::kIni, ExpandUrl(ini_chain_[ini_link_], values),
                       DownloadMode::kPeriodic, false};
  current_.reset();
  return true;
}

std::optional<Rejection> DownloadSequence::LastRejection() {
  auto state = env_.store->GetUrlState(env_.device, current_->url);
  if (!state || !state->has_value()) return std::nullopt;
  return DecodeRejection((*state)->rejected);
}

std::string RejectedSinceText(const Rejection& r) {
  return "rejected since " + IsoTime(r.since) + " (S-7.8)";
}

// S-7.8: the step's file was rejected. What it was rejected for is kept with the URL, apart from
// the applied content's validators, so that the next poll asks with the rejected file's validators
// and reports it again while the server serves it. The same content rejected again keeps its
// first time.
void DownloadSequence::KeepRejection(const FetchResult& r) {
  auto existing = env_.store->GetUrlState(env_.device, current_->url);
  if (!existing) return;  // the report says rejected; the next poll judges the file again
  UrlState state;
  if (existing->has_value()) state = **existing;
  state.kind = std::string(InfoOf(current_->kind).name);
  auto before = DecodeRejection(state.rejected);
  Rejection rejection{
      r.validators.last_modified, r.validators.etag, r.sha256, step_.error, step_.details, Now()};
  if (before && !r.sha256.empty() && before->sha256 == r.sha256) {
    rejection.since = before->since;
    step_.details.push_back(RejectedSinceText(rejection) + ": the same file as before");
  }
  state.rejected = EncodeRejection(rejection);
  if (auto put = env_.store->PutUrlState(env_.device, current_->url, state); !put)
    step_.details.push_back("cannot keep the rejection: " + put.error().message);
}

// S-10.5: a periodic file downloaded without a validator to ask with (TFTP, file:, FTP without a
// modification time, an HTTP server that sends neither Last-Modified nor ETag) whose content equals
// the last one applied from the same URL. The vendor's CRC check decides for configuration files
// when it is on; a URL's record (and so its hash) is forgotten when the URL changes.
bool DownloadSequence::SameContentAsLastApplied(const FetchResult& r) {
  if (current_->mode != DownloadMode::kPeriodic || r.sha256.empty()) return false;
  if (!r.validators.empty()) return false;
  if (IsConfigFile(current_->kind) && config_.GetInt("AUPDCheckIfIniChanged") != 0) return false;
  auto last = env_.store->GetUrlState(env_.device, current_->url);
  return last && last->has_value() && (*last)->sha256 == r.sha256;
}

void DownloadSequence::Complete(Fetched result) {
  if (!current_) return;
  if (awaiting_signature_) return CompleteSignature(std::move(result));
  FileKind kind = current_->kind;
  CompleteStep(std::move(result));
  if (kind == FileKind::kCliScript && !current_ && !again_) ComposeAfterReplace();
}

void DownloadSequence::CompleteStep(Fetched result) {
  if (!result && TryIniFallback(result.error())) return;
  if (!result) {
    // S-2.3: reported, nothing applied, a one-time URL stays; the next step goes on.
    const TransferStats& stats = result.error().stats;
    step_.http_status = stats.http_status;
    step_.seconds = stats.seconds;
    step_.bytes = stats.bytes;
    step_.retryable = IsRetryable(result.error());
    step_.retry_after_s = stats.retry_after_s;
    Record(StepOutcome::kFailed, result.error().message);
    return;
  }
  FetchResult& r = *result;
  step_.http_status = r.status;
  step_.bytes = r.bytes;
  step_.resumed_from = r.resumed_from;
  step_.seconds = r.seconds;
  if (r.final_url != step_.url && !r.final_url.empty())
    step_.details.push_back("redirected to " + r.final_url);
  if (r.outcome == FetchOutcome::kNotModified) {
    if (signature_) {
      auto v = signature_->JudgeUnchanged(*env_.store, env_.device, config_, Now(), ClockTrusted());
      for (auto& d : v.details) step_.details.push_back(std::move(d));
      if (!v.accepted) return Record(StepOutcome::kRejected, v.refusal);
    }
    // S-7.8: the request carried the validators of content rejected before: still rejected.
    if (auto rejected = LastRejection()) {
      step_.error = rejected->reason;
      step_.details = rejected->details;
      step_.details.push_back(RejectedSinceText(*rejected) +
                              ": the server still serves the same file (HTTP 304); a changed "
                              "file is fetched again");
      return Record(StepOutcome::kRejected);
    }
    return Record(StepOutcome::kNotModified);
  }
  if (r.status == 204) {
    // S-9.2: "No Content" is not an empty file.
    return Record(StepOutcome::kFailed,
                  "the server answered 204 No Content: not a file; nothing applied");
  }
  std::string staged = Staging();
  if (!bundle_step_) {
    // S-12.3: decrypted before anything else looks at it; the rest sees the plaintext.
    auto d = DecryptDownload(r, current_->kind, ArrivesInMemory(current_->kind),
                             env_.keep_files ? staged : std::string(), env_.hooks, env_.state_dir,
                             config_);
    if (d.refused) return Refuse(r, d.text);
    if (!d.text.empty()) step_.details.push_back(std::move(d.text));
  }
  step_.sha256 = r.sha256;
  if (bundle_step_ && env_.keep_files) {
    // The bundle already active (a kill after its switch, before its record): nothing to judge.
    auto active = ReadFile(env_.state_dir / kRotatedSignersLink, 1u << 20);
    if (active && *active == r.body) {
      if (auto c = CommitFor(*current_, 0, r, nullptr, false); !c)
        return Record(StepOutcome::kFailed, c.error().message);
      step_.details.push_back("already the active signers bundle (S-12.4)");
      return Record(StepOutcome::kUnchanged);
    }
  }
  if (signature_) {
    // S-12: judged (by the plaintext's SHA-256) before anything applies it.
    auto v = signature_->Judge(r, *env_.store, env_.device, config_, Now(), ClockTrusted());
    for (auto& d : v.details) step_.details.push_back(std::move(d));
    if (!v.accepted) return Refuse(r, v.refusal);
  }
  if (bundle_step_) return ApplyBundle(r);
  if (SameContentAsLastApplied(r)) {
    // S-10.5: no validator could say so, but the bytes are those last applied from this URL.
    step_.details.push_back(
        "same SHA-256 as the file last applied from this URL: nothing applied (S-10.5)");
    if (auto c = Commit(r, nullptr, false); !c)
      Record(StepOutcome::kFailed, c.error().message);
    else
      Record(StepOutcome::kUnchanged);
  } else {
    fetched_ = &r;
    PolicyFor(current_->kind).Apply(*this, r);
    fetched_ = nullptr;
  }
  std::error_code ec;
  if (env_.keep_files) std::filesystem::remove(staged, ec);
}

// S-12: a file refused before any apply saw it (its signature, its encryption): nothing changes,
// and the refusal is kept for the next polls (S-7.8).
void DownloadSequence::Refuse(const FetchResult& r, const std::string& reason) {
  if (signature_) signature_->KeepRefused(*env_.store, env_.device, Now());
  std::string staged = Staging();
  fetched_ = &r;
  Record(StepOutcome::kRejected, reason);
  fetched_ = nullptr;
  std::error_code ec;
  if (env_.keep_files) std::filesystem::remove(staged, ec);
}

void DownloadSequence::DecideRestart() {
  if (restart_.reload_if_needed && !restart_.param_changes.empty()) {
    restart_.at_end = true;
    std::string names;
    for (const auto& n : restart_.param_changes) names += (names.empty() ? "" : ", ") + n;
    report_.restart_reasons.push_back("'reload if-needed' and a change needs a restart: " + names);
  }
  if (report_.restart == RestartWhen::kNone && restart_.at_end)
    report_.restart = RestartWhen::kAtEnd;
  if (report_.restart != RestartWhen::kNone) {
    // S-9.8: the very files that caused the last restart cause no other (a server that ignores
    // If-Modified-Since and serves ResetNow = 1 would otherwise restart the device on every
    // start-up run).
    std::sort(restart_.causes.begin(), restart_.causes.end());
    std::string causes;
    for (const auto& c : restart_.causes) causes += (causes.empty() ? "" : ",") + c;
    DeviceState device(*env_.store, env_.device);
    auto last = device.LastRestartCause();
    if (last && last->has_value() && **last == causes) {
      report_.restart = RestartWhen::kNone;
      restart_.at_end = false;
      report_.restart_reasons = {
          "no restart: the same file content caused the last restart (S-9.8)"};
    } else {
      (void)device.SetLastRestartCause(causes);
    }
  }
  bool applied = std::any_of(report_.steps.begin(), report_.steps.end(), [](const StepReport& st) {
    return st.outcome == StepOutcome::kApplied;
  });
  if (options_.force_restart || (options_.restart_if_changed && applied)) {
    restart_.at_end = true;
    report_.restart_reasons.push_back("requested by the trigger (reboot=true)");
    if (report_.restart == RestartWhen::kNone) report_.restart = RestartWhen::kAtEnd;
  }
}

RunReport DownloadSequence::Finish() {
  while (Next()) Complete(Fail(ErrorCode::kCancelled, "not attempted: the run was stopped"));
  // S-10.4: a partial image whose URL is no longer configured is dropped (it could be a GiB).
  if (env_.keep_files)
    for (FileKind kind : {FileKind::kPeriodicImage, FileKind::kOneTimeImage})
      if (!PlanStep(kind, config_, env_.identity))
        ForgetResumable(env_.state_dir / "downloads" / std::string(InfoOf(kind).name));
  DecideRestart();
  report_.finished_at = Now();
  report_.running_version = env_.identity.sw_version;
  double random = options_.retry_random;
  if (random < 0) random = std::uniform_real_distribution<double>(0, 1)(RandomEngine());
  PlanRetry(report_, config_, *env_.store, env_.device, random);
  return std::move(report_);
}

}  // namespace autoprov
