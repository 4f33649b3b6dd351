// S-6.4, S-9.6 SIP NOTIFY parsing and answers.
#include <gtest/gtest.h>

#include "config/configuration.hpp"
#include "triggers/sip_notify.hpp"

namespace autoprov {
namespace {

std::string Notify(const std::string& event, const std::string& method = "NOTIFY",
                   bool call_id = true) {
  return method +
         " sip:device@127.0.0.1:5060 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n"
         "From: <sip:prov@127.0.0.1>;tag=1\r\nTo: <sip:device@127.0.0.1>\r\n" +
         std::string(call_id ? "Call-ID: abc@127.0.0.1\r\n" : "") + "CSeq: 7 " + method + "\r\n" +
         (event.empty() ? "" : "Event: " + event + "\r\n") + "Content-Length: 0\r\n\r\n";
}

TEST(SipNotifyTest, CheckSyncTriggersAndAnswers200) {
  auto r = HandleSipNotify(Notify("check-sync;reboot=false"), true);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.trigger);
  EXPECT_FALSE(r.reboot);
  EXPECT_EQ(r.response.rfind("SIP/2.0 200 OK\r\n", 0), 0u);
  EXPECT_NE(r.response.find("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1"), std::string::npos);
  EXPECT_NE(r.response.find("Call-ID: abc@127.0.0.1"), std::string::npos);
  EXPECT_NE(r.response.find("CSeq: 7 NOTIFY"), std::string::npos);
  EXPECT_NE(r.response.find("To: <sip:device@127.0.0.1>;tag="), std::string::npos);
  EXPECT_TRUE(HandleSipNotify(Notify("check-sync;reboot=true"), true).reboot);
  EXPECT_TRUE(HandleSipNotify(Notify("check-sync"), true).trigger);
}

TEST(SipNotifyTest, ErrorsGetProperResponsesAndNoRun) {
  auto bad_event = HandleSipNotify(Notify("presence"), true);
  EXPECT_EQ(bad_event.status, 489);
  EXPECT_FALSE(bad_event.trigger);
  auto no_event = HandleSipNotify(Notify(""), true);
  EXPECT_EQ(no_event.status, 489);
  auto method = HandleSipNotify(Notify("check-sync", "INVITE"), true);
  EXPECT_EQ(method.status, 405);
  EXPECT_NE(method.response.find("Allow: NOTIFY"), std::string::npos);
  auto malformed = HandleSipNotify(Notify("check-sync", "NOTIFY", false), true);
  EXPECT_EQ(malformed.status, 400);
  EXPECT_FALSE(malformed.trigger);
  auto disabled = HandleSipNotify(Notify("check-sync"), false);
  EXPECT_EQ(disabled.status, 403);
  EXPECT_FALSE(disabled.trigger);
  EXPECT_TRUE(HandleSipNotify("garbage", true).response.empty());
  EXPECT_TRUE(HandleSipNotify("", true).response.empty());
}

TEST(SipNotifyTest, CompactHeaders) {
  std::string m =
      "NOTIFY sip:d@h SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK-2\r\nf: <sip:a@h>;tag=2\r\nt: "
      "<sip:d@h>\r\n"
      "i: x@h\r\nCSeq: 1 NOTIFY\r\no: check-sync\r\nl: 0\r\n\r\n";
  EXPECT_EQ(HandleSipNotify(m, true).status, 200);
}

}  // namespace
}  // namespace autoprov

#include <arpa/inet.h>
#include <openssl/evp.h>

namespace autoprov {
namespace {

std::string Signed(const std::string& event, const std::string& cseq = "1",
                   const std::string& extra = "") {
  return "NOTIFY sip:dev@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
         "From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:dev@127.0.0.1>\r\nCall-ID: c1@h\r\nCSeq: " +
         cseq + " NOTIFY\r\nEvent: " + event + "\r\n" + extra + "Content-Length: 0\r\n\r\n";
}

std::string Md5(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_md5(), nullptr);
  char out[33];
  for (unsigned i = 0; i < len; ++i) std::snprintf(out + 2 * i, 3, "%02x", md[i]);
  return std::string(out, 32);
}

const unsigned char kLoopback[16] = {127, 0, 0, 1};
const unsigned char kForeign[16] = {192, 0, 2, 7};

// S-9.6: the Event header's parameters are parsed, not searched: noreboot=true is not reboot=true.
TEST(SipNotifyTest, EventParametersAreParsed) {
  auto e = ParseSipEvent("Check-Sync ; noreboot=true;Reboot=\"TRUE\"");
  EXPECT_EQ(e.type, "check-sync");
  EXPECT_EQ(e.params["reboot"], "TRUE");
  EXPECT_EQ(e.params["noreboot"], "true");
  SipPolicy p;
  p.enabled = true;
  ASSERT_TRUE(ParseAllowList("127.0.0.0/8", p, nullptr));
  SipNotifyHandler h;
  auto r = h.Handle(Signed("check-sync;noreboot=true"), p, AF_INET, kLoopback, 100);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.reboot);
}

