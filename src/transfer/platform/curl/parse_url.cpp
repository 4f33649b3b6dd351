// ParseUrl with libcurl's URL parser for what the simple splitter does not take.
#include <curl/curl.h>

#include <array>
#include <memory>

#include "common/redact.hpp"
#include "common/text.hpp"
#include "transfer/fetcher.hpp"
#include "transfer/url.hpp"

namespace autoprov {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string Part(CURLU* u, CURLUPart part) {
  char* v = nullptr;
  if (curl_url_get(u, part, &v, CURLU_URLDECODE) != CURLUE_OK || !v) return "";
  std::string out(v);
  curl_free(v);
  return out;
}

bool AllowedInUrl(unsigned char c) {
  static const auto kTable = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = std::isalnum(c) != 0;
    for (char c : std::string_view("-._~:/?#[]@!$&'()*+,;=%"))
      t[static_cast<unsigned char>(c)] = true;
    return t;
  }();
  return kTable[c];
}

// The common case without libcurl's parser: scheme://host[:port][/...?#...] with nothing but RFC
// 3986 characters, and no userinfo, IPv6 literal or escape in the authority. Fills host and port of
// `p`; false: anything else, and the full parse decides.
bool SplitSimple(std::string_view s, size_t scheme_end, ParsedUrl& p) {
  for (char c : s)
    if (!AllowedInUrl(static_cast<unsigned char>(c))) return false;
  size_t auth = scheme_end + 3;
  size_t end = s.find_first_of("/?#", auth);
  std::string_view authority =
      s.substr(auth, end == std::string_view::npos ? std::string_view::npos : end - auth);
  if (authority.find_first_of("@[%") != std::string_view::npos) return false;
  size_t colon = authority.find(':');
  std::string_view host = authority.substr(0, colon);
  if (host.empty()) return false;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
      return false;
  if (colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    long value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return false;
    p.port = std::string(port);
  }
  p.host = ToLower(host);
  return true;
}

}  // namespace

Expected<ParsedUrl> ParseUrl(std::string_view url) {
  std::string s(url);
  auto scheme_end = s.find("://");
  std::string scheme = SchemeOf(s);
  if (!IsSupportedScheme(s)) return Unexpected(UnsupportedSchemeError(url));
  if (auto problem = UserinfoProblem(s); !problem.empty())
    return Fail(ErrorCode::kInvalidArgument,
                "'" + RedactUrl(url) + "': " + problem + "; percent-encode it");
  if (scheme != "file") {
    ParsedUrl simple;
    if (SplitSimple(s, scheme_end, simple)) {
      simple.scheme = std::move(scheme);
      simple.url_without_credentials = std::move(s);  // passed on as given
      return simple;
    }
  }
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (curl_url_set(u.get(), CURLUPART_URL, s.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    return Fail(ErrorCode::kInvalidArgument, "'" + RedactUrl(url) + "' is not a valid URL");
  ParsedUrl p;
  p.scheme = scheme;
  p.host = ToLower(Part(u.get(), CURLUPART_HOST));
  p.port = Part(u.get(), CURLUPART_PORT);
  if (p.host.empty() && scheme != "file")
    return Fail(ErrorCode::kInvalidArgument, "'" + RedactUrl(url) + "' has no host");
  // Userinfo only when the authority has an '@': most URLs have none, and then the URL is passed on
  // as given.
  if (SplitAuthority(s).userinfo_end == std::string::npos) {
    p.url_without_credentials = std::move(s);
    return p;
  }
  p.user = Part(u.get(), CURLUPART_USER);
  p.password = Part(u.get(), CURLUPART_PASSWORD);
  curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  char* clean = nullptr;
  if (curl_url_get(u.get(), CURLUPART_URL, &clean, 0) != CURLUE_OK || !clean)
    return Fail(ErrorCode::kInvalidArgument, "'" + RedactUrl(url) + "' is not a valid URL");
  p.url_without_credentials = clean;
  curl_free(clean);
  return p;
}

}  // namespace autoprov
