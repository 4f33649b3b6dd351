// SPEC S-7.1, S-7.2, S-7.5: ini grammar, validation, apply modes, round trip.
#include "config/ini.hpp"

#include <gtest/gtest.h>

#include "common/atomic_file.hpp"
#include "config/cli_script.hpp"
#include "test_schema.hpp"

namespace autoprov {
namespace {

using testing::ApplianceSchema;

IniLoadResult Load(std::string_view text, const Configuration* current = nullptr) {
  Configuration empty(ApplianceSchema());
  return LoadIni(text, "t.ini", current ? *current : empty);
}

std::string FirstError(const IniLoadResult& r) {
  return r.errors.empty() ? "" : r.errors[0].ToString();
}

TEST(IniTest, ScalarsCommentsSectionsAndQuotes) {
  auto r = Load(
      "; comment\n# old-style comment\n[SYSTEM Params]\nIniFileURL = 'http://s/<MAC>.ini'\n"
      "  autoupdatecmpfile=1  \nINIFileVersion = ''\nSyslogServerIP = \"10.0.0.1\"\n");
  ASSERT_TRUE(r.errors.empty()) << FirstError(r);
  EXPECT_EQ(r.config.Get("IniFileURL"), "http://s/<MAC>.ini");
  EXPECT_EQ(r.config.Get("AutoUpdateCmpFile"), "1");
  EXPECT_EQ(r.config.Get("SyslogServerIP"), "10.0.0.1");
}

TEST(IniTest, SectionHeaderWithTrailingComment) {
  auto r = Load("[SYSTEM Params] ; general\nAutoUpdateCmpFile = 1\n");
  ASSERT_TRUE(r.errors.empty()) << FirstError(r);
  EXPECT_EQ(r.config.Get("AutoUpdateCmpFile"), "1");
}

TEST(IniTest, CrlfMissingFinalNewlineAndBom) {
  auto text = ReadFile(testing::TestData("crlf_nofinal.ini"));
  ASSERT_TRUE(text);
  auto r = Load(*text);
  ASSERT_TRUE(r.errors.empty()) << FirstError(r);
  EXPECT_EQ(r.config.Get("IniFileURL"), "http://x/y.ini");
  EXPECT_EQ(r.config.Get("AutoUpdateCmpFile"), "1");
  auto bom = ReadFile(testing::TestData("bom.ini"));
  auto rb = Load(*bom);
  ASSERT_TRUE(rb.errors.empty()) << FirstError(rb);
  EXPECT_EQ(rb.config.Get("AutoUpdateCmpFile"), "1");
}

TEST(IniTest, UnknownNamesAreWarningsNotErrors) {
  auto r = Load("EnableSyslog = 1\nAutoUpdateCmpFile = 1\n");
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].line, 1);
  EXPECT_NE(r.warnings[0].message.find("EnableSyslog"), std::string::npos);
}

TEST(IniTest, DeviceExportWithTablesParses) {
  auto text = ReadFile(testing::TestData("device_export.ini"));
  ASSERT_TRUE(text);
  auto r = Load(*text);
  ASSERT_TRUE(r.errors.empty()) << FirstError(r);
  EXPECT_EQ(r.config.Get("SyslogServerIP"), "10.0.0.5");
  EXPECT_EQ(r.config.Get("AUPDCheckIfIniChanged"), "1");
  const auto& rows = r.config.tables().at("ProxyIp");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.at({"0"}).at("IpAddress"), "obsbc-uswe.sdg.teams.microsoft.com");
  EXPECT_EQ(rows.at({"0"}).at("TransportType"), "2");
  // Quoted values keep ; , ' $ = and backslashes; $$ and empty fields mean the default.
  EXPECT_EQ(rows.at({"1"}).at("IpAddress"), "a;b,c'$=\\x");
  EXPECT_FALSE(rows.at({"1"}).contains("TransportType"));
  EXPECT_FALSE(rows.at({"2"}).contains("TransportType"));
  EXPECT_FALSE(rows.at({"2"}).contains("ProxySetId"));  // 0 is the default
  // The unknown PREFIX table is a warning.
  bool prefix_warned = false;
  for (const auto& w : r.warnings) prefix_warned |= w.message.find("PREFIX") != std::string::npos;
  EXPECT_TRUE(prefix_warned);
}

