#include "engine/rejection.hpp"

#include <nlohmann/json.hpp>

namespace autoprov {

std::string EncodeRejection(const Rejection& r) {
  nlohmann::json details = nlohmann::json::array();
  for (size_t i = 0; i < r.details.size() && i < Rejection::kKeptDetails; ++i)
    details.push_back(r.details[i]);
  return nlohmann::json{{"lm", r.last_modified}, {"etag", r.etag},     {"sha256", r.sha256},
                        {"reason", r.reason},    {"details", details}, {"since", r.since}}
      .dump();
}

std::optional<Rejection> DecodeRejection(const std::string& encoded) {
  if (encoded.empty()) return std::nullopt;
  auto j = nlohmann::json::parse(encoded, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Rejection r;
  try {
    r.last_modified = j.value("lm", "");
    r.etag = j.value("etag", "");
    r.sha256 = j.value("sha256", "");
    r.reason = j.value("reason", "");
    r.details = j.value("details", std::vector<std::string>{});
    r.since = j.value("since", 0LL);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (r.since <= 0) return std::nullopt;
  return r;
}

}  // namespace autoprov
