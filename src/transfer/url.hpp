// URLs as the agent handles them: placeholder expansion (SPEC S-3.2, S-3.3), credentials split off
// and never shown (S-3.5), schemes checked before any I/O (S-3.7).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/redact.hpp"  // RedactUrl

namespace autoprov {

// A URL's parts (ParseUrl, transfer/fetcher.hpp, fills them with libcurl's parser).
struct ParsedUrl {
  std::string scheme;  // lower case
  std::string user, password;
  std::string host;
  std::string port;
  std::string url_without_credentials;
};
// The port a URL connects to: its own, else its scheme's (443, 80); "" for other schemes.
std::string DefaultPort(const ParsedUrl& u);

// The values behind <NAME>, <MAC>, <VER>, <CONF> (case-sensitive placeholders).
struct PlaceholderValues {
  std::string name;  // product name
  std::string mac;   // 12 hex digits, no separators
  std::string version;
  std::string conf;  // INIFileVersion
};

// User-Agent: placeholders replaced; control characters in the values are dropped so a value cannot
// add a header line.
std::string ExpandUserAgent(std::string_view templ, const PlaceholderValues& values);

// <MAC> in a URL (and <FILE> when `file` is given, for the template URL of SPEC S-5). Values are
// percent-encoded except for unreserved characters, so they cannot change scheme, host or path
// structure.
std::string ExpandUrl(std::string_view url, const PlaceholderValues& values,
                      std::string_view file = {});

// The report URL (S-10.3): <MAC>, <NAME>, <VER> and <CONF>, each percent-encoded as in ExpandUrl.
std::string ExpandReportUrl(std::string_view url, const PlaceholderValues& values);

// The schemes the transfer layer fetches: the one list, used to refuse a URL before any I/O.
const std::vector<std::string_view>& SupportedSchemes();
// The lower-case scheme of a URL ("" without "://").
std::string SchemeOf(std::string_view url);
bool IsSupportedScheme(std::string_view url);
// "'<url>': scheme 'x' is not supported (use http, https, ...)", the URL redacted (kRefusedScheme).
Error UnsupportedSchemeError(std::string_view url);

std::string PercentEncode(std::string_view value);

// The URL's syntax as the transfer layer needs it, without libcurl: scheme://[user[:pass]@]host
// [:port][/path][?query]; a host (an IPv6 literal in closed brackets), a port within 1-65535. A
// file: URL needs an absolute path. The message names what is wrong (the URL redacted).
Expected<void> CheckUrlSyntax(std::string_view url);

}  // namespace autoprov
