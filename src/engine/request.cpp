#include "engine/request.hpp"

#include <ctime>

#include "engine/apply.hpp"
#include "engine/rejection.hpp"
#include "engine/sequence.hpp"
#include "transfer/url.hpp"

namespace autoprov {
namespace {

constexpr uint64_t kConfigLimit = 64ull << 20;
constexpr uint64_t kSmallFileLimit = 1ull << 20;
constexpr uint64_t kImageLimit = 4ull << 30;
constexpr uint64_t kAuxLimit = 256ull << 20;

}  // namespace

void SetCredentials(FetchRequest& req, std::string_view user_password) {
  auto colon = user_password.find(':');
  req.username = std::string(user_password.substr(0, colon));
  req.password =
      colon == std::string_view::npos ? "" : std::string(user_password.substr(colon + 1));
}

void SetUpdateCredentials(FetchRequest& req, const Configuration& config) {
  const std::string& pair = config.Get("AUPDUserPassword");
  if (!pair.empty()) {
    SetCredentials(req, pair);
  } else if (!config.Get("AUPDDigestUsername").empty()) {
    req.username = config.Get("AUPDDigestUsername");
    req.password = config.Get("AUPDDigestPassword");
  }
}

FetchRequest RequestBuilder::Build(const PlannedStep& plan, const Configuration& config,
                                   const RunEnvironment& env, std::string& if_modified_since) {
  FileKind kind = plan.kind;
  FetchRequest req;
  req.url = plan.url;
  if (ArrivesInMemory(kind)) {
    req.sink = BodySink::kMemory;
    req.limits.max_bytes = IsConfigFile(kind) ? kConfigLimit : kSmallFileLimit;
    req.compute_crc32 = IsConfigFile(kind);
  } else {
    req.sink = env.keep_files ? BodySink::kFile : BodySink::kDiscard;
    if (env.keep_files)
      req.target = (env.state_dir / "downloads" / std::string(InfoOf(kind).name)).string();
    req.limits.max_bytes = IsImage(kind) ? kImageLimit : kAuxLimit;
    // S-10.4: an image cut short (network, time limit, kill) resumes where it stopped.
    req.resumable = IsImage(kind) && (env.keep_files || env.image_resume);
    if (req.resumable && !env.keep_files) req.resume_point = &env.image_resume();
  }
  if (plan.mode == DownloadMode::kPeriodic) {
    // S-3.1: the validators of this URL's last download; the download time when the server gave
    // none.
    auto state = env.store->GetUrlState(env.device, plan.url);
    if (state && state->has_value()) {
      Validators v{(*state)->last_modified, (*state)->etag};
      if (v.empty() && (*state)->downloaded_at > 0)
        v.last_modified = HttpDate((*state)->downloaded_at);
      // S-7.8: after a rejection, the rejected content's own validators: a 304 then means the
      // server still serves what was rejected. None given: the file is fetched and judged again.
      if (auto rejected = DecodeRejection((*state)->rejected)) v = rejected->validators();
      if (!v.empty()) req.condition = v;
      if_modified_since = v.last_modified;
    }
  }
  Common(req, config, env);
  SetUpdateCredentials(req, config);
  long long minutes = config.GetInt("AupdMaxTransferTime");
  req.limits.max_time_s = minutes > 0 ? minutes * 60 : 0;
  req.tftp_block_size = config.GetInt("AUPDTftpBlockSize");
  req.cancel = env.cancel;
  req.progress = env.progress;
  return req;
}

void RequestBuilder::Common(FetchRequest& req, const Configuration& config,
                            const RunEnvironment& env) {
  const std::string& ua_template = config.Get("AupdHttpUserAgent");
  const std::string& conf = config.Get("INIFileVersion");
  if (ua_.empty() || ua_template != ua_template_ || conf != ua_conf_) {
    ua_template_ = ua_template;
    ua_conf_ = conf;
    ua_ = ExpandUserAgent(ua_template, PlaceholderValues{env.identity.product, env.identity.mac,
                                                         env.identity.sw_version, conf});
  }
  req.user_agent = ua_;
  req.tls.verify = config.Get("AUPDVerifyCertificates") != "0";
  if (env.keep_files) {
    std::error_code ec;
    if (std::filesystem::exists(TrustBundlePath(env.state_dir), ec))
      req.tls.ca_file = TrustBundlePath(env.state_dir);
    auto cert = DeviceCertPath(env.state_dir);
    auto key = DeviceKeyPath(env.state_dir);
    if (std::filesystem::exists(cert, ec) && std::filesystem::exists(key, ec)) {
      req.tls.client_cert = cert.string();
      req.tls.client_key = key.string();
    }
  }
}

FetchRequest RequestBuilder::Upload(const std::string& url, std::string method, std::string body,
                                    const Configuration& config, const RunEnvironment& env) {
  FetchRequest req;
  req.url = url;
  req.method = std::move(method);
  req.upload_body = std::move(body);
  req.sink = BodySink::kMemory;
  Common(req, config, env);
  req.limits.connect_timeout_s = 10;
  req.limits.max_time_s = 30;
  req.limits.max_bytes = 64 << 10;  // the server's answer
  req.limits.max_redirects = 0;
  req.cancel = env.cancel;
  return req;
}

}  // namespace autoprov
