// SPEC S-7.3: CLI scripts and startup scripts over the schema.
#include "config/cli_script.hpp"

#include <gtest/gtest.h>

#include "config/ini.hpp"
#include "test_schema.hpp"

namespace autoprov {
namespace {

using testing::ApplianceSchema;

CliLoadResult RunScript(std::string_view text, const Configuration* cur = nullptr,
                        CliScriptKind kind = CliScriptKind::kIncremental) {
  Configuration empty(ApplianceSchema());
  return LoadCliScript(text, "s.cli", cur ? *cur : empty, kind);
}

TEST(CliScriptTest, ModesCommandsAndExit) {
  auto r = RunScript(
      "configure system\n"
      "  automatic-update\n"
      "    ini-file http://srv/<MAC>.ini\n"
      "    update-firmware on\n"
      "    crc-check voice-conf-ordered\n"
      "    template-files-list ini,fk,cpt\n"
      "    http-user-agent My Agent <MAC>\n"
      "    activate\n"
      "  exit\n"
      "exit\n"
      "configure voip\n"
      " media voice\n"
      "  voice-volume -3\n"
      " exit\n"
      " sip-definition advanced-settings\n"
      "  sip-remote-reset on\n"
      "end\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].ToString();
  EXPECT_EQ(r.config.Get("IniFileURL"), "http://srv/<MAC>.ini");
  EXPECT_EQ(r.config.Get("AutoUpdateCmpFile"), "1");
  EXPECT_EQ(r.config.Get("AUPDCheckIfIniChanged"), "2");
  EXPECT_EQ(r.config.Get("AupdFilesList"), "ini,fk,cpt");
  EXPECT_EQ(r.config.Get("AupdHttpUserAgent"), "My Agent <MAC>");
  EXPECT_EQ(r.config.Get("VoiceVolume"), "-3");
  EXPECT_EQ(r.config.Get("EnableSIPRemoteReset"), "1");
  EXPECT_EQ(r.restart, RestartRequest::kNone);
}

TEST(CliScriptTest, NoReturnsToDefaultAndScriptIsIncremental) {
  Configuration cur(ApplianceSchema());
  ASSERT_TRUE(cur.Set("CptFileURL", "http://a/cpt.dat"));
  ASSERT_TRUE(cur.Set("AutoUpdateCmpFile", "1"));
  auto r = RunScript("configure system\n automatic-update\n  no update-firmware\n", &cur);
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.config.Get("AutoUpdateCmpFile"), "0");
  EXPECT_EQ(r.config.Get("CptFileURL"), "http://a/cpt.dat");
}

TEST(CliScriptTest, StartupScriptResetsEverythingFirst) {
  Configuration cur(ApplianceSchema());
  ASSERT_TRUE(cur.Set("CptFileURL", "http://a/cpt.dat"));
  auto r = RunScript("configure system\n automatic-update\n  update-firmware on\n", &cur,
                     CliScriptKind::kStartup);
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.config.Get("CptFileURL"), "");
  EXPECT_EQ(r.config.Get("AutoUpdateCmpFile"), "1");
}

TEST(CliScriptTest, ReloadRequests) {
  EXPECT_EQ(RunScript("configure system\nexit\nreload if-needed\n").restart,
            RestartRequest::kIfNeeded);
  EXPECT_EQ(RunScript("reload now\n").restart, RestartRequest::kNow);
  EXPECT_EQ(RunScript("reload now\nreload if-needed\n").restart, RestartRequest::kNow);
  EXPECT_FALSE(RunScript("reload sometime\n").errors.empty());
}

TEST(CliScriptTest, DoShowIsIgnoredShowIsRejected) {
  auto ok = RunScript("configure system\n do show running-config\n");
  EXPECT_TRUE(ok.errors.empty());
  auto bad =
      RunScript("configure system\nshow running-config\ncopy startup-script from http://x\n");
  ASSERT_EQ(bad.errors.size(), 2u);
  EXPECT_EQ(bad.errors[0].line, 2);
  EXPECT_NE(bad.errors[0].message.find("not allowed"), std::string::npos);
  EXPECT_EQ(bad.errors[1].line, 3);
}

TEST(CliScriptTest, ErrorsCarryLineNumbersAndTheModeName) {
  auto r = RunScript(
      "configure system\n automatic-update\n  update-firmware maybe\n  no-such-command 1\n  "
      "ini-file\n");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_NE(r.errors[0].message.find("off|on"), std::string::npos);
  EXPECT_EQ(r.errors[1].line, 4);
  EXPECT_NE(r.errors[1].message.find("(automatic-update)"), std::string::npos);
  EXPECT_EQ(r.errors[2].line, 5);
  EXPECT_NE(r.errors[2].message.find("needs a value"), std::string::npos);
  EXPECT_EQ(r.errors[0].ToString().substr(0, 8), "s.cli:3:");
}

TEST(CliScriptTest, CommandInWrongModeIsAnError) {
  auto r = RunScript("ini-file http://x/y.ini\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("at the top level"), std::string::npos);
}

TEST(CliScriptTest, TableRowsEnterEditDelete) {
  auto r = RunScript(
      "configure voip\n proxy-ip 0\n  proxy-address \"sbc.example.com\"\n  transport-type tls\n "
      "exit\n"
      " proxy-ip 1\n  proxy-address 10.0.0.1\n exit\n no proxy-ip 1\n"
      " number-map 2 3\n  prefix +49\n exit\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].ToString();
  const auto& rows = r.config.tables().at("ProxyIp");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.at({"0"}).at("TransportType"), "2");
  EXPECT_EQ(r.config.tables().at("NumberMap").at({"2", "3"}).at("Prefix"), "+49");
}

TEST(CliScriptTest, CredentialsTwoWords) {
  auto r = RunScript("configure system\n automatic-update\n  credentials joe secret\n");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.config.Get("AUPDUserPassword"), "joe:secret");
}

TEST(CliScriptTest, RoundTripThroughWriteCli) {
  Configuration c(ApplianceSchema());
  ASSERT_TRUE(c.Set("IniFileURL", "http://s/<MAC>.ini"));
  ASSERT_TRUE(c.Set("AupdHttpUserAgent", "Agent \"x\" <MAC> \\ end"));
  ASSERT_TRUE(c.Set("AUPDCheckIfIniChanged", "1"));
  ASSERT_TRUE(c.Set("AupdFilesList", "ini,cpt"));
  ASSERT_TRUE(c.Set("VoiceVolume", "-7"));
  ASSERT_TRUE(c.Set("SyslogServerIP", "10.1.1.1"));
  ASSERT_TRUE(c.Set("EnableSIPRemoteReset", "1"));
  c.MutableTable(*ApplianceSchema().FindTable("ProxyIp"))[{"3"}] = {{"IpAddress", "a b"},
                                                                    {"TransportType", "1"}};
  c.MutableTable(*ApplianceSchema().FindTable("NumberMap"))[{"0", "1"}] = {{"Prefix", "+1"}};
  std::string text = WriteCli(c);
  auto back = RunScript(text);
  ASSERT_TRUE(back.errors.empty()) << back.errors[0].ToString() << "\n" << text;
  EXPECT_EQ(back.config, c) << text;
  // ini -> cli -> ini gives the same configuration too.
  auto again = LoadIni(WriteIni(back.config), "x.ini", Configuration(ApplianceSchema()));
  EXPECT_EQ(again.config, c);
}

TEST(CliScriptTest, SessionPromptAndCompletion) {
  Configuration c(ApplianceSchema());
  CliSession s(c, "shell");
  EXPECT_EQ(s.PromptMode(), "");
  ASSERT_TRUE(s.Execute("configure system", 1));
  EXPECT_EQ(s.PromptMode(), "(config-system)");
  auto top = s.Completions();
  EXPECT_NE(std::find(top.begin(), top.end(), "automatic-update"), top.end());
  ASSERT_TRUE(s.Execute("automatic-update", 2));
  EXPECT_EQ(s.PromptMode(), "(automatic-update)");
  auto cmds = s.Completions();
  EXPECT_NE(std::find(cmds.begin(), cmds.end(), "ini-file"), cmds.end());
  EXPECT_NE(std::find(cmds.begin(), cmds.end(), "crc-check"), cmds.end());
}

}  // namespace
}  // namespace autoprov
