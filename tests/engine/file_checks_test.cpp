// S-4 CRC modes, S-1.3 version tokens and ordering, S-1.4 serials, S-5 template plan.
#include "engine/file_checks.hpp"

#include <gtest/gtest.h>

#include "engine/plan.hpp"

namespace autoprov {
namespace {

TEST(ConfigCrcTest, ModeOneIsOrderSensitiveModeTwoIsNot) {
  std::string a = "A = 1\nB = 2\n", b = "B = 2\nA = 1\n";
  EXPECT_EQ(ConfigCrc(a, 0), "");
  EXPECT_NE(ConfigCrc(a, 1), ConfigCrc(b, 1));
  EXPECT_EQ(ConfigCrc(a, 2), ConfigCrc(b, 2));
  EXPECT_EQ(ConfigCrc("A = 1\r\nB = 2\r\n\r\n", 2),
            ConfigCrc(a, 2));  // line endings and blank lines
  EXPECT_NE(ConfigCrc("A = 1\nB = 3\n", 2), ConfigCrc(a, 2));
  EXPECT_NE(ConfigCrc(a, 1).substr(2), "");
  EXPECT_NE(ConfigCrc(a, 1), ConfigCrc(a, 2));         // a mode change never matches
  EXPECT_EQ(ConfigCrc("123456789", 1), "1:cbf43926");  // the CRC-32 check value
}

TEST(VersionTest, FromFileName) {
  EXPECT_EQ(VersionFromFileName("http://s/fw/ssbc_7.20A.252.011.cmp"), "7.20A.252.011");
  EXPECT_EQ(VersionFromFileName("M800_7.40A.100.001_beta.cmp"), "7.40A.100.001");
  EXPECT_EQ(VersionFromFileName("image.cmp"), "");
  EXPECT_EQ(VersionFromFileName("http://s/7.2.3.4/image.cmp"), "");  // only the file name counts
}

TEST(VersionTest, Ordering) {
  EXPECT_LT(CompareVersions("7.20A.250.001", "7.20A.252.011"), 0);
  EXPECT_GT(CompareVersions("7.20A.252.011", "7.20A.250.001"), 0);
  EXPECT_EQ(CompareVersions("7.20A.252.011", "7.20A.252.11"), 0);
  EXPECT_LT(CompareVersions("7.20A.252.011", "7.20B.100.001"), 0);
  EXPECT_LT(CompareVersions("7.20A.999.999", "7.40A.001.001"), 0);
  EXPECT_LT(CompareVersions("7.9.1.1", "7.10.1.1"), 0);
  EXPECT_LT(CompareVersions("7.20A.1.1", "7.20A.1.1.1"), 0);
}

TEST(LicenseTest, Serials) {
  EXPECT_EQ(LicenseSerials("S/N4837234 abcdef"), std::vector<std::string>{"4837234"});
  EXPECT_EQ(LicenseSerials("key\nS/N 12345 x\nS/N: 678 y\n"),
            (std::vector<std::string>{"12345", "678"}));
  EXPECT_TRUE(LicenseSerials("no serial here").empty());
}

TEST(PemTest, RejectsGarbage) {
  EXPECT_FALSE(CountPemCertificates("hello"));
  EXPECT_FALSE(
      CheckPemPrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  EXPECT_FALSE(CheckPemPrivateKey("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
}

TEST(PlanTest, ExplicitUrlWinsOverTemplate) {
  Configuration c(Schema::BuiltIn());
  DeviceIdentity id{"M800", "00908F5B1035", "1", "7.2"};
  ASSERT_TRUE(c.Set("TemplateUrl", "http://s/<MAC>/<FILE>"));
  ASSERT_TRUE(c.Set("AupdFilesList", "'ini', 'cpt', 'tlskey'"));
  auto ini = PlanStep(FileKind::kIni, c, id);
  ASSERT_TRUE(ini);
  EXPECT_EQ(ini->url, "http://s/00908F5B1035/M800.ini");
  EXPECT_TRUE(ini->from_template);
  EXPECT_EQ(ini->mode, DownloadMode::kPeriodic);
  EXPECT_EQ(PlanStep(FileKind::kTlsKey, c, id)->url, "http://s/00908F5B1035/M800_key.pem");
  EXPECT_FALSE(PlanStep(FileKind::kPrt, c, id));  // not listed
  ASSERT_TRUE(c.Set("CptFileURL", "http://other/cpt.dat"));
  auto cpt = PlanStep(FileKind::kCpt, c, id);
  EXPECT_EQ(cpt->url, "http://other/cpt.dat");
  EXPECT_EQ(cpt->mode, DownloadMode::kOneTime);
  EXPECT_FALSE(cpt->from_template);
}

TEST(PlanTest, SequenceOrderIsTheSpecs) {
  std::vector<std::string> names;
  for (const auto& i : DownloadOrder()) names.emplace_back(i.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ini", "cli-script", "startup-script", "auto-firmware",
                                             "firmware", "feature-key", "cpt", "prt",
                                             "voice-prompts", "dial-plan", "user-info",
                                             "tls-root-cert", "tls-cert", "tls-private-key"}));
}

}  // namespace
}  // namespace autoprov
