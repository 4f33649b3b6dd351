#include "transfer/url.hpp"

#include <array>
#include <memory>

#include "common/text.hpp"

namespace autoprov {
namespace {

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
  // One pass: a value that itself reads "<MAC>" stays as it is; control characters never get
  // through.
  std::string out;
  out.reserve(templ.size() + v.name.size() + v.mac.size() + v.version.size() + v.conf.size());
  auto append = [&out](std::string_view text) {
    for (char c : text)
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
  };
  const std::pair<std::string_view, std::string_view> tokens[] = {
      {"<NAME>", v.name}, {"<MAC>", v.mac}, {"<VER>", v.version}, {"<CONF>", v.conf}};
  for (size_t i = 0; i < templ.size();) {
    bool replaced = false;
    if (templ[i] == '<') {
      for (const auto& [token, value] : tokens) {
        if (templ.substr(i, token.size()) == token) {
          append(value);
          i += token.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) append(templ.substr(i++, 1));
  }
  return out;
}

std::string ExpandUrl(std::string_view url, const PlaceholderValues& v, std::string_view file) {
  std::string out = ReplaceAll(url, "<MAC>", PercentEncode(v.mac));
  if (!file.empty()) out = ReplaceAll(out, "<FILE>", PercentEncode(file));
  return out;
}

std::string ExpandReportUrl(std::string_view url, const PlaceholderValues& v) {
  std::string out = ReplaceAll(url, "<MAC>", PercentEncode(v.mac));
  out = ReplaceAll(out, "<NAME>", PercentEncode(v.name));
  out = ReplaceAll(out, "<VER>", PercentEncode(v.version));
  return ReplaceAll(out, "<CONF>", PercentEncode(v.conf));
}

const std::vector<std::string_view>& SupportedSchemes() {
  static const std::vector<std::string_view> kSchemes = {"http", "https", "ftp",
                                                         "ftps", "tftp",  "file"};
  return kSchemes;
}

std::string SchemeOf(std::string_view url) {
  auto end = url.find("://");
  return end == std::string_view::npos ? "" : ToLower(url.substr(0, end));
}

bool IsSupportedScheme(std::string_view url) {
  std::string scheme = SchemeOf(url);
  for (std::string_view s : SupportedSchemes())
    if (scheme == s) return true;
  return false;
}

Error UnsupportedSchemeError(std::string_view url) {
  std::string list;
  const auto& all = SupportedSchemes();
  for (size_t i = 0; i < all.size(); ++i)
    list += std::string(i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + std::string(all[i]);
  return MakeError(ErrorCode::kRefusedScheme, "'" + RedactUrl(url) + "': scheme '" + SchemeOf(url) +
                                                  "' is not supported (use " + list + ")");
}

Expected<void> CheckUrlSyntax(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kValidation, "'" + RedactUrl(std::string(url)) + "': " + why);
  };
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return bad("no scheme (write scheme://host/path)");
  std::string_view rest = url.substr(sep + 3);
  if (SchemeOf(url) == "file") {
    if (!rest.starts_with("/")) return bad("a file: URL needs an absolute path (file:///path)");
    return {};
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' around the IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) return bad("unexpected text after ']'");
    if (!after.empty()) port = after.substr(1);
    if (host.empty()) return bad("an empty IPv6 address");
  } else {
    if (authority.find_first_of("[]") != std::string_view::npos)
      return bad("'[' and ']' belong around an IPv6 address only");
    if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return bad("no host");
  if (!port.empty() || authority.ends_with(":")) {
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos)
      return bad("port '" + std::string(port) + "' is not a number within 1-65535");
    long n = std::stol(std::string(port));
    if (n < 1 || n > 65535) return bad("port " + std::string(port) + " is outside 1-65535");
  }
  return {};
}

std::string DefaultPort(const ParsedUrl& u) {
  if (!u.port.empty()) return u.port;
  if (u.scheme == "https") return "443";
  if (u.scheme == "http") return "80";
  return "";
}

}  // namespace autoprov
