#include "triggers/sip_notify.hpp"

#include <vector>

#include "common/text.hpp"

namespace autoprov {
namespace {

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

}  // namespace

SipNotifyResult HandleSipNotify(std::string_view datagram, bool enabled) {
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
    headers.push_back({Canonical(lines[i].substr(0, colon)), std::string(Trim(lines[i].substr(colon + 1)))});
  }
  auto get = [&](std::string_view n) -> std::string {
    for (const auto& h : headers)
      if (h.name == n) return h.value;
    return "";
  };
  std::string method(words[0]);
  std::string extra;
  if (get("via").empty() || get("call-id").empty() || get("cseq").empty() || get("from").empty() || get("to").empty()) {
    r.status = 400;
    r.reason = "Bad Request";
  } else if (method != "NOTIFY") {
    r.status = 405;
    r.reason = "Method Not Allowed";
    extra = "Allow: NOTIFY\r\n";
  } else {
    std::string event = get("event");
    std::string type = ToLower(Trim(event.substr(0, event.find(';'))));
    if (type != "check-sync") {
      r.status = 489;
      r.reason = "Bad Event";
      extra = "Allow-Events: check-sync\r\n";
    } else if (!enabled) {
      r.status = 403;
      r.reason = "Forbidden";
    } else {
      r.status = 200;
      r.reason = "OK";
      r.trigger = true;
      std::string params = ToLower(event);
      r.reboot = params.find("reboot=true") != std::string::npos;
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
  return r;
}

}  // namespace autoprov
