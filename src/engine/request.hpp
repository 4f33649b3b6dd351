// Building the request of one step (S-3): where the body goes and how large it may be, the
// conditional validators of the URL's last download, the User-Agent, credentials, TLS files and
// limits.
#pragma once

#include <string>

#include "engine/plan.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

struct RunEnvironment;
class Configuration;

// An HTTP date (RFC 9110 IMF-fixdate) of a unix time.
std::string HttpDate(long long unix_time);

class RequestBuilder {
 public:
  // The request for `step` under `config`; `if_modified_since` receives the validator sent (for the
  // report).
  FetchRequest Build(const PlannedStep& step, const Configuration& config,
                     const RunEnvironment& env, std::string& if_modified_since);

 private:
  // The User-Agent of the last request and what it was expanded from: most runs send one for every
  // step.
  std::string ua_template_, ua_conf_, ua_;
};

}  // namespace autoprov
