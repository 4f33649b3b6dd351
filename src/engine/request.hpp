// Building the request of one step (S-3): where the body goes and how large it may be, the
// conditional validators of the URL's last download, the User-Agent, credentials, TLS files and
// limits.
#pragma once

#include <string>
#include <string_view>

#include "engine/plan.hpp"
#include "transfer/http_time.hpp"  // HttpDate
#include "transfer/transfer.hpp"

namespace autoprov {

struct RunEnvironment;
class Configuration;

// "user:password" as a request's credentials.
void SetCredentials(FetchRequest& req, std::string_view user_password);
// The update credentials (S-3.5): AUPDUserPassword, else the Digest user name and password.
void SetUpdateCredentials(FetchRequest& req, const Configuration& config);

class RequestBuilder {
 public:
  // The request for `step` under `config`; `if_modified_since` receives the validator sent (for the
  // report).
  FetchRequest Build(const PlannedStep& step, const Configuration& config,
                     const RunEnvironment& env, std::string& if_modified_since);
  // An upload of `body` to `url` (S-10.3): the same User-Agent and TLS files as the downloads,
  // short limits, no credentials (the caller sets them).
  FetchRequest Upload(const std::string& url, std::string method, std::string body,
                      const Configuration& config, const RunEnvironment& env);

 private:
  // What every request of the device carries: the User-Agent and the TLS files.
  void Common(FetchRequest& req, const Configuration& config, const RunEnvironment& env);
  // The User-Agent of the last request and what it was expanded from: most runs send one for every
  // step.
  std::string ua_template_, ua_conf_, ua_;
};

}  // namespace autoprov
