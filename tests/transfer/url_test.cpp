// SPEC S-3.2, S-3.3, S-3.5, S-3.7: placeholders, credentials, schemes.
#include <gtest/gtest.h>

#include <random>

#include "transfer/fetcher.hpp"

namespace autoprov {
namespace {

const PlaceholderValues kValues{"Mediant", "00908F1DD0D3", "7.20A.252.011", "42"};

TEST(UrlTest, UserAgentPlaceholdersAreCaseSensitive) {
  EXPECT_EQ(
      ExpandUserAgent("Mozilla/4.0 (compatible; AudioCodes; <NAME>;<VER>;<MAC>;<CONF>)", kValues),
      "Mozilla/4.0 (compatible; AudioCodes; Mediant;7.20A.252.011;00908F1DD0D3;42)");
  EXPECT_EQ(ExpandUserAgent("MyWorld-<NAME>;<VER>(<MAC>)", kValues),
            "MyWorld-Mediant;7.20A.252.011(00908F1DD0D3)");
  EXPECT_EQ(ExpandUserAgent("<mac> <Name>", kValues), "<mac> <Name>");
}

TEST(UrlTest, UserAgentCannotGainAHeaderLine) {
  PlaceholderValues evil = kValues;
  evil.name = "X\r\nX-Injected: 1";
  EXPECT_EQ(ExpandUserAgent("<NAME>", evil), "XX-Injected: 1");
}

TEST(UrlTest, MacInUrl) {
  EXPECT_EQ(ExpandUrl("http://srv/config_<MAC>.ini", kValues),
            "http://srv/config_00908F1DD0D3.ini");
  EXPECT_EQ(ExpandUrl("http://srv/<MAC>/<MAC>.ini", kValues),
            "http://srv/00908F1DD0D3/00908F1DD0D3.ini");
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
  EXPECT_EQ(RedactUrl("ftp://a:b@c@host/x"), "ftp://host/x");
  EXPECT_EQ(RedactUrl("not a url"), "not a url");
}

// S-9.5: the passwords that leaked before: a raw '#', '?' or '/' ended the authority early.
TEST(UrlTest, RedactionDoesNotDependOnTheUrlBeingValid) {
  EXPECT_EQ(RedactUrl("http://joe:pa#ss@h/x.ini"), "http://h/x.ini");
  EXPECT_EQ(RedactUrl("http://joe:pa?ss@h/x.ini"), "http://h/x.ini");
  EXPECT_EQ(RedactUrl("http://joe:pa/ss@h/x.ini"), "http://h/x.ini");
  EXPECT_EQ(RedactUrl("http://joe:12#ss@h/x.ini"), "http://h/x.ini");
  EXPECT_EQ(RedactText("step ini http://joe:pa#ss@h/x.ini: failed"),
            "step ini http://h/x.ini: failed");
  EXPECT_EQ(RedactText("'http://joe:pa#ss@h/x' is not valid; 'ftp://u:p@q/y'"),
            "'http://h/x' is not valid; 'ftp://q/y'");
}

// S-9.5: URLs a parser would split elsewhere than their writer meant are refused; valid ones are
// not.
TEST(UrlTest, RawReservedCharactersInCredentialsAreRefused) {
  EXPECT_NE(UserinfoProblem("http://joe:pa#ss@h/x"), "");
  EXPECT_NE(UserinfoProblem("http://joe:12#ss@h/x"), "");
  EXPECT_NE(UserinfoProblem("http://joe:pa/ss@h/x"), "");
  EXPECT_NE(UserinfoProblem("http://joe:p@ss@h/x"), "");
  EXPECT_NE(UserinfoProblem("http://joe:p ss@h/x"), "");
  EXPECT_EQ(UserinfoProblem("http://joe:pa%23ss@h/x"), "");
  EXPECT_EQ(UserinfoProblem("http://h:8080/a@b"), "");
  EXPECT_EQ(UserinfoProblem("http://h/x"), "");
  EXPECT_FALSE(ParseUrl("http://joe:pa#ss@h/x"));
}

// S-9.5 property: for random passwords (every printable ASCII character, raw or percent-encoded)
// neither the redaction of the URL nor the error of a refused one contains the password.
TEST(UrlTest, RedactionPropertyOverRandomPasswords) {
  std::mt19937 rng(11);
  for (int i = 0; i < 5000; ++i) {
    std::string pw = "Pw";
    int len = 6 + static_cast<int>(rng() % 10);
    for (int k = 0; k < len; ++k) pw.push_back(static_cast<char>(0x21 + rng() % 94));
    for (const std::string& form : {pw, PercentEncode(pw)}) {
      std::string url = "http://joe:" + form + "@127.0.0.1:8080/x.ini";
      EXPECT_EQ(RedactUrl(url).find(form), std::string::npos) << url;
      EXPECT_EQ(RedactText("log: " + url + " failed").find(form), std::string::npos) << url;
      auto parsed = ParseUrl(url);
      if (!parsed)
        EXPECT_EQ(parsed.error().message.find(form), std::string::npos) << url;
      else
        EXPECT_EQ(parsed->url_without_credentials.find(form), std::string::npos) << url;
    }
  }
}

// Plain URLs are split without libcurl's parser; the answer is the one libcurl's parser gives, and
// anything unusual (userinfo, IPv6 literal, escapes, odd ports or characters) still goes through
// libcurl's parser.
TEST(UrlTest, PlainAndUnusualUrlsParseAlike) {
  auto p = ParseUrl("http://Prov.Example:8080/cfg/a.ini?x=1#f");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scheme, "http");
  EXPECT_EQ(p->host, "prov.example");
  EXPECT_EQ(p->port, "8080");
  EXPECT_EQ(p->url_without_credentials, "http://Prov.Example:8080/cfg/a.ini?x=1#f");
  auto v6 = ParseUrl("http://[::1]:8081/x");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, "8081");
  auto encoded = ParseUrl("http://us%40er:p%3Ass@h/x");
  ASSERT_TRUE(encoded);
  EXPECT_EQ(encoded->user, "us@er");
  EXPECT_EQ(encoded->password, "p:ss");
  EXPECT_EQ(encoded->url_without_credentials, "http://h/x");
  for (const char* bad :
       {"http://exa mple/x", "http://h:99999/x", "http://h:port/x", "http://h\x01/x"})
    EXPECT_FALSE(ParseUrl(bad)) << bad;
}

TEST(UrlTest, OnlyKnownSchemes) {
  for (const char* ok :
       {"http://h/x", "HTTPS://h/x", "ftp://h/x", "ftps://h/x", "tftp://h/x", "file:///tmp/x"})
    EXPECT_TRUE(ParseUrl(ok)) << ok;
  for (const char* bad : {"gopher://h/x", "ldap://h/", "javascript:alert(1)", "h/x", "smb://h/x"}) {
    auto r = ParseUrl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kRefusedScheme);
  }
}

}  // namespace
}  // namespace autoprov
