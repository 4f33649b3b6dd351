#include "common/redact.hpp"

#include <cctype>

namespace autoprov {

AuthoritySplit SplitAuthority(std::string_view url) {
  AuthoritySplit s;
  size_t slashes = url.find("//");
  if (slashes == std::string_view::npos) return s;
  s.start = slashes + 2;
  s.end = url.find_first_of("/?#", s.start);
  if (s.end == std::string_view::npos) s.end = url.size();
  size_t at = url.substr(s.start, s.end - s.start).rfind('@');
  if (at != std::string_view::npos) s.userinfo_end = s.start + at;
  return s;
}

std::string RedactUrl(std::string_view url) {
  AuthoritySplit s = SplitAuthority(url);
  size_t from = s.start == std::string_view::npos ? 0 : s.start;
  // The last '@' anywhere after "//": a password with a raw '/', '?' or '#' ends the RFC authority
  // early.
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < from) return std::string(url);
  std::string out(url.substr(0, from));
  out.append(url.substr(at + 1));
  return out;
}

std::string RedactText(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t sep = text.find("://", pos);
    if (sep == std::string_view::npos) break;
    size_t start = sep;
    while (start > pos &&
           (std::isalnum(static_cast<unsigned char>(text[start - 1])) || text[start - 1] == '+' ||
            text[start - 1] == '-' || text[start - 1] == '.'))
      --start;
    size_t end = text.find('\n', sep);
    if (end == std::string_view::npos) end = text.size();
    out.append(text.substr(pos, start - pos));
    std::string_view line = text.substr(start, end - start);
    // A quoted URL ends at its closing quote (error messages quote URLs); the rest of the line
    // after it is redacted on its own.
    size_t quote = start > 0 && (text[start - 1] == '\'' || text[start - 1] == '"')
                       ? line.find(text[start - 1])
                       : std::string_view::npos;
    // ... unless an '@' follows before the next URL: then the quote was part of the password.
    size_t next_url = quote == std::string_view::npos ? quote : line.find("://", quote);
    size_t at_after =
        quote == std::string_view::npos ? quote : line.substr(0, next_url).find('@', quote);
    if (quote != std::string_view::npos && at_after == std::string_view::npos) {
      out.append(RedactUrl(line.substr(0, quote)));
      pos = start + quote;
      continue;
    }
    out.append(RedactUrl(line));
    pos = end;
  }
  out.append(text.substr(std::min(pos, text.size())));
  return out;
}

std::string UserinfoProblem(std::string_view url) {
  AuthoritySplit s = SplitAuthority(url);
  if (s.start == std::string_view::npos) return {};
  std::string_view authority = url.substr(s.start, s.end - s.start);
  bool at_after = url.find('@', s.end) != std::string_view::npos;
  if (s.userinfo_end != std::string_view::npos) {
    for (char c : url.substr(s.start, s.userinfo_end - s.start)) {
      unsigned char u = static_cast<unsigned char>(c);
      bool ok = std::isalnum(u) ||
                std::string_view("-._~%!$&'()*+,;=:").find(c) != std::string_view::npos;
      if (!ok) return std::string("the user name or password holds a raw '") + c + "'";
    }
    if (at_after) return "the user name or password holds a raw '@'";
    return {};
  }
  if (!at_after) return {};
  // No '@' in the RFC authority but one later: a password that holds a raw '/', '?' or '#' cut the
  // authority short ("joe:pa#ss@host"). A host:port followed by a path with an '@' in it is a valid
  // URL.
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return {};
  std::string_view port = authority.substr(colon + 1);
  bool numeric = !port.empty();
  for (char c : port) numeric = numeric && std::isdigit(static_cast<unsigned char>(c));
  if (!numeric || url[s.end] == '#' || url[s.end] == '?')
    return std::string("the password holds a raw '") + url[s.end] + "'";
  return {};
}

}  // namespace autoprov
