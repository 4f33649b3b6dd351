// SPEC S-7.4: the schema and value validation.
#include "config/schema.hpp"

#include <gtest/gtest.h>

#include "config/builtin_schema.hpp"
#include "test_schema.hpp"

namespace autoprov {
namespace {

// The built-in schema comes from tables generated at build time; read as a schema file, the same
// JSON gives the same parameters, field by field (enum choices in the same order, the same
// defaults).
TEST(SchemaTest, GeneratedBuiltInTablesEqualTheSchemaFileReadAsJson) {
  auto from_json = Schema::FromJson(kBuiltinSchemaJson, "built-in schema");
  ASSERT_TRUE(from_json) << from_json.error().message;
  const Schema& built_in = Schema::BuiltIn();
  ASSERT_EQ(built_in.params().size(), from_json->params().size());
  ASSERT_GT(built_in.params().size(), 30u);
  for (size_t i = 0; i < built_in.params().size(); ++i) {
    const ParamSpec& a = built_in.params()[i];
    const ParamSpec& b = from_json->params()[i];
    SCOPED_TRACE(b.name);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.value.type, b.value.type);
    EXPECT_EQ(a.value.min, b.value.min);
    EXPECT_EQ(a.value.max, b.value.max);
    EXPECT_EQ(a.value.max_length, b.value.max_length);
    EXPECT_EQ(a.value.secret, b.value.secret);
    EXPECT_EQ(a.value.default_value, b.value.default_value);
    EXPECT_EQ(a.value.allowed, b.value.allowed);
    EXPECT_EQ(a.value.format, b.value.format);
    ASSERT_EQ(a.value.choices.size(), b.value.choices.size());
    for (size_t c = 0; c < a.value.choices.size(); ++c) {
      EXPECT_EQ(a.value.choices[c].cli_name, b.value.choices[c].cli_name);
      EXPECT_EQ(a.value.choices[c].value, b.value.choices[c].value);
    }
    EXPECT_EQ(a.cli_modes, b.cli_modes);
    EXPECT_EQ(a.cli_command, b.cli_command);
    EXPECT_EQ(a.restart, b.restart);
    EXPECT_EQ(a.transient, b.transient);
    EXPECT_EQ(a.lifeline, b.lifeline);
    EXPECT_EQ(a.description, b.description);
  }
  EXPECT_TRUE(built_in.tables().empty());
}

TEST(SchemaTest, BuiltInHasEveryAutomaticUpdateParameter) {
  const Schema& s = Schema::BuiltIn();
  for (const char* name : {"IniFileURL",
                           "CliScriptURL",
                           "CLIStartupScriptUrl",
                           "AutoCmpFileUrl",
                           "CmpFileURL",
                           "FeatureKeyURL",
                           "CptFileURL",
                           "PrtFileURL",
                           "VpFileUrl",
                           "DialPlanFileURL",
                           "UserInfoFileURL",
                           "TLSRootFileUrl",
                           "TLSCertFileUrl",
                           "TLSPkeyFileUrl",
                           "AutoUpdateCmpFile",
                           "AutoUpdateFrequency",
                           "AutoUpdateFreqencySeconds",
                           "AutoUpdatePredefinedTime",
                           "AutoUpdatePredefinedRandomTime",
                           "AUPDCheckIfIniChanged",
                           "AupdHttpUserAgent",
                           "AUPDUserPassword",
                           "AUPDDigestUsername",
                           "AUPDDigestPassword",
                           "AUPDVerifyCertificates",
                           "TemplateUrl",
                           "AupdFilesList",
                           "SetDefaultOnINIFileProcess",
                           "ResetNow",
                           "INIFileVersion",
                           "AutoUpdateOnStartup",
                           "EnableSIPRemoteReset",
                           "AUPDTftpBlockSize"}) {
    EXPECT_NE(s.FindParam(name), nullptr) << name;
  }
}

TEST(SchemaTest, NamesAreCaseInsensitive) {
  const ParamSpec* p = Schema::BuiltIn().FindParam("inifileurl");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "IniFileURL");
  EXPECT_EQ(p->cli_command, "ini-file");
  ASSERT_EQ(p->cli_modes.size(), 2u);
  EXPECT_EQ(p->cli_modes[0], "configure system");
}

// Lookups are memoised per thread by where the name is: the answer still follows the schema asked
// and the name's content, whatever buffer it is in.
TEST(SchemaTest, LookupsFollowTheSchemaAndTheName) {
  Schema base = Schema::BuiltIn();
  Schema extended = base;
  auto extra = Schema::FromJson(R"({"parameters":[{"name":"ApplianceMode","type":"integer"}]})",
                                "extra.json");
  ASSERT_TRUE(extra);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(base.FindParam("ApplianceMode"), nullptr);
    EXPECT_EQ(extended.FindParam("ApplianceMode"), nullptr);
  }
  ASSERT_TRUE(extended.Merge(*extra));
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(extended.FindParam("ApplianceMode"), nullptr);
    EXPECT_EQ(base.FindParam("ApplianceMode"), nullptr);
    EXPECT_EQ(extended.FindParam("IniFileURL")->name, "IniFileURL");
    const ParamSpec* own = base.FindParam("IniFileURL");  // base's own spec, not the copy's
    EXPECT_TRUE(own >= &base.params().front() && own <= &base.params().back());
  }
  std::string name = "IniFileURL";
  EXPECT_EQ(base.FindParam(name)->name, "IniFileURL");
  name.assign("CptFileURL");  // same buffer, same length, another name
  ASSERT_NE(base.FindParam(name), nullptr);
  EXPECT_EQ(base.FindParam(name)->name, "CptFileURL");
  name.assign("inifileurl");
  EXPECT_EQ(base.FindParam(name)->name, "IniFileURL");
  name.assign("NoSuchName");
  EXPECT_EQ(base.FindParam(name), nullptr);
}

