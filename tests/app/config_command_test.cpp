// The `autoprov config` commands as a user runs them (SPEC S-7.5, S-7.6, S-8 exit status).
#include <gtest/gtest.h>

#include <fstream>

#include "command_runner.hpp"

namespace autoprov {
namespace {

using testing::FreshDir;
using testing::RunCommand;

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

TEST(ConfigCommandTest, GlobalOptionsBeforeAndAfterSubcommand) {
  auto d = FreshDir("cfg-global");
  auto ini = d / "a.ini";
  WriteText(ini, "IniFileURL = 'http://127.0.0.1/<MAC>.ini'\n");
  auto r = RunCommand("--state-dir " + (d / "st").string() + " config load " + ini.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto before = RunCommand("--state-dir " + (d / "st").string() + " config show");
  auto after = RunCommand("config show --state-dir " + (d / "st").string());
  EXPECT_EQ(before.exit_code, 0);
  EXPECT_NE(before.out.find("IniFileURL = 'http://127.0.0.1/<MAC>.ini'"), std::string::npos)
      << before.out;
  EXPECT_EQ(before.out, after.out);
  std::filesystem::remove_all(d);
}

TEST(ConfigCommandTest, BadFileIsRejectedWithLineNumbersAndChangesNothing) {
  auto d = FreshDir("cfg-bad");
  std::string st = " --state-dir " + (d / "st").string();
  WriteText(d / "good.ini", "CptFileURL = 'http://127.0.0.1/cpt.dat'\n");
  ASSERT_EQ(RunCommand("config load " + (d / "good.ini").string() + st).exit_code, 0);
  auto shown = RunCommand("config show" + st).out;
  WriteText(d / "bad.ini",
            "; header\nAutoUpdateCmpFile = 3\nIniFileURL = 'http://127.0.0.1/x.ini'\ngarbage\n");
  auto r = RunCommand("config load " + (d / "bad.ini").string() + st);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("bad.ini:2: AutoUpdateCmpFile"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad.ini:4: expected 'Name = Value'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unchanged"), std::string::npos);
  EXPECT_EQ(RunCommand("config show" + st).out, shown);
  std::filesystem::remove_all(d);
}

TEST(ConfigCommandTest, ShowAsCliLoadsBackToTheSameConfiguration) {
  auto d = FreshDir("cfg-roundtrip");
  std::string st1 = " --state-dir " + (d / "one").string();
  std::string st2 = " --state-dir " + (d / "two").string();
  WriteText(d / "a.ini",
            "IniFileURL = 'http://127.0.0.1/<MAC>.ini'\nAupdFilesList = 'ini', "
            "'cpt'\nAUPDCheckIfIniChanged = 2\n"
            "AupdHttpUserAgent = 'x y <MAC>'\nAutoUpdatePredefinedTime = '02:30'\n");
  ASSERT_EQ(RunCommand("config load " + (d / "a.ini").string() + st1).exit_code, 0);
  auto cli = RunCommand("config show --format cli" + st1);
  ASSERT_EQ(cli.exit_code, 0);
  WriteText(d / "b.cli", cli.out);
  ASSERT_EQ(RunCommand("config load " + (d / "b.cli").string() + st2).exit_code, 0);
  EXPECT_EQ(RunCommand("config show" + st1).out, RunCommand("config show" + st2).out);
  std::filesystem::remove_all(d);
}

TEST(ConfigCommandTest, SetByIniNameOrCliCommandAndReset) {
  auto d = FreshDir("cfg-set");
  std::string st = " --state-dir " + (d / "st").string();
  EXPECT_EQ(RunCommand("config set crc-check regular" + st).exit_code, 0);
  EXPECT_EQ(RunCommand("config set AutoUpdateFreqencySeconds 60" + st).exit_code, 0);
  auto bad = RunCommand("config set AutoUpdateFreqencySeconds -5" + st);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("outside"), std::string::npos);
  EXPECT_EQ(RunCommand("config set NoSuchThing 1" + st).exit_code, 2);
  auto shown = RunCommand("config show" + st).out;
  EXPECT_NE(shown.find("AUPDCheckIfIniChanged = 1"), std::string::npos);
  EXPECT_NE(shown.find("AutoUpdateFreqencySeconds = 60"), std::string::npos);
  EXPECT_EQ(RunCommand("config reset" + st).exit_code, 0);
  EXPECT_EQ(RunCommand("config show" + st).out.find("AutoUpdateFreqencySeconds"),
            std::string::npos);
  std::filesystem::remove_all(d);
}

TEST(ConfigCommandTest, ApplianceSchemaFromStateDirectory) {
  auto d = FreshDir("cfg-schema");
  std::filesystem::create_directories(d / "st" / "schema.d");
  std::filesystem::copy_file(std::string(AUTOPROV_SOURCE_DIR) + "/examples/schema/appliance.json",
                             d / "st" / "schema.d" / "appliance.json");
  std::string st = " --state-dir " + (d / "st").string();
  WriteText(d / "p.cli",
            "configure voip\n proxy-ip 0\n  proxy-address sbc.example.com\n exit\n media voice\n  "
            "voice-volume 4\n");
  auto r = RunCommand("config load " + (d / "p.cli").string() + st);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto ini = RunCommand("config show" + st).out;
  EXPECT_NE(ini.find("ProxyIp 0 = \"sbc.example.com\""), std::string::npos) << ini;
  EXPECT_NE(ini.find("VoiceVolume = 4"), std::string::npos);
  std::filesystem::remove_all(d);
}

TEST(ConfigCommandTest, HelpOnEverySubcommandAndUsageErrors) {
  for (const char* sub :
       {"", "config", "config load", "config show", "config set", "config reset"}) {
    auto r = RunCommand(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
  EXPECT_EQ(RunCommand("no-such-command").exit_code, 2);
  EXPECT_EQ(RunCommand("config show --format xml").exit_code, 2);
  auto missing = RunCommand("config load /nonexistent/file.ini --state-dir /tmp/autoprov-unused");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("/nonexistent/file.ini"), std::string::npos);
}

}  // namespace
}  // namespace autoprov
