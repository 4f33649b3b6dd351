#include "engine/sequence.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "common/log.hpp"
#include "common/text.hpp"
#include "config/cli_script.hpp"
#include "config/ini.hpp"
#include "engine/config_writer.hpp"
#include "engine/file_checks.hpp"
#include "store/atomic_file.hpp"
#include "transfer/url.hpp"

namespace autoprov {
namespace {

constexpr uint64_t kConfigLimit = 64ull << 20;
constexpr uint64_t kSmallFileLimit = 1ull << 20;
constexpr uint64_t kImageLimit = 4ull << 30;
constexpr uint64_t kAuxLimit = 256ull << 20;

std::string HttpDate(long long t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// The last path segment of a URL, made safe as a file name.
std::string FileNameOf(const std::string& url, const std::string& fallback) {
  std::string path = url;
  auto q = path.find_first_of("?#");
  if (q != std::string::npos) path.resize(q);
  auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string out;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') out.push_back(c);
  if (out.empty() || out[0] == '.') return fallback;
  return out;
}

// Small kinds arrive in memory; images and auxiliary files were streamed to their staging file.
bool ArrivesInMemory(FileKind kind) {
  return IsConfigFile(kind) || kind == FileKind::kLicenseKey || kind == FileKind::kTlsRoot ||
         kind == FileKind::kTlsCert || kind == FileKind::kTlsKey;
}

std::string TrustBundlePath(const std::filesystem::path& state_dir) { return (state_dir / "files/tls/trust.pem").string(); }

}  // namespace

struct DownloadSequence::StagedCert {
  std::string pem;
  size_t report_index = 0;
  FetchResult result;
  PlannedStep step;
  long long generation = 0;  // of TLSCertFileUrl when the certificate was fetched
};

std::string RunningVersion(StateStore& store, long long device, const std::string& identity_version) {
  auto v = store.GetValue(device, "running_version");
  if (v && v->has_value() && !(*v)->empty()) return **v;  // S-9.3: never empty
  return identity_version;
}

std::vector<PlanLine> DescribePlan(StateStore& store, long long device, const Configuration& config,
                                   const DeviceIdentity& identity) {
  std::vector<PlanLine> out;
  for (const auto& info : DownloadOrder()) {
    auto plan = PlanStep(info.kind, config, identity);
    if (!plan) continue;
    PlanLine line{std::string(info.name), RedactUrl(plan->url),
                  plan->mode == DownloadMode::kPeriodic ? "periodic" : "one-time", "", "", plan->from_template};
    if (plan->mode == DownloadMode::kPeriodic) {
      auto s = store.GetUrlState(device, plan->url);
      if (s && s->has_value())
        line.if_modified_since = (*s)->last_modified.empty() ? HttpDate((*s)->downloaded_at) : (*s)->last_modified;
    }
    if (info.kind == FileKind::kOneTimeImage && config.Get("AutoUpdateCmpFile") != "1")
      line.note = "skipped: AutoUpdateCmpFile = 0";
    if (!IsSupportedScheme(plan->url)) line.note = "unsupported scheme";
    out.push_back(std::move(line));
  }
  return out;
}

Expected<void> ActivatePendingImage(StateStore& store, long long device) {
  return store.Transaction([&]() -> Expected<void> {
    auto pending = store.GetValue(device, "pending_image_version");
    if (!pending) return Unexpected(pending.error());
    if (pending->has_value() && !(*pending)->empty()) {
      if (auto r = store.PutValue(device, "running_version", **pending); !r) return r;
      if (auto r = store.DeleteValue(device, "pending_image_version"); !r) return r;
    }
    return store.DeleteValue(device, "restart_pending");
  });
}

Expected<std::unique_ptr<DownloadSequence>> DownloadSequence::Start(RunEnvironment env, RunOptions options) {
  auto config = env.store->LoadConfiguration(env.device, *env.schema);
  if (!config) return Unexpected(config.error());
  env.identity.sw_version = RunningVersion(*env.store, env.device, env.identity.sw_version);
  if (env.keep_files) {
    std::error_code ec;
    std::filesystem::create_directories(env.state_dir / "downloads", ec);
    RemoveStaleTemporaries(env.state_dir / "downloads");
  }
  return std::unique_ptr<DownloadSequence>(new DownloadSequence(std::move(env), std::move(options), std::move(*config)));
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
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string DownloadSequence::Staging(FileKind kind) const {
  return (env_.state_dir / "downloads" / std::string(InfoOf(kind).name)).string();
}

void DownloadSequence::Record(StepOutcome outcome, std::string error) {
  step_.outcome = outcome;
  if (!error.empty()) step_.error = std::move(error);
  LogLevel level = outcome == StepOutcome::kFailed || outcome == StepOutcome::kRejected ? LogLevel::kWarning : LogLevel::kInfo;
  if (LogEnabled(level)) {
    std::string line = "step " + step_.kind + " " + step_.url + ": " + std::string(OutcomeName(outcome));
    if (!step_.error.empty()) line += ": " + step_.error;
    Log(level, line);
  }
  if (env_.on_step) env_.on_step(step_);
  report_.steps.push_back(std::move(step_));
  step_ = StepReport{};
  current_.reset();
}

std::optional<FetchRequest> DownloadSequence::Next() {
  const auto& order = DownloadOrder();
  while (next_index_ < order.size()) {
    FileKind kind = order[next_index_++].kind;
    // S-2.1, S-9.1: each step sees the configuration as stored when it is planned: what the steps before
    // it left, and what any other writer (`config set`, the shell) changed meanwhile.
    (void)env_.store->RefreshConfiguration(env_.device, *env_.schema, config_, config_stamp_);
    auto plan = PlanStep(kind, config_, env_.identity);
    if (!plan) continue;
    step_ = StepReport{};
    step_.kind = std::string(InfoOf(kind).name);
    step_.url = RedactUrl(plan->url);
    step_.mode = plan->mode == DownloadMode::kPeriodic ? "periodic" : "one-time";
    step_.from_template = plan->from_template;
    current_ = plan;
    plan_generation_ = 0;
    if (plan->mode == DownloadMode::kOneTime) {
      // S-9.1: the URL parameter's write counter as the fetch begins; it is cleared only if unchanged.
      auto gen = env_.store->ParamGeneration(env_.device, std::string(InfoOf(kind).url_param));
      plan_generation_ = gen ? *gen : -1;
    }
    if (kind == FileKind::kTlsKey && staged_cert_ && stop_) ResolveStagedCertificate();
    if (stop_) {
      Record(StepOutcome::kSkipped, "not attempted: the device restarts now; the start-up run fetches it");
      continue;
    }
    if (kind == FileKind::kOneTimeImage && config_.Get("AutoUpdateCmpFile") != "1") {
      Record(StepOutcome::kSkipped, "AutoUpdateCmpFile = 0: one-time software images are not applied (S-1.2)");
      continue;
    }
    if (!IsSupportedScheme(plan->url)) {
      Record(StepOutcome::kFailed, ParseUrl(plan->url).error().message);
      continue;
    }

    FetchRequest req;
    req.url = plan->url;
    bool small = kind == FileKind::kLicenseKey || kind == FileKind::kTlsRoot || kind == FileKind::kTlsCert ||
                 kind == FileKind::kTlsKey;
    if (IsConfigFile(kind) || small) {
      req.sink = BodySink::kMemory;
      req.limits.max_bytes = small ? kSmallFileLimit : kConfigLimit;
      req.compute_crc32 = IsConfigFile(kind);
    } else {
      req.sink = env_.keep_files ? BodySink::kFile : BodySink::kDiscard;
      if (env_.keep_files) req.target = Staging(kind);
      req.limits.max_bytes = IsImage(kind) ? kImageLimit : kAuxLimit;
    }
    if (plan->mode == DownloadMode::kPeriodic) {
      // S-3.1: the validators of this URL's last download; the download time when the server gave none.
      auto state = env_.store->GetUrlState(env_.device, plan->url);
      if (state && state->has_value()) {
        Validators v{(*state)->last_modified, (*state)->etag};
        if (v.empty() && (*state)->downloaded_at > 0) v.last_modified = HttpDate((*state)->downloaded_at);
        req.condition = v;
        step_.if_modified_since = v.last_modified;
      }
    }
    const std::string& ua_template = config_.Get("AupdHttpUserAgent");
    const std::string& conf = config_.Get("INIFileVersion");
    if (ua_.empty() || ua_template != ua_template_ || conf != ua_conf_) {
      ua_template_ = ua_template;
      ua_conf_ = conf;
      ua_ = ExpandUserAgent(ua_template, PlaceholderValues{env_.identity.product, env_.identity.mac,
                                                           env_.identity.sw_version, conf});
    }
    req.user_agent = ua_;
    const std::string& pair = config_.Get("AUPDUserPassword");
    if (!pair.empty()) {
      auto colon = pair.find(':');
      req.username = pair.substr(0, colon);
      req.password = colon == std::string::npos ? "" : pair.substr(colon + 1);
    } else if (!config_.Get("AUPDDigestUsername").empty()) {
      req.username = config_.Get("AUPDDigestUsername");
      req.password = config_.Get("AUPDDigestPassword");
    }
    req.tls.verify = config_.Get("AUPDVerifyCertificates") != "0";
    std::error_code ec;
    if (env_.keep_files && std::filesystem::exists(TrustBundlePath(env_.state_dir), ec))
      req.tls.ca_file = TrustBundlePath(env_.state_dir);
    if (env_.keep_files) {
      auto cert = env_.state_dir / "files/tls/device-cert.pem";
      auto key = env_.state_dir / "files/tls/device-key.pem";
      if (std::filesystem::exists(cert, ec) && std::filesystem::exists(key, ec)) {
        req.tls.client_cert = cert.string();
        req.tls.client_key = key.string();
      }
    }
    long long minutes = config_.GetInt("AupdMaxTransferTime");
    req.limits.max_time_s = minutes > 0 ? minutes * 60 : 0;
    req.tftp_block_size = config_.GetInt("AUPDTftpBlockSize");
    req.cancel = env_.cancel;
    req.progress = env_.progress;
    return req;
  }
  if (staged_cert_) ResolveStagedCertificate();
  return std::nullopt;
}

Expected<void> DownloadSequence::CommitStep(const FetchResult& r, const std::function<Expected<void>()>& extra,
                                            bool clear_url) {
  return CommitFor(*current_, plan_generation_, r, extra, clear_url);
}

Expected<void> DownloadSequence::CommitFor(const PlannedStep& plan, long long generation, const FetchResult& r,
                                           const std::function<Expected<void>()>& extra, bool clear_url) {
  bool kept = false;
  auto result = env_.store->Transaction([&]() -> Expected<void> {
    // The step's own changes first: a configuration file that changes URL parameters forgets their
    // validators (S-9.4), not the ones it was fetched with.
    if (extra)
      if (auto e = extra(); !e) return e;
    if (plan.mode == DownloadMode::kPeriodic) {
      UrlState s{r.validators.last_modified, r.validators.etag, Now(), r.sha256, std::string(InfoOf(plan.kind).name)};
      if (auto e = env_.store->PutUrlState(env_.device, plan.url, s); !e) return e;
    }
    if (!clear_url) return {};
    // S-1.1: a one-time file is fetched once; its URL parameter is cleared with the install, atomically,
    // unless it was written again since the fetch began (S-9.1): then the new setting stands.
    std::string param(InfoOf(plan.kind).url_param);
    auto gen = env_.store->ParamGeneration(env_.device, param);
    if (!gen) return Unexpected(gen.error());
    if (*gen != generation) {
      kept = true;
      return {};
    }
    auto w = WriteConfiguration(*env_.store, env_.device, *env_.schema,
                                [&](Configuration& c, std::set<std::string>&) -> Expected<void> {
                                  if (const ParamSpec* spec = env_.schema->FindParam(param)) c.Reset(*spec);
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

Expected<void> DownloadSequence::InstallFile(const FetchResult& r, const std::filesystem::path& dest, mode_t mode) {
  if (!env_.keep_files) return {};
  if (ArrivesInMemory(current_->kind)) return WriteFileAtomically(dest, r.body, mode);
  std::error_code ec;
  std::filesystem::create_directories(dest.parent_path(), ec);
  if (::rename(Staging(current_->kind).c_str(), dest.c_str()) != 0)
    return Fail(ErrorCode::kIo, "cannot install " + dest.string() + ": " + std::strerror(errno));
  ::chmod(dest.c_str(), mode);
  return FsyncDirectory(dest.parent_path());
}

void DownloadSequence::Complete(Expected<FetchResult> result) {
  if (!current_) return;
  if (!result) {
    // S-2.3: reported, nothing applied, a one-time URL stays; the next step goes on.
    step_.http_status = result.error().http_status;
    Record(StepOutcome::kFailed, result.error().message);
    return;
  }
  const FetchResult& r = *result;
  step_.http_status = r.status;
  step_.bytes = r.bytes;
  step_.seconds = r.seconds;
  if (r.final_url != step_.url && !r.final_url.empty()) step_.details.push_back("redirected to " + r.final_url);
  if (r.outcome == FetchOutcome::kNotModified) {
    Record(StepOutcome::kNotModified);
    return;
  }
  if (r.status == 204) {
    // S-9.2: "No Content" is not an empty file.
    Record(StepOutcome::kFailed, "the server answered 204 No Content: not a file; nothing applied");
    return;
  }
  step_.sha256 = r.sha256;
  FileKind kind = current_->kind;
  if (IsConfigFile(kind)) HandleConfigFile(r);
  else if (IsImage(kind)) HandleImage(r);
  else if (kind == FileKind::kLicenseKey) HandleLicense(r);
  else if (kind == FileKind::kTlsRoot || kind == FileKind::kTlsCert || kind == FileKind::kTlsKey) HandleTls(r);
  else HandleAuxFile(r);
  std::error_code ec;
  if (env_.keep_files) std::filesystem::remove(Staging(kind), ec);
}

void DownloadSequence::HandleConfigFile(const FetchResult& r) {
  FileKind kind = current_->kind;
  std::string kind_name(InfoOf(kind).name);
  std::string crc = ConfigCrc(r.body, config_.GetInt("AUPDCheckIfIniChanged"));
  if (!crc.empty()) {
    auto last = env_.store->GetKindState(env_.device, kind_name);
    if (last && last->has_value() && (*last)->crc == crc) {
      // S-4: same content as the last applied file: discarded, no restart.
      if (auto c = CommitStep(r, nullptr, false); !c) return Record(StepOutcome::kFailed, c.error().message);
      return Record(StepOutcome::kUnchangedCrc);
    }
  }
  std::string origin = step_.url;
  std::vector<Diagnostic> errors, warnings;
  bool reset_now = false, empty = false;
  RestartRequest reload = RestartRequest::kNone;
  ConfigWrite write;
  // S-9.1: the file is applied to the configuration as stored now, in the step's one transaction.
  auto apply = [&](Configuration& c, std::set<std::string>&) -> Expected<void> {
    const Configuration loaded_from = c;
    if (kind == FileKind::kIni) {
      auto loaded = LoadIni(r.body, origin, c);
      errors = std::move(loaded.errors);
      warnings = std::move(loaded.warnings);
      reset_now = loaded.reset_now;
      empty = loaded.empty;
      if (errors.empty()) c = std::move(loaded.config);
    } else {
      auto loaded = LoadCliScript(r.body, origin, c,
                                  kind == FileKind::kStartupScript ? CliScriptKind::kStartup : CliScriptKind::kIncremental);
      errors = std::move(loaded.errors);
      warnings = std::move(loaded.warnings);
      reload = loaded.restart;
      empty = loaded.empty;
      if (errors.empty()) c = std::move(loaded.config);
    }
    if (errors.empty()) {
      // S-9.10: a downloaded file may not point the device at a local file; only local commands may.
      for (const auto& p : env_.schema->params()) {
        if (p.value.type != ValueType::kUrl || loaded_from.Get(p.name) == c.Get(p.name)) continue;
        if (IStartsWith(c.Get(p.name), "file:"))
          errors.push_back({origin, 0, p.name + ": a downloaded file may not set a file: URL (S-9.10); "
                                       "only local commands may"});
      }
    }
    if (!errors.empty()) return Fail(ErrorCode::kParse, "rejected");
    return {};
  };
  auto committed = CommitStep(r, [&]() -> Expected<void> {
    auto w = WriteConfiguration(*env_.store, env_.device, *env_.schema, apply);
    if (!w) return Unexpected(w.error());
    write = std::move(*w);
    // Kept in the mode the next run compares with: the file itself may have changed it.
    std::string stored_crc = ConfigCrc(r.body, write.after->GetInt("AUPDCheckIfIniChanged"));
    return env_.store->PutKindState(env_.device, kind_name, KindState{stored_crc, r.sha256, "", "", Now()});
  }, false);
  for (const auto& w : warnings) step_.details.push_back("warning: " + w.ToString());
  if (!errors.empty()) {
    // S-7.5: not applied at all; the validators are kept, as the vendor keeps the download time.
    for (const auto& e : errors) step_.details.push_back("error: " + e.ToString());
    (void)CommitStep(r, nullptr, false);
    return Record(StepOutcome::kRejected, errors.size() == 1 && errors[0].line == 0
                                              ? errors[0].message
                                              : std::to_string(errors.size()) + " error(s); the configuration is unchanged");
  }
  if (!committed) return Record(StepOutcome::kFailed, committed.error().message);
  config_ = std::move(*write.after);
  if (empty && reload == RestartRequest::kNone && !reset_now) {
    // S-9.2: an incremental file with no setting applies nothing; not a failure.
    return Record(StepOutcome::kEmpty, "the file holds no setting; nothing applied");
  }
  auto changes = config_.RestartChangesFrom(*write.before);
  restart_param_changes_.insert(restart_param_changes_.end(), changes.begin(), changes.end());
  if (reset_now || reload != RestartRequest::kNone || kind == FileKind::kStartupScript || !changes.empty())
    restart_causes_.push_back(kind_name + ":" + r.sha256);
  if (reset_now) {
    stop_ = true;
    report_.restart = RestartWhen::kImmediate;
    report_.restart_reasons.push_back("ResetNow = 1 in the ini file");
  }
  if (reload == RestartRequest::kNow) {
    stop_ = true;
    report_.restart = RestartWhen::kImmediate;
    report_.restart_reasons.push_back("'reload now' in the CLI script");
  } else if (reload == RestartRequest::kIfNeeded) {
    reload_if_needed_ = true;
  }
  if (kind == FileKind::kStartupScript) {
    restart_at_end_ = true;
    report_.restart_reasons.push_back("CLI startup script applied");
  }
  Record(StepOutcome::kApplied);
}

void DownloadSequence::HandleImage(const FetchResult& r) {
  // S-9.3: a configured VersionCommand is authoritative; else the configured URL's file name, else the
  // final URL's. No version, no install.
  std::string version;
  std::string staged = Staging(current_->kind);
  if (!env_.hooks.version_command.empty() && env_.keep_files) {
    auto out = RunCommand(env_.hooks.version_command, {staged}, 60);
    std::string printed = out ? std::string(Trim(out->output.substr(0, out->output.find('\n')))) : "";
    if (!out || out->exit_code != 0 || printed.empty()) {
      (void)CommitStep(r, nullptr, false);
      return Record(StepOutcome::kRejected,
                    "image version unknown: the VersionCommand " +
                        (!out ? out.error().message
                              : out->exit_code != 0 ? "exited with " + std::to_string(out->exit_code)
                                                    : std::string("printed no version")) +
                        "; not installed");
    }
    version = printed;
  } else {
    version = VersionFromFileName(current_->url);
    if (version.empty() && !r.final_url.empty()) version = VersionFromFileName(r.final_url);
  }
  if (version.empty()) {
    (void)CommitStep(r, nullptr, false);
    return Record(StepOutcome::kRejected,
                  "image version unknown: neither the configured URL nor the final URL names a version "
                  "(e.g. Mediant_7.20A.252.011.cmp) and no VersionCommand is configured; not installed");
  }
  step_.version = version;
  // Compared with the pending image if one waits for a restart, else with the running one.
  std::string against_version = env_.identity.sw_version;
  std::string against_sha;
  if (auto p = env_.store->GetValue(env_.device, "pending_image_version"); p && p->has_value()) against_version = **p;
  if (auto k = env_.store->GetKindState(env_.device, "image"); k && k->has_value()) against_sha = (*k)->sha256;
  int cmp = against_version.empty() ? 1 : CompareVersions(version, against_version);
  bool one_time = current_->mode == DownloadMode::kOneTime;
  if (cmp < 0 || (cmp == 0 && r.sha256 == against_sha) || (cmp == 0 && against_sha.empty() && !version.empty())) {
    // S-1.3: not later (or the very same image): discarded without a restart. A one-time URL is done.
    if (auto c = CommitStep(r, nullptr, one_time); !c) return Record(StepOutcome::kFailed, c.error().message);
    step_.details.push_back("running " + env_.identity.sw_version);
    return Record(cmp < 0 ? StepOutcome::kOlderImage : StepOutcome::kUnchanged);
  }
  std::filesystem::path installed;
  if (!env_.hooks.install_command.empty() && env_.keep_files) {
    auto out = RunCommand(env_.hooks.install_command, {staged, version});
    if (!out) return Record(StepOutcome::kFailed, "installer: " + out.error().message);
    if (out->exit_code != 0)
      return Record(StepOutcome::kFailed, "installer exited with " + std::to_string(out->exit_code) + ": " +
                                              std::string(Trim(out->output)).substr(0, 300));
  } else {
    installed = env_.state_dir / "images" / "pending.cmp";
    if (auto i = InstallFile(r, installed, 0644); !i) return Record(StepOutcome::kFailed, i.error().message);
  }
  auto c = CommitStep(r, [&]() -> Expected<void> {
    if (auto e = env_.store->PutKindState(env_.device, "image", KindState{"", r.sha256, version, installed.string(), Now()}); !e)
      return e;
    return env_.store->PutValue(env_.device, "pending_image_version", version);
  }, one_time);
  if (!c) return Record(StepOutcome::kFailed, c.error().message);
  restart_at_end_ = true;
  restart_causes_.push_back("image:" + r.sha256);
  report_.restart_reasons.push_back("software image " + version + " installed");
  Record(StepOutcome::kApplied);
}

void DownloadSequence::HandleLicense(const FetchResult& r) {
  auto serials = LicenseSerials(r.body);
  if (serials.empty()) return Record(StepOutcome::kRejected, "no 'S/N<serial>' in the License Key file");
  if (env_.identity.serial.empty())
    return Record(StepOutcome::kRejected,
                  "the device's serial number is unknown (SerialNumber in identity.ini or --serial)");
  if (std::find(serials.begin(), serials.end(), env_.identity.serial) == serials.end())
    return Record(StepOutcome::kRejected, "License Key is for S/N " + serials.front() + ", this device is S/N " +
                                              env_.identity.serial + "; not installed");
  auto installed = env_.store->GetKindState(env_.device, "feature-key");
  if (installed && installed->has_value() && (*installed)->sha256 == r.sha256) {
    if (auto c = CommitStep(r, nullptr, current_->mode == DownloadMode::kOneTime); !c)
      return Record(StepOutcome::kFailed, c.error().message);
    return Record(StepOutcome::kUnchanged);
  }
  HandleAuxFile(r);
}

void DownloadSequence::HandleTls(const FetchResult& r) {
  FileKind kind = current_->kind;
  auto tls = env_.state_dir / "files/tls";
  bool one_time = current_->mode == DownloadMode::kOneTime;
  if (kind == FileKind::kTlsRoot || kind == FileKind::kTlsCert) {
    auto n = CountPemCertificates(r.body);
    if (!n) return Record(StepOutcome::kRejected, n.error().message);
  }
  if (kind == FileKind::kTlsRoot) {
    // S-1.5 (ours): the new root is a trust anchor for later HTTPS downloads, besides the system store.
    std::string bundle;
    for (const char* sys : {"/etc/ssl/certs/ca-certificates.crt"}) {
      auto s = ReadFile(sys);
      if (s) bundle += *s + "\n";
    }
    bundle += r.body;
    if (env_.keep_files) {
      if (auto w = WriteFileAtomically(tls / "root.pem", r.body); !w) return Record(StepOutcome::kFailed, w.error().message);
      if (auto w = WriteFileAtomically(TrustBundlePath(env_.state_dir), bundle); !w)
        return Record(StepOutcome::kFailed, w.error().message);
    }
    auto c = CommitStep(r, [&] {
      return env_.store->PutKindState(env_.device, "tls-root-cert", KindState{"", r.sha256, "", (tls / "root.pem").string(), Now()});
    }, one_time);
    if (!c) return Record(StepOutcome::kFailed, c.error().message);
    return Record(StepOutcome::kApplied);
  }
  if (kind == FileKind::kTlsCert) {
    // When a private key follows in this run, the pair is checked and installed together at the key step.
    if (PlanStep(FileKind::kTlsKey, config_, env_.identity)) {
      staged_cert_ = std::make_unique<StagedCert>(StagedCert{r.body, report_.steps.size(), r, *current_, plan_generation_});
      step_.details.push_back("checked against the private key of this run");
      Record(StepOutcome::kApplied);  // finalised by ResolveStagedCertificate
      return;
    }
    auto key = ReadFile(tls / "device-key.pem");
    if (key) {
      auto match = KeyMatchesCertificate(r.body, *key);
      if (!match || !*match)
        return Record(StepOutcome::kRejected, "the certificate does not match the installed private key");
    }
    if (auto i = InstallTlsPair(&r.body, nullptr); !i) return Record(StepOutcome::kFailed, i.error().message);
    auto c = CommitStep(r, [&] {
      return env_.store->PutKindState(env_.device, "tls-cert", KindState{"", r.sha256, "", (tls / "device-cert.pem").string(), Now()});
    }, one_time);
    if (!c) return Record(StepOutcome::kFailed, c.error().message);
    return Record(StepOutcome::kApplied);
  }
  // Private key.
  if (auto k = CheckPemPrivateKey(r.body); !k) {
    Record(StepOutcome::kRejected, k.error().message);
    if (staged_cert_) ResolveStagedCertificate();
    return;
  }
  std::string cert_pem;
  if (staged_cert_) cert_pem = staged_cert_->pem;
  else if (auto c = ReadFile(tls / "device-cert.pem"); c) cert_pem = *c;
  if (!cert_pem.empty()) {
    auto match = KeyMatchesCertificate(cert_pem, r.body);
    if (!match || !*match) {
      Record(StepOutcome::kRejected, std::string("the private key does not match the ") +
                                         (staged_cert_ ? "certificate of this run" : "installed certificate"));
      if (staged_cert_) ResolveStagedCertificate();
      return;
    }
  }
  std::unique_ptr<StagedCert> cert = std::move(staged_cert_);
  // S-9.7: certificate and key switch together, in one rename.
  if (auto i = InstallTlsPair(cert ? &cert->pem : nullptr, &r.body); !i)
    return Record(StepOutcome::kFailed, i.error().message);
  auto c = CommitStep(r, [&]() -> Expected<void> {
    if (cert) {
      // The certificate's URL is cleared with the pair.
      auto e = CommitFor(cert->step, cert->generation, cert->result, [&] {
        return env_.store->PutKindState(env_.device, "tls-cert",
                                        KindState{"", cert->result.sha256, "", (tls / "device-cert.pem").string(), Now()});
      }, cert->step.mode == DownloadMode::kOneTime);
      if (!e) return e;
    }
    return env_.store->PutKindState(env_.device, "tls-private-key", KindState{"", r.sha256, "", (tls / "device-key.pem").string(), Now()});
  }, one_time);
  if (!c) return Record(StepOutcome::kFailed, c.error().message);
  Record(StepOutcome::kApplied);
}

Expected<void> DownloadSequence::InstallTlsPair(const std::string* cert_pem, const std::string* key_pem) {
  if (!env_.keep_files) return {};
  std::vector<SetFile> files;
  if (cert_pem) files.push_back({"cert.pem", "device-cert.pem", *cert_pem, 0644});
  if (key_pem) files.push_back({"key.pem", "device-key.pem", *key_pem, 0600});
  return SwitchFileSet(env_.state_dir / "files/tls", "pair", files);
}

void DownloadSequence::ResolveStagedCertificate() {
  if (!staged_cert_) return;
  // The key of this run did not come: install the certificate alone only if it matches the installed key.
  std::unique_ptr<StagedCert> cert = std::move(staged_cert_);
  auto tls = env_.state_dir / "files/tls";
  StepReport& rep = report_.steps[cert->report_index];
  auto key = ReadFile(tls / "device-key.pem");
  bool ok = !key;  // no key installed: nothing to mismatch
  if (key) {
    auto match = KeyMatchesCertificate(cert->pem, *key);
    ok = match && *match;
  }
  if (!ok) {
    rep.outcome = StepOutcome::kRejected;
    rep.error = "the certificate does not match the installed private key and no new key was installed";
    return;
  }
  bool done = InstallTlsPair(&cert->pem, nullptr).has_value();
  if (done) {
    done = CommitFor(cert->step, cert->generation, cert->result, [&] {
      return env_.store->PutKindState(env_.device, "tls-cert",
                                      KindState{"", cert->result.sha256, "", (tls / "device-cert.pem").string(), Now()});
    }, cert->step.mode == DownloadMode::kOneTime).has_value();
  }
  if (!done) {
    rep.outcome = StepOutcome::kFailed;
    rep.error = "could not install the certificate";
  }
}

void DownloadSequence::HandleAuxFile(const FetchResult& r) {
  std::string kind_name(InfoOf(current_->kind).name);
  std::string keyword(InfoOf(current_->kind).keyword);
  auto dest = env_.state_dir / "files" / kind_name / FileNameOf(r.final_url.empty() ? current_->url : r.final_url, kind_name);
  if (current_->kind == FileKind::kLicenseKey) dest = env_.state_dir / "files" / kind_name / "license.key";
  auto hook = env_.hooks.apply_commands.find(keyword);
  if (hook == env_.hooks.apply_commands.end()) hook = env_.hooks.apply_commands.find(kind_name);
  if (hook != env_.hooks.apply_commands.end() && env_.keep_files) {
    // The hook sees the new file before it is installed; a failing hook installs nothing.
    std::filesystem::path input = Staging(current_->kind);
    if (ArrivesInMemory(current_->kind))
      if (auto w = WriteFileAtomically(input, r.body); !w) return Record(StepOutcome::kFailed, w.error().message);
    auto out = RunCommand(hook->second, {input.string()}, 300);
    if (!out) return Record(StepOutcome::kFailed, "apply hook: " + out.error().message);
    if (out->exit_code != 0)
      return Record(StepOutcome::kFailed, "apply hook exited with " + std::to_string(out->exit_code) + ": " +
                                              std::string(Trim(out->output)).substr(0, 300));
  }
  if (auto i = InstallFile(r, dest, 0644); !i) return Record(StepOutcome::kFailed, i.error().message);
  auto c = CommitStep(r, [&] {
    return env_.store->PutKindState(env_.device, kind_name, KindState{"", r.sha256, "", dest.string(), Now()});
  }, current_->mode == DownloadMode::kOneTime);
  if (!c) return Record(StepOutcome::kFailed, c.error().message);
  Record(StepOutcome::kApplied);
}

RunReport DownloadSequence::Finish() {
  while (Next()) Complete(Fail(ErrorCode::kCancelled, "not attempted: the run was stopped"));
  if (reload_if_needed_ && !restart_param_changes_.empty()) {
    restart_at_end_ = true;
    std::string names;
    for (const auto& n : restart_param_changes_) names += (names.empty() ? "" : ", ") + n;
    report_.restart_reasons.push_back("'reload if-needed' and a change needs a restart: " + names);
  }
  if (report_.restart == RestartWhen::kNone && restart_at_end_) report_.restart = RestartWhen::kAtEnd;
  if (report_.restart != RestartWhen::kNone) {
    // S-9.8: the very files that caused the last restart cause no other (a server that ignores
    // If-Modified-Since and serves ResetNow = 1 would otherwise restart the device on every start-up run).
    std::sort(restart_causes_.begin(), restart_causes_.end());
    std::string causes;
    for (const auto& c : restart_causes_) causes += (causes.empty() ? "" : ",") + c;
    auto last = env_.store->GetValue(env_.device, "last_restart_cause");
    if (last && last->has_value() && **last == causes) {
      report_.restart = RestartWhen::kNone;
      restart_at_end_ = false;
      report_.restart_reasons = {"no restart: the same file content caused the last restart (S-9.8)"};
    } else {
      (void)env_.store->PutValue(env_.device, "last_restart_cause", causes);
    }
  }
  bool applied = std::any_of(report_.steps.begin(), report_.steps.end(),
                             [](const StepReport& st) { return st.outcome == StepOutcome::kApplied; });
  if (options_.force_restart || (options_.restart_if_changed && applied)) {
    restart_at_end_ = true;
    report_.restart_reasons.push_back("requested by the trigger (reboot=true)");
    if (report_.restart == RestartWhen::kNone) report_.restart = RestartWhen::kAtEnd;
  }
  report_.finished_at = Now();
  report_.running_version = env_.identity.sw_version;
  return std::move(report_);
}

}  // namespace autoprov
