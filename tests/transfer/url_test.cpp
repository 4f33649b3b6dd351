// SPEC S-3.2, S-3.3, S-3.5, S-3.7: placeholders, credentials, schemes.
#include "transfer/url.hpp"

#include <gtest/gtest.h>

namespace autoprov {
namespace {

const PlaceholderValues kValues{"Mediant", "00908F1DD0D3", "7.20A.252.011", "42"};

TEST(UrlTest, UserAgentPlaceholdersAreCaseSensitive) {
  EXPECT_EQ(ExpandUserAgent("Mozilla/4.0 (compatible; AudioCodes; <NAME>;<VER>;<MAC>;<CONF>)", kValues),
            "Mozilla/4.0 (compatible; AudioCodes; Mediant;7.20A.252.011;00908F1DD0D3;42)");
  EXPECT_EQ(ExpandUserAgent("MyWorld-<NAME>;<VER>(<MAC>)", kValues), "MyWorld-Mediant;7.20A.252.011(00908F1DD0D3)");
  EXPECT_EQ(ExpandUserAgent("<mac> <Name>", kValues), "<mac> <Name>");
}

TEST(UrlTest, UserAgentCannotGainAHeaderLine) {
  PlaceholderValues evil = kValues;
  evil.name = "X\r\nX-Injected: 1";
  EXPECT_EQ(ExpandUserAgent("<NAME>", evil), "XX-Injected: 1");
}

TEST(UrlTest, MacInUrl) {
  EXPECT_EQ(ExpandUrl("http://srv/config_<MAC>.ini", kValues), "http://srv/config_00908F1DD0D3.ini");
  EXPECT_EQ(ExpandUrl("http://srv/<MAC>/<MAC>.ini", kValues), "http://srv/00908F1DD0D3/00908F1DD0D3.ini");
  EXPECT_EQ(ExpandUrl("http://srv/<FILE>", kValues, "Mediant.ini"), "http://srv/Mediant.ini");
}

TEST(UrlTest, ExpandedValuesCannotChangeTheUrlStructure) {
  PlaceholderValues evil = kValues;
  evil.mac = "@evil.example/../x?y#z";
  std::string url = ExpandUrl("http://srv/cfg/<MAC>.ini", evil);
  auto parsed = ParseUrl(url);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->host, "srv");
  EXPECT_EQ(parsed->user, "");
  EXPECT_EQ(url.find('/', 14), std::string("http://srv/cfg/").size() - 1);
  EXPECT_EQ(url.find('?'), std::string::npos);
  EXPECT_EQ(url.find('#'), std::string::npos);
  std::string in_host = ExpandUrl("http://<MAC>.prov.example/x", evil);
  auto p2 = ParseUrl(in_host);
  EXPECT_TRUE(!p2 || p2->host.find("evil.example/") == std::string::npos);
}

TEST(UrlTest, CredentialsAreSplitAndRedacted) {
  auto p = ParseUrl("https://JoeD:1234@10.1.1.1:8443/mysw.cmp");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->user, "JoeD");
  EXPECT_EQ(p->password, "1234");
  EXPECT_EQ(p->host, "10.1.1.1");
  EXPECT_EQ(p->port, "8443");
  EXPECT_EQ(p->url_without_credentials, "https://10.1.1.1:8443/mysw.cmp");
  EXPECT_EQ(RedactUrl("https://JoeD:1234@10.1.1.1/mysw.cmp"), "https://10.1.1.1/mysw.cmp");
  EXPECT_EQ(RedactUrl("ftp://a:b@c@host/x@y"), "ftp://host/x@y");
  EXPECT_EQ(RedactUrl("not a url"), "not a url");
}

TEST(UrlTest, OnlyKnownSchemes) {
  for (const char* ok : {"http://h/x", "HTTPS://h/x", "ftp://h/x", "ftps://h/x", "tftp://h/x", "file:///tmp/x"})
    EXPECT_TRUE(ParseUrl(ok)) << ok;
  for (const char* bad : {"gopher://h/x", "ldap://h/", "javascript:alert(1)", "h/x", "smb://h/x"}) {
    auto r = ParseUrl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kRefusedScheme);
  }
}

}  // namespace
}  // namespace autoprov