TEST(SchemaTest, SecretsAndDefaults) {
  const Schema& s = Schema::BuiltIn();
  EXPECT_TRUE(s.FindParam("AUPDUserPassword")->value.secret);
  EXPECT_EQ(s.FindParam("AupdHttpUserAgent")->value.default_value,
            "Mozilla/4.0 (compatible; AudioCodes; <NAME>;<VER>;<MAC>;<CONF>)");
  EXPECT_EQ(s.FindParam("SetDefaultOnINIFileProcess")->value.default_value, "1");
  EXPECT_EQ(s.FindParam("AUPDVerifyCertificates")->value.default_value, "1");
}

TEST(SchemaTest, IntegerRange) {
  const auto& v = Schema::BuiltIn().FindParam("AutoUpdateFreqencySeconds")->value;
  EXPECT_EQ(*NormalizeValue(v, " 604800 ", false), "604800");
  EXPECT_FALSE(NormalizeValue(v, "604801", false));
  EXPECT_FALSE(NormalizeValue(v, "-1", false));
  EXPECT_FALSE(NormalizeValue(v, "12abc", false));
  EXPECT_FALSE(NormalizeValue(v, "", false));
}

TEST(SchemaTest, EnumByNumberOrCliName) {
  const auto& v = Schema::BuiltIn().FindParam("AUPDCheckIfIniChanged")->value;
  EXPECT_EQ(*NormalizeValue(v, "2", false), "2");
  EXPECT_EQ(*NormalizeValue(v, "voice-conf-ordered", true), "2");
  EXPECT_FALSE(NormalizeValue(v, "3", false));
  auto bad = NormalizeValue(v, "sometimes", true);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("off|regular|voice-conf-ordered"), std::string::npos);
  EXPECT_EQ(CliValue(v, "1"), "regular");
}

TEST(SchemaTest, StringLengthAndUrl) {
  const auto& ua = Schema::BuiltIn().FindParam("AupdHttpUserAgent")->value;
  EXPECT_TRUE(NormalizeValue(ua, std::string(511, 'a'), false));
  EXPECT_FALSE(NormalizeValue(ua, std::string(512, 'a'), false));
  const auto& url = Schema::BuiltIn().FindParam("IniFileURL")->value;
  EXPECT_TRUE(NormalizeValue(url, "http://srv/config_<MAC>.ini", false));
  EXPECT_EQ(*NormalizeValue(url, "0", false), "");  // vendor files clear a URL with 0
  EXPECT_FALSE(NormalizeValue(url, "srv/config.ini", false));
  EXPECT_FALSE(NormalizeValue(url, "http://srv/a b.ini", false));
}

TEST(SchemaTest, TimeAndList) {
  const Schema& s = Schema::BuiltIn();
  const auto& t = s.FindParam("AutoUpdatePredefinedTime")->value;
  EXPECT_EQ(*NormalizeValue(t, "03:00", false), "03:00");
  EXPECT_FALSE(NormalizeValue(t, "24:00", false));
  EXPECT_FALSE(NormalizeValue(t, "3:00", false));
  const auto& l = s.FindParam("AupdFilesList")->value;
  EXPECT_EQ(*NormalizeValue(l, "'ini', 'FK', 'cpt'", false), "ini,fk,cpt");
  EXPECT_EQ(*NormalizeValue(l, "ini,fk", true), "ini,fk");
  EXPECT_FALSE(NormalizeValue(l, "ini,bogus", true));
}

TEST(SchemaTest, ApplianceSchemaMerges) {
  const Schema& s = testing::ApplianceSchema();
  ASSERT_NE(s.FindParam("VoiceVolume"), nullptr);
  EXPECT_TRUE(s.FindParam("VoiceVolume")->restart);
  const TableSpec* t = s.FindTable("proxyip");
  ASSERT_NE(t, nullptr);
  EXPECT_NE(t->FindColumn("ProxyIp_IpAddress"), nullptr);
  EXPECT_NE(t->FindColumn("IpAddress"), nullptr);
  EXPECT_EQ(s.FindTable("NumberMap")->index_columns.size(), 2u);
}

TEST(SchemaTest, DuplicateAndMalformedSchemaFilesAreErrors) {
  Schema s = Schema::BuiltIn();
  auto dup = Schema::FromJson(R"({"parameters":[{"name":"inifileurl","type":"url"}]})", "dup.json");
  ASSERT_TRUE(dup);
  EXPECT_FALSE(s.Merge(*dup));
  EXPECT_FALSE(Schema::FromJson("{not json", "bad.json"));
  EXPECT_FALSE(Schema::FromJson(R"({"parameters":[{"name":"X","type":"float"}]})", "t.json"));
  EXPECT_FALSE(Schema::FromJson(
      R"({"parameters":[{"name":"X","type":"integer","min":0,"max":5,"default":"9"}]})", "d.json"));
}

}  // namespace
}  // namespace autoprov
