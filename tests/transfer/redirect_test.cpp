// The redirect policy on its own (transfer/redirect.hpp, S-3.4): no server, no libcurl.
#include "transfer/redirect.hpp"

#include <gtest/gtest.h>

namespace autoprov {
namespace {

ParsedUrl Url(std::string scheme, std::string host, std::string port = "") {
  ParsedUrl u;
  u.scheme = std::move(scheme);
  u.host = std::move(host);
  u.port = std::move(port);
  u.url_without_credentials =
      u.scheme + "://" + u.host + (u.port.empty() ? "" : ":" + u.port) + "/f";
  return u;
}

TEST(RedirectPolicyTest, FollowsHttpAndHttpsWithinTheHopLimit) {
  auto origin = Url("http", "prov.test");
  auto step =
      DecideRedirect(origin, origin, "http://prov.test/g", Url("http", "prov.test"), 302, 1, 5);
  EXPECT_FALSE(step.refused);
  EXPECT_FALSE(step.drop_credentials) << "same host and port";
  step =
      DecideRedirect(origin, origin, "https://prov.test/g", Url("https", "prov.test"), 301, 5, 5);
  EXPECT_FALSE(step.refused) << "the fifth of five";
  EXPECT_TRUE(step.drop_credentials) << "http:80 and https:443 are other ports";
  step = DecideRedirect(origin, origin, "http://prov.test/g", Url("http", "prov.test"), 302, 6, 5);
  ASSERT_TRUE(step.refused);
  EXPECT_EQ(step.refused->message, "too many redirects (limit 5)");
}

TEST(RedirectPolicyTest, RefusesOtherSchemesDowngradesAndNoLocation) {
  auto https = Url("https", "prov.test");
  auto step =
      DecideRedirect(https, https, "http://prov.test/g", Url("http", "prov.test"), 302, 1, 5);
  ASSERT_TRUE(step.refused);
  EXPECT_EQ(step.refused->code, ErrorCode::kRefusedScheme);
  EXPECT_NE(step.refused->message.find("(downgrade)"), std::string::npos);
  step = DecideRedirect(https, https, "file:///etc/shadow", Url("file", ""), 302, 1, 5);
  ASSERT_TRUE(step.refused);
  EXPECT_NE(step.refused->message.find("only http and https"), std::string::npos);
  step = DecideRedirect(https, https, "ht!tp://x", std::nullopt, 302, 1, 5);
  ASSERT_TRUE(step.refused) << "a Location that does not parse";
  step = DecideRedirect(https, https, "", std::nullopt, 307, 1, 5);
  ASSERT_TRUE(step.refused);
  EXPECT_EQ(step.refused->message, "HTTP 307 without a Location");
  // A refused target's credentials are not shown.
  step = DecideRedirect(https, https, "ftp://user:secret@evil.test/f", Url("ftp", "evil.test"), 302,
                        1, 5);
  ASSERT_TRUE(step.refused);
  EXPECT_EQ(step.refused->message.find("secret"), std::string::npos) << step.refused->message;
}

// S-3.4: credentials are not sent to another host (or port); back to the first host they are.
TEST(RedirectPolicyTest, CredentialsStayWithTheirHost) {
  auto origin = Url("https", "prov.test");
  EXPECT_TRUE(
      DecideRedirect(origin, origin, "https://cdn.test/f", Url("https", "cdn.test"), 302, 1, 5)
          .drop_credentials);
  EXPECT_TRUE(DecideRedirect(origin, origin, "https://prov.test:8443/f",
                             Url("https", "prov.test", "8443"), 302, 1, 5)
                  .drop_credentials);
  EXPECT_FALSE(DecideRedirect(origin, Url("https", "cdn.test"), "https://prov.test:443/f",
                              Url("https", "prov.test", "443"), 302, 2, 5)
                   .drop_credentials);
}

}  // namespace
}  // namespace autoprov
