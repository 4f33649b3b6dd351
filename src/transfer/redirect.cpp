#include "transfer/redirect.hpp"

namespace autoprov {

RedirectStep DecideRedirect(const ParsedUrl& origin, const ParsedUrl& current,
                            const std::string& location, const std::optional<ParsedUrl>& target,
                            long status, int hop, int max_redirects) {
  RedirectStep step;
  if (location.empty()) {
    step.refused =
        MakeError(ErrorCode::kHttpStatus, "HTTP " + std::to_string(status) + " without a Location");
  } else if (hop > max_redirects) {
    step.refused = MakeError(ErrorCode::kHttpStatus,
                             "too many redirects (limit " + std::to_string(max_redirects) + ")");
  } else if (!target || (target->scheme != "http" && target->scheme != "https")) {
    step.refused = MakeError(ErrorCode::kRefusedScheme,
                             "redirect to '" + RedactUrl(location) +
                                 "' refused: only http and https targets are followed");
  } else if (current.scheme == "https" && target->scheme == "http") {
    step.refused = MakeError(
        ErrorCode::kRefusedScheme,
        "redirect from https to '" + target->url_without_credentials + "' refused (downgrade)");
  } else {
    // Credentials stay with the host they were given for.
    step.drop_credentials =
        target->host != origin.host || DefaultPort(*target) != DefaultPort(origin);
  }
  return step;
}

}  // namespace autoprov
