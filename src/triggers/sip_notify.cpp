#include "triggers/sip_notify.hpp"

#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "common/md5.hpp"
#include "common/text.hpp"

namespace autoprov {
namespace {

constexpr long long kNonceLifetime = 60;  // seconds
constexpr size_t kMaxNonces = 256;
constexpr long long kRetransmissionWindow = 32;  // RFC 3261 timer F (64 * T1)
constexpr size_t kMaxSeen = 256;
constexpr std::string_view kRealm = "autoprov";

struct Header {
  std::string name, value;
};

std::string Canonical(std::string_view name) {
  // Compact forms (RFC 3261 7.3.3).
  std::string n = ToLower(Trim(name));
  if (n == "v") return "via";
  if (n == "f") return "from";
  if (n == "t") return "to";
  if (n == "i") return "call-id";
  if (n == "o") return "event";
  if (n == "l") return "content-length";
  return n;
}

std::string Unquote(std::string_view v) {
  v = Trim(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

// Digest parameters of an Authorization header: name=value pairs separated by commas, values maybe
// quoted.
std::map<std::string, std::string> DigestParams(std::string_view value) {
  std::map<std::string, std::string> out;
  value = Trim(value);
  if (!IStartsWith(value, "digest ")) return out;
  value.remove_prefix(7);
  size_t pos = 0;
  while (pos < value.size()) {
    size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) break;
    std::string name = ToLower(Trim(value.substr(pos, eq - pos)));
    size_t v = eq + 1;
    while (v < value.size() && value[v] == ' ') ++v;
    size_t end;
    if (v < value.size() && value[v] == '"') {
      end = value.find('"', v + 1);
      if (end == std::string_view::npos) end = value.size();
      out[name] = std::string(value.substr(v + 1, end - v - 1));
      end = value.find(',', end);
    } else {
      end = value.find(',', v);
      out[name] = std::string(
          Trim(value.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v)));
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return out;
}

bool ParseNetwork(std::string_view text, IpNetwork& net) {
  std::string s(Trim(text));
  size_t slash = s.find('/');
  std::string addr = s.substr(0, slash);
  if (::inet_pton(AF_INET, addr.c_str(), net.addr) == 1) {
    net.family = AF_INET;
    net.prefix = 32;
  } else if (::inet_pton(AF_INET6, addr.c_str(), net.addr) == 1) {
    net.family = AF_INET6;
    net.prefix = 128;
  } else {
    return false;
  }
  if (slash != std::string::npos) {
    std::string p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos)
      return false;
    int prefix = std::atoi(p.c_str());
    if (prefix > net.prefix) return false;
    net.prefix = prefix;
  }
  return true;
}

}  // namespace

bool IpNetwork::Contains(int fam, const unsigned char* a) const {
  if (fam != family) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(addr, a, static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (addr[full] & mask) == (a[full] & mask);
}

bool ParseAllowList(std::string_view text, SipPolicy& policy, std::string* error) {
  policy.allow.clear();
  policy.allow_any = false;
  std::string spaced(text);
  std::replace(spaced.begin(), spaced.end(), ',', ' ');
  for (auto item : SplitWhitespace(spaced)) {
    if (IEquals(item, "any")) {
      policy.allow_any = true;
      continue;
    }
    IpNetwork net;
    if (!ParseNetwork(item, net)) {
      if (error)
        *error = "SipNotifyAllowFrom: '" + std::string(item) + "' is not an address or CIDR";
      return false;
    }
    policy.allow.push_back(net);
  }
  return true;
}

SipEvent ParseSipEvent(std::string_view value) {
  SipEvent e;
  size_t pos = 0;
  bool first = true;
  while (pos <= value.size()) {
    size_t semi = value.find(';', pos);
    std::string_view part = Trim(
        value.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    if (first) {
      e.type = ToLower(part);
      first = false;
    } else if (!part.empty()) {
      size_t eq = part.find('=');
      std::string name = ToLower(Trim(part.substr(0, eq)));
      e.params[name] = eq == std::string_view::npos ? "" : Unquote(part.substr(eq + 1));
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return e;
}

std::string SipNotifyHandler::NewNonce(long long now) {
  for (auto it = nonces_.begin(); it != nonces_.end();)
    it = now - it->second > kNonceLifetime ? nonces_.erase(it) : std::next(it);
  if (nonces_.size() >= kMaxNonces) nonces_.erase(nonces_.begin());
  unsigned char raw[16];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    std::memset(raw, 0, sizeof raw);
  std::string nonce =
      Md5Hex(std::string_view(reinterpret_cast<char*>(raw), sizeof raw)) + std::to_string(now);
  nonces_[nonce] = now;
  return nonce;
}

SipNotifyResult SipNotifyHandler::Handle(std::string_view datagram, const SipPolicy& policy,
                                         int family, const unsigned char* source, long long now) {
  SipNotifyResult r;
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < datagram.size()) {
    size_t end = datagram.find('\n', pos);
    if (end == std::string_view::npos) end = datagram.size();
    std::string_view line = datagram.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) break;  // end of headers
    lines.push_back(line);
  }
  if (lines.empty()) return r;  // nothing to answer
  auto words = SplitWhitespace(lines[0]);
  if (words.size() != 3 || words[2] != "SIP/2.0") return r;  // not a SIP request: no answer
  std::vector<Header> headers;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto colon = lines[i].find(':');
    if (colon == std::string_view::npos) continue;
    headers.push_back(
        {Canonical(lines[i].substr(0, colon)), std::string(Trim(lines[i].substr(colon + 1)))});
  }
  auto get = [&](std::string_view n) -> std::string {
    for (const auto& h : headers)
      if (h.name == n) return h.value;
    return "";
  };
  std::string method(words[0]);
  std::string extra;
  std::string key = get("call-id") + "|" + get("cseq");
  while (!seen_.empty() &&
         (now - seen_.front().second > kRetransmissionWindow || seen_.size() > kMaxSeen)) {
    answers_.erase(seen_.front().first);
    seen_.pop_front();
  }
  auto allowed_source = [&] {
    if (policy.allow_any) return true;
    for (const auto& n : policy.allow)
      if (n.Contains(family, source)) return true;
    return false;
  };
  if (get("via").empty() || get("call-id").empty() || get("cseq").empty() || get("from").empty() ||
      get("to").empty()) {
    r.status = 400;
    r.reason = "Bad Request";
  } else if (method != "NOTIFY") {
    r.status = 405;
    r.reason = "Method Not Allowed";
    extra = "Allow: NOTIFY\r\n";
  } else if (auto it = answers_.find(key); it != answers_.end()) {
    // A retransmission of a request already obeyed: the same answer, no second run.
    r = it->second;
    r.trigger = false;
    r.reboot = r.reboot_if_changed = false;
    r.retransmission = true;
    return r;
  } else {
    SipEvent event = ParseSipEvent(get("event"));
    if (event.type != "check-sync") {
      r.status = 489;
      r.reason = "Bad Event";
      extra = "Allow-Events: check-sync\r\n";
    } else if (!policy.enabled || !allowed_source()) {
      r.status = 403;
      r.reason = "Forbidden";
    } else {
      bool authorized = policy.username.empty();
      if (!authorized) {
        auto d = DigestParams(get("authorization"));
        auto nonce = nonces_.find(d["nonce"]);
        if (nonce != nonces_.end() && now - nonce->second <= kNonceLifetime &&
            d["username"] == policy.username && d["realm"] == kRealm) {
          nonces_.erase(nonce);  // single use, right or wrong
          std::string ha1 =
              Md5Hex(policy.username + ":" + std::string(kRealm) + ":" + policy.password);
          std::string ha2 = Md5Hex(method + ":" + d["uri"]);
          std::string expected = d.contains("qop")
                                     ? Md5Hex(ha1 + ":" + d["nonce"] + ":" + d["nc"] + ":" +
                                              d["cnonce"] + ":" + d["qop"] + ":" + ha2)
                                     : Md5Hex(ha1 + ":" + d["nonce"] + ":" + ha2);
          authorized = !d["response"].empty() && ToLower(d["response"]) == expected;
        }
      }
      if (!authorized) {
        r.status = 401;
        r.reason = "Unauthorized";
        extra = "WWW-Authenticate: Digest realm=\"" + std::string(kRealm) + "\", nonce=\"" +
                NewNonce(now) + "\", algorithm=MD5, qop=\"auth\"\r\n";
      } else {
        r.status = 200;
        r.reason = "OK";
        r.trigger = true;
        auto reboot = event.params.find("reboot");
        bool asked = reboot != event.params.end() && IEquals(reboot->second, "true");
        r.reboot = asked && policy.reboot == SipReboot::kObey;
        r.reboot_if_changed = asked && policy.reboot == SipReboot::kIfChanged;
      }
    }
  }
  // Via, From, To, Call-ID and CSeq go back as they came; To gets our tag (RFC 3261 8.2.6).
  std::string out = "SIP/2.0 " + std::to_string(r.status) + " " + r.reason + "\r\n";
  for (const auto& h : headers)
    if (h.name == "via") out += "Via: " + h.value + "\r\n";
  out += "From: " + get("from") + "\r\n";
  std::string to = get("to");
  if (!to.empty() && to.find(";tag=") == std::string::npos) to += ";tag=autoprov";
  out += "To: " + to + "\r\n";
  out += "Call-ID: " + get("call-id") + "\r\n";
  out += "CSeq: " + get("cseq") + "\r\n";
  out += extra;
  out += "Server: autoprov\r\nContent-Length: 0\r\n\r\n";
  r.response = out;
  if (r.status == 200) {
    seen_.emplace_back(key, now);
    answers_[key] = r;
  }
  return r;
}

SipNotifyResult HandleSipNotify(std::string_view datagram, bool enabled) {
  SipNotifyHandler handler;
  SipPolicy policy;
  policy.enabled = enabled;
  policy.allow_any = true;
  unsigned char loopback[16] = {127, 0, 0, 1};
  return handler.Handle(datagram, policy, AF_INET, loopback, 0);
}

}  // namespace autoprov