TEST(IniTest, FormatSubsetAnyOrderAnd74StyleIndex) {
  auto r = Load(
      "[ ProxyIp ]\nFORMAT Index = ProxySetId, IpAddress;\nProxyIp 4 = 7, \"h\";\n[ \\ProxyIp ]\n");
  ASSERT_TRUE(r.errors.empty()) << FirstError(r);
  const auto& row = r.config.tables().at("ProxyIp").at({"4"});
  EXPECT_EQ(row.at("ProxySetId"), "7");
  EXPECT_EQ(row.at("IpAddress"), "h");
}

TEST(IniTest, MultiIndexTable) {
  auto r = Load(
      "[ NumberMap ]\nFORMAT NumberMap_Index1, NumberMap_Index2 = NumberMap_Prefix, "
      "NumberMap_Strip;\n"
      "NumberMap 0, 1 = \"+49\", 3;\nNumberMap 1 0 = \"+33\", $$;\n[ \\NumberMap ]\n");
  ASSERT_TRUE(r.errors.empty()) << FirstError(r);
  const auto& rows = r.config.tables().at("NumberMap");
  EXPECT_EQ(rows.at({"0", "1"}).at("Strip"), "3");
  EXPECT_EQ(rows.at({"1", "0"}).at("Prefix"), "+33");
}

struct MalformedCase {
  const char* text;
  int line;
  const char* reason;
};

class IniMalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(IniMalformedTest, RejectedWithLineAndReason) {
  const auto& c = GetParam();
  Configuration before(ApplianceSchema());
  ASSERT_TRUE(before.Set("AutoUpdateCmpFile", "1"));
  auto r = Load(c.text, &before);
  ASSERT_FALSE(r.errors.empty()) << c.text;
  EXPECT_EQ(r.errors[0].line, c.line) << r.errors[0].ToString();
  EXPECT_NE(r.errors[0].message.find(c.reason), std::string::npos) << r.errors[0].ToString();
  EXPECT_EQ(r.errors[0].origin, "t.ini");
}

