#include "transfer/url.hpp"

#include <curl/curl.h>

#include <memory>

#include "common/text.hpp"

namespace autoprov {
namespace {

std::string Sanitize(std::string_view v) {
  std::string out;
  for (char c : v)
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
  return out;
}

std::string ReplaceAll(std::string_view text, std::string_view token, std::string_view value) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t hit = text.find(token, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(value);
    pos = hit + token.size();
  }
  out.append(text.substr(pos));
  return out;
}

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

}  // namespace

std::string PercentEncode(std::string_view value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ExpandUserAgent(std::string_view templ, const PlaceholderValues& v) {
  std::string out = ReplaceAll(templ, "<NAME>", Sanitize(v.name));
  out = ReplaceAll(out, "<MAC>", Sanitize(v.mac));
  out = ReplaceAll(out, "<VER>", Sanitize(v.version));
  out = ReplaceAll(out, "<CONF>", Sanitize(v.conf));
  return Sanitize(out);
}

std::string ExpandUrl(std::string_view url, const PlaceholderValues& v, std::string_view file) {
  std::string out = ReplaceAll(url, "<MAC>", PercentEncode(v.mac));
  if (!file.empty()) out = ReplaceAll(out, "<FILE>", PercentEncode(file));
  return out;
}

Expected<ParsedUrl> ParseUrl(std::string_view url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  std::string s(url);
  auto scheme_end = s.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : ToLower(s.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https" && scheme != "ftp" && scheme != "ftps" && scheme != "tftp" &&
      scheme != "file")
    return Fail(ErrorCode::kRefusedScheme,
                "'" + RedactUrl(url) + "': scheme '" + scheme +
                    "' is not supported (use http, https, ftp, ftps, tftp or file)");
  if (curl_url_set(u.get(), CURLUPART_URL, s.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    return Fail(ErrorCode::kInvalidArgument, "'" + RedactUrl(url) + "' is not a valid URL");
  ParsedUrl p;
  p.scheme = scheme;
  p.host = ToLower(Part(u.get(), CURLUPART_HOST));
  p.port = Part(u.get(), CURLUPART_PORT);
  if (p.host.empty() && scheme != "file") return Fail(ErrorCode::kInvalidArgument, "'" + RedactUrl(url) + "' has no host");
  // Userinfo only when the authority has an '@': most URLs have none, and then the URL is passed on as given.
  size_t auth = scheme_end + 3;
  std::string_view authority = std::string_view(s).substr(auth, s.find_first_of("/?#", auth) - auth);
  if (authority.find('@') == std::string_view::npos) {
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

std::string RedactUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  size_t auth_start = scheme_end + 3;
  size_t path_start = url.find_first_of("/?#", auth_start);
  std::string_view authority = url.substr(auth_start, path_start == std::string_view::npos ? std::string_view::npos
                                                                                           : path_start - auth_start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, auth_start));
  out.append(authority.substr(at + 1));
  if (path_start != std::string_view::npos) out.append(url.substr(path_start));
  return out;
}

}  // namespace autoprov