// S-9.6: sources outside the allow-list get 403; `ignore` and `if-changed` reboot policies.
TEST(SipNotifyTest, AllowListAndRebootPolicy) {
  SipPolicy p;
  p.enabled = true;
  std::string error;
  EXPECT_FALSE(ParseAllowList("10.0.0.0/33", p, &error));
  EXPECT_NE(error.find("10.0.0.0/33"), std::string::npos);
  ASSERT_TRUE(ParseAllowList("127.0.0.0/8, ::1", p, nullptr));
  SipNotifyHandler h;
  EXPECT_EQ(h.Handle(Signed("check-sync"), p, AF_INET, kForeign, 100).status, 403);
  p.reboot = SipReboot::kIgnore;
  auto r = h.Handle(Signed("check-sync;reboot=true", "2"), p, AF_INET, kLoopback, 100);
  EXPECT_TRUE(r.trigger);
  EXPECT_FALSE(r.reboot);
  p.reboot = SipReboot::kIfChanged;
  r = h.Handle(Signed("check-sync;reboot=true", "3"), p, AF_INET, kLoopback, 100);
  EXPECT_FALSE(r.reboot);
  EXPECT_TRUE(r.reboot_if_changed);
  ASSERT_TRUE(ParseAllowList("any", p, nullptr));
  EXPECT_EQ(h.Handle(Signed("check-sync", "4"), p, AF_INET, kForeign, 100).status, 200);
}

// S-9.6: Digest challenge, a right answer obeyed once, the nonce not accepted again, a wrong one
// refused.
TEST(SipNotifyTest, DigestNoncesAreSingleUse) {
  SipPolicy p;
  p.enabled = true;
  p.allow_any = true;
  p.username = "prov";
  p.password = "s3cret";
  SipNotifyHandler h;
  auto challenge = h.Handle(Signed("check-sync"), p, AF_INET, kLoopback, 100);
  ASSERT_EQ(challenge.status, 401);
  auto at = challenge.response.find("nonce=\"");
  ASSERT_NE(at, std::string::npos);
  std::string nonce =
      challenge.response.substr(at + 7, challenge.response.find('"', at + 7) - at - 7);
  auto auth = [&](const std::string& password) {
    std::string ha1 = Md5("prov:autoprov:" + password), ha2 = Md5("NOTIFY:sip:dev@127.0.0.1");
    std::string resp = Md5(ha1 + ":" + nonce + ":00000001:abc:auth:" + ha2);
    return "Authorization: Digest username=\"prov\", realm=\"autoprov\", nonce=\"" + nonce +
           "\", uri=\"sip:dev@127.0.0.1\", response=\"" + resp +
           "\", qop=auth, nc=00000001, cnonce=\"abc\"\r\n";
  };
  EXPECT_EQ(h.Handle(Signed("check-sync", "2", auth("wrong")), p, AF_INET, kLoopback, 101).status,
            401);
  challenge = h.Handle(Signed("check-sync", "3"), p, AF_INET, kLoopback, 101);
  at = challenge.response.find("nonce=\"");
  nonce = challenge.response.substr(at + 7, challenge.response.find('"', at + 7) - at - 7);
  auto ok = h.Handle(Signed("check-sync", "4", auth("s3cret")), p, AF_INET, kLoopback, 102);
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(ok.trigger);
  auto replay = h.Handle(Signed("check-sync", "5", auth("s3cret")), p, AF_INET, kLoopback, 103);
  EXPECT_EQ(replay.status, 401) << "a nonce answers once";
  auto retransmitted =
      h.Handle(Signed("check-sync", "4", auth("s3cret")), p, AF_INET, kLoopback, 104);
  EXPECT_EQ(retransmitted.status, 200);
  EXPECT_FALSE(retransmitted.trigger) << "a retransmission starts no second run";
}

}  // namespace
}  // namespace autoprov