INSTANTIATE_TEST_SUITE_P(
    Families, IniMalformedTest,
    ::testing::Values(
        MalformedCase{"AutoUpdateCmpFile = 1\nthis line has no equals\n", 2,
                      "expected 'Name = Value'"},
        MalformedCase{"= 5\n", 1, "missing parameter name"},
        MalformedCase{"Bad Name = 5\n", 1, "invalid parameter name"},
        MalformedCase{"IniFileURL = 'http://x\n", 1, "unterminated quoted value"},
        MalformedCase{"AutoUpdateCmpFile = 7\n", 1, "not one of"},
        MalformedCase{"AutoUpdateFreqencySeconds = abc\n", 1, "not an integer"},
        MalformedCase{"AutoUpdateFreqencySeconds = 999999\n", 1, "outside 0..604800"},
        MalformedCase{"AutoUpdatePredefinedTime = '25:00'\n", 1, "not a time"},
        MalformedCase{"IniFileURL = 'no-scheme'\n", 1, "not a URL"},
        MalformedCase{"[SYSTEM Params\n", 1, "without closing"},
        MalformedCase{"[]\n", 1, "empty section"},
        MalformedCase{"[ \\ProxyIp ]\n", 1, "without its start"},
        MalformedCase{
            "[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nProxyIp 0 = \"a\";\n", 3,
            "not closed"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nProxyIp 0 = \"a\", "
                      "2;\n[ \\ProxyIp ]\n",
                      3, "FORMAT names 1 column"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nProxyIp 0 = \"a;\n[ "
                      "\\ProxyIp ]\n",
                      3, "unterminated double-quoted"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nOther 0 = \"a\";\n[ "
                      "\\ProxyIp ]\n",
                      3, "does not belong"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_Bogus;\n[ \\ProxyIp ]\n", 1,
                      "no column 'ProxyIp_Bogus'"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_ProxySetId;\nProxyIp 0 = "
                      "100;\n[ \\ProxyIp ]\n",
                      3, "outside 0..99"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_ProxySetId;\nProxyIp 0 = "
                      "1;\nProxyIp 0 = 2;\n[ \\ProxyIp ]\n",
                      4, "appears twice"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_ProxySetId;\nProxyIp x = 1;\n[ "
                      "\\ProxyIp ]\n",
                      3, "index"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nProxyIp 0 = \"a\" "
                      "junk;\n[ \\ProxyIp ]\n",
                      3, "after a closing quote"},
        MalformedCase{"[A]\nX = 1\nFORMAT A_Index = A_B;\n", 3, "FORMAT line outside"},
        MalformedCase{"[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\n[ \\Other ]\n", 3,
                      "is open"},
        MalformedCase{
            "[ NumberMap ]\nFORMAT NumberMap_Index = NumberMap_Prefix;\n[ \\NumberMap ]\n", 1,
            "index column"},
        MalformedCase{"ProxyIp = 1\n", 1, "is a table"}));

TEST(IniTest, BinaryDataIsAnError) {
  std::string text = "AutoUpdateCmpFile = 1\nVoiceVolume = 1";
  text.push_back('\0');
  text += "\n";
  auto r = Load(text);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_NE(r.errors[0].message.find("NUL"), std::string::npos);
}

TEST(IniTest, ErrorsReportEveryBadLine) {
  auto r = Load("AutoUpdateCmpFile = 9\nok line\nAUPDTftpBlockSize = 1\n");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_EQ(r.errors[1].line, 2);
  EXPECT_EQ(r.errors[2].line, 3);
}

TEST(IniTest, ReplaceModeReturnsAbsentParametersToDefaults) {
  Configuration cur(ApplianceSchema());
  ASSERT_TRUE(cur.Set("CptFileURL", "http://a/b.dat"));
  ASSERT_TRUE(cur.Set("VoiceVolume", "5"));
  auto r = Load("AutoUpdateCmpFile = 1\n", &cur);
  ASSERT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.replaced);
  EXPECT_EQ(r.config.Get("CptFileURL"), "");
  EXPECT_EQ(r.config.Get("VoiceVolume"), "0");
  EXPECT_EQ(r.config.Get("AutoUpdateCmpFile"), "1");
}

TEST(IniTest, IncrementalModeKeepsAbsentParameters) {
  Configuration cur(ApplianceSchema());
  ASSERT_TRUE(cur.Set("CptFileURL", "http://a/b.dat"));
  ASSERT_TRUE(cur.Set("SetDefaultOnINIFileProcess", "0"));
  auto r = Load("AutoUpdateCmpFile = 1\n", &cur);
  ASSERT_TRUE(r.errors.empty());
  EXPECT_FALSE(r.replaced);
  EXPECT_EQ(r.config.Get("CptFileURL"), "http://a/b.dat");
  // The file itself may ask for incremental processing.
  Configuration cur2(ApplianceSchema());
  ASSERT_TRUE(cur2.Set("CptFileURL", "http://a/b.dat"));
  auto r2 = Load("SetDefaultOnINIFileProcess = 0\nAutoUpdateCmpFile = 1\n", &cur2);
  EXPECT_EQ(r2.config.Get("CptFileURL"), "http://a/b.dat");
}

TEST(IniTest, IncrementalTablesMergeRowsReplaceModeReplacesThem) {
  Configuration cur(ApplianceSchema());
  cur.MutableTable(*ApplianceSchema().FindTable("ProxyIp"))[{"0"}] = {{"IpAddress", "old0"}};
  cur.MutableTable(*ApplianceSchema().FindTable("ProxyIp"))[{"1"}] = {{"IpAddress", "old1"}};
  std::string file =
      "[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress;\nProxyIp 1 = \"new1\";\n[ \\ProxyIp "
      "]\n";
  auto inc = LoadIni(file, "t.ini", cur, IniApplyMode::kIncremental);
  ASSERT_TRUE(inc.errors.empty());
  EXPECT_EQ(inc.config.tables().at("ProxyIp").size(), 2u);
  EXPECT_EQ(inc.config.tables().at("ProxyIp").at({"1"}).at("IpAddress"), "new1");
  auto rep = LoadIni(file, "t.ini", cur, IniApplyMode::kReplace);
  EXPECT_EQ(rep.config.tables().at("ProxyIp").size(), 1u);
}

TEST(IniTest, ResetNowIsReportedNotStored) {
  auto r = Load("ResetNow = 1\nAutoUpdateCmpFile = 1\n");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.reset_now);
  EXPECT_FALSE(r.config.scalars().contains("ResetNow"));
}

TEST(IniTest, RoundTripThroughWriteIni) {
  auto text = ReadFile(testing::TestData("device_export.ini"));
  auto r = Load(*text);
  ASSERT_TRUE(r.errors.empty());
  Configuration c = r.config;
  ASSERT_TRUE(c.Set("AupdFilesList", "'ini', 'fk'"));
  ASSERT_TRUE(c.Set("AupdHttpUserAgent", "My 'Agent' <MAC>"));
  ASSERT_TRUE(c.Set("AutoUpdatePredefinedTime", "03:00"));
  c.MutableTable(*ApplianceSchema().FindTable("NumberMap"))[{"2", "3"}] = {{"Prefix", "+1"},
                                                                           {"Strip", "2"}};
  std::string written = WriteIni(c);
  auto back = Load(written);
  ASSERT_TRUE(back.errors.empty()) << FirstError(back) << "\n" << written;
  EXPECT_TRUE(back.warnings.empty());
  EXPECT_EQ(back.config, c) << written;
}

TEST(IniTest, SecretsAreNeverWrittenInClear) {
  Configuration c(ApplianceSchema());
  ASSERT_TRUE(c.Set("AUPDUserPassword", "joe:s3cr3t-pw"));
  std::string written = WriteIni(c);
  EXPECT_EQ(written.find("s3cr3t-pw"), std::string::npos);
  EXPECT_NE(written.find(";AUPDUserPassword is hidden"), std::string::npos);
}

TEST(IniTest, RestartChangesDetected) {
  Configuration before(ApplianceSchema());
  auto r = Load("VoiceVolume = 3\nAutoUpdateCmpFile = 1\n", &before);
  auto changed = r.config.RestartChangesFrom(before);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0], "VoiceVolume");
}

}  // namespace
}  // namespace autoprov

namespace autoprov {
namespace {

// S-9.2: a replace-mode ini with no known setting is rejected, and says why; incremental, it is
// empty.
TEST(IniLifelineTest, EmptyFilesAndLifelineParameters) {
  Schema schema = Schema::BuiltIn();
  Configuration current(schema);
  ASSERT_TRUE(current.Set("IniFileURL", "http://prov/x.ini"));
  ASSERT_TRUE(current.Set("INIFileVersion", "v1"));
  auto unknown = LoadIni("VoiceVolume = 3\n", "x.ini", current, IniApplyMode::kReplace);
  ASSERT_EQ(unknown.errors.size(), 1u);
  EXPECT_NE(unknown.errors[0].message.find("no parameter this device knows (1 ignored)"),
            std::string::npos)
      << unknown.errors[0].message;
  EXPECT_TRUE(unknown.config == current);
  auto incremental = LoadIni("; nothing\n", "x.ini", current, IniApplyMode::kIncremental);
  EXPECT_TRUE(incremental.errors.empty());
  EXPECT_TRUE(incremental.empty);
  auto replace = LoadIni("AutoUpdateFrequency = 5\n", "x.ini", current, IniApplyMode::kReplace);
  ASSERT_TRUE(replace.errors.empty());
  EXPECT_EQ(replace.config.Get("IniFileURL"), "http://prov/x.ini") << "a lifeline parameter stays";
  EXPECT_EQ(replace.config.Get("INIFileVersion"), "") << "the rest returns to defaults";
  auto script = LoadCliScript("! only a comment\n", "s.txt", current, CliScriptKind::kStartup);
  EXPECT_EQ(script.errors.size(), 1u);
  EXPECT_TRUE(script.empty);
}

}  // namespace
}  // namespace autoprov
