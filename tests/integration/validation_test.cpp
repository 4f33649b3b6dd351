// One validation (S-7.8): `config validate`, `config set` and a run judge alike. A corpus of files
// — the real-world exports in the repository, hostile and broken ones — is validated and served to
// a fresh device by nginx; the two verdicts must agree on every file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../app/command_runner.hpp"
#include "support/servers.hpp"

namespace autoprov {
namespace {

using namespace testing;

class ValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nginx_.ok());
    dir_ = MakeTempDir("validation");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string State(const std::string& name) {
    return " --state-dir " + (dir_ / name).string() +
           " --product Mediant --mac 00:90:8f:00:00:25 --serial 25 --sw-version 7.20A.250.001";
  }
  Nginx nginx_;
  std::filesystem::path dir_;
};

struct Case {
  std::string name, text;
};

std::vector<Case> Corpus(const Nginx& nginx) {
  std::vector<Case> out;
  // The real-world files of the repository: device exports, examples, the fuzzers' seeds.
  for (const char* dir :
       {"tests/config/testdata", "fuzz/corpus/ini", "fuzz/corpus/cli", "examples/provisioning/cfg"})
    for (const auto& e :
         std::filesystem::directory_iterator(std::filesystem::path(AUTOPROV_SOURCE_DIR) / dir))
      out.push_back({e.path().filename().string(), ReadText(e.path())});
  out.push_back({"bootstrap.ini",
                 ReadText(std::filesystem::path(AUTOPROV_SOURCE_DIR) / "examples/bootstrap.ini")});
  std::string url = nginx.Url("/v/x.ini");
  std::vector<Case> made = {
      {"empty.ini", ""},
      {"comments-only.ini", "; nothing but comments\n# and another\n"},
      {"sections-only.ini", "[SYSTEM Params]\n\n[ \\SYSTEM Params ]\n"},
      {"incremental-empty.ini", "SetDefaultOnINIFileProcess = 0\n"},
      {"binary.ini", std::string("AutoUpdateFrequency = 60\n\x7f"
                                 "ELF\x02\x01\x01\0\0\0garbage\n",
                                 40)},
      {"typo.ini", "AutoUpdateFrequncy = 60\nINIFileVersion = 'x'\n"},
      {"syntax.ini", "AutoUpdateFrequency = 60\nBogusLine without equals\n"},
      {"out-of-range.ini", "AUPDTftpBlockSize = 99999999\n"},
      {"bad-enum.ini", "AupdReportMethod = 'patch'\n"},
      {"scheme-only.ini", "IniFileURL = 'http://'\n"},
      {"port-range.ini", "IniFileURL = 'http://127.0.0.1:99999/x.ini'\n"},
      {"open-bracket.ini", "IniFileURL = 'http://[::1/x.ini'\n"},
      {"lowercase-mac.ini", "IniFileURL = 'http://127.0.0.1/<mac>.ini'\n"},
      {"ver-in-url.ini", "AutoCmpFileUrl = 'http://127.0.0.1/fw/Mediant_<VER>.cmp'\n"},
      {"unclosed-mac.ini", "IniFileURL = 'http://127.0.0.1/cfg_<MAC.ini'\n"},
      {"file-url.ini", "CliScriptURL = 'file:///etc/passwd'\n"},
      {"report-ftp.ini", "AupdReportUrl = 'ftp://127.0.0.1/r.json'\n"},
      {"two-intervals.ini", "AutoUpdateFrequency = 60\nAutoUpdateFreqencySeconds = 600\n"},
      {"interval-and-time.ini", "AutoUpdateFrequency = 60\nAutoUpdatePredefinedTime = '03:00'\n"},
      {"good-mac-url.ini",
       "IniFileURL = '" + url + "'\nCliScriptURL = 'http://127.0.0.1/<MAC>.cli'\n"},
      {"ipv6.ini", "AutoCmpFileUrl = 'http://[::1]:8080/fw/Mediant_7.20A.252.011.cmp'\n"},
      {"user-agent.ini", "AupdHttpUserAgent = 'dev <NAME> <MAC> <VER> <CONF>'\n"},
      {"user-agent-bad.ini", "AupdHttpUserAgent = 'dev <name>'\n"},
      {"many-errors.ini",
       [] {
         std::string t;
         for (int i = 0; i < 150; ++i) t += "broken line " + std::to_string(i) + "\n";
         return t;
       }()},
      {"table.ini",
       "[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_IpAddress, ProxyIp_ProxySetId;\nProxyIp 0 = "
       "\"10.1.1.1\", 1;\n[ \\ProxyIp ]\n"},
      {"cli-good.cli", "configure system\n automatic-update\n  tftp-block-size 1428\n"},
      {"cli-unknown.cli", "configure system\n automatic-update\n  no-such-command 1\n"},
      {"cli-show.cli", "show running-config\n"},
      {"cli-bad-url.cli", "configure system\n automatic-update\n  ini-file http://[::1/x.ini\n"},
      {"cli-two-intervals.cli",
       "configure system\n automatic-update\n  update-frequency 60\n  update-frequency-sec 600\n"},
  };
  out.insert(out.end(), made.begin(), made.end());
  return out;
}

// Reproductions 1 and 2 in one: each file's verdict from `config validate` and from a run that
// downloads it (as the ini file, or the CLI script for .cli files) are the same.
TEST_F(ValidationTest, ValidateAndARunAgreeOnACorpus) {
  auto corpus = Corpus(nginx_);
  ASSERT_GE(corpus.size(), 30u);
  int rejected = 0, n = 0;
  for (const auto& c : corpus) {
    SCOPED_TRACE(c.name);
    bool cli = c.name.ends_with(".cli");
    auto file = dir_ / "files" / c.name;
    WriteText(file, c.text);
    auto v = RunCommand("config validate " + file.string());
    ASSERT_TRUE(v.exit_code == 0 || v.exit_code == 1) << v.out;
    // A fresh device that downloads it.
    std::string st = State("dev" + std::to_string(n++));
    std::string path = "/v/" + c.name;
    WriteText(nginx_.root() / path.substr(1), c.text);
    ASSERT_EQ(RunCommand("config set " + std::string(cli ? "CliScriptURL " : "IniFileURL ") +
                         nginx_.Url(path) + st)
                  .exit_code,
              0);
    auto run = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " update --json" + st +
                          " 2>/dev/null'");
    auto j = nlohmann::json::parse(run.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << run.out;
    std::string outcome;
    for (const auto& s : j["steps"])
      if (s["kind"] == (cli ? "cli-script" : "ini")) outcome = s["outcome"];
    bool run_rejects = outcome == "rejected";
    EXPECT_TRUE(outcome == "rejected" || outcome == "applied" || outcome == "empty")
        << outcome << "\n"
        << j.dump(2);
    EXPECT_EQ(v.exit_code == 1, run_rejects) << "validate says:\n"
                                             << v.out << "a run says:\n"
                                             << j.dump(2);
    rejected += run_rejects;
  }
  std::printf("corpus: %zu files, %d rejected by both\n", corpus.size(), rejected);
  EXPECT_GE(rejected, 15);
}

// Reproduction 1: an empty and a comment-only file are rejected (replace mode, as a device
// downloads them); --incremental judges them as incremental files; a typo gets a suggestion; the
// report of a file with many bad lines lists 100 and counts the rest; a binary file is named.
TEST_F(ValidationTest, ValidateAnswersAsADeviceWould) {
  WriteText(dir_ / "empty.ini", "");
  WriteText(dir_ / "comments.ini", "; only a comment\n");
  for (const char* f : {"empty.ini", "comments.ini"}) {
    auto r = RunCommand("config validate " + (dir_ / f).string());
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("empty configuration file"), std::string::npos) << r.out;
    auto inc = RunCommand("config validate --incremental " + (dir_ / f).string());
    EXPECT_EQ(inc.exit_code, 0) << inc.out;
  }
  WriteText(dir_ / "typo.ini", "AutoUpdateFrequncy = 60\nINIFileVersion = 'x'\n");
  auto typo = RunCommand("config validate " + (dir_ / "typo.ini").string());
  EXPECT_EQ(typo.exit_code, 0) << typo.out;
  EXPECT_NE(typo.out.find("did you mean 'AutoUpdateFrequency'?"), std::string::npos) << typo.out;
  std::string many;
  for (int i = 0; i < 150; ++i) many += "broken line " + std::to_string(i) + "\n";
  WriteText(dir_ / "many.ini", many);
  auto lots = RunCommand("config validate " + (dir_ / "many.ini").string());
  EXPECT_NE(lots.out.find("and 50 more error(s)"), std::string::npos) << lots.out;
  EXPECT_EQ(lots.out.find("broken line 120"), std::string::npos);
  WriteText(dir_ / "bin.ini", std::string("\x7f"
                                          "ELF\x02\x01\0\0garbage\nmore\x01\x02\n",
                                          22));
  auto bin = RunCommand("config validate " + (dir_ / "bin.ini").string());
  EXPECT_EQ(bin.exit_code, 1);
  EXPECT_NE(bin.out.find("not a text file"), std::string::npos) << bin.out;
}

// Reproduction 2: `config set` refuses what a run refuses, naming the problem; a local command may
// still set a file: URL (S-9.10).
TEST_F(ValidationTest, ConfigSetRefusesWhatARunWouldRefuse) {
  std::string st = State("set");
  struct Refused {
    std::string name, value, says;
  };
  for (const auto& r : std::vector<Refused>{
           {"IniFileURL", "http://", "no host"},
           {"IniFileURL", "http://127.0.0.1:99999/x.ini", "outside 1-65535"},
           {"IniFileURL", "http://[::1/x.ini", "unclosed '['"},
           {"IniFileURL", "http://127.0.0.1/<mac>.ini", "case-sensitive, write <MAC>"},
           {"AutoCmpFileUrl", "http://127.0.0.1/Mediant_<VER>.cmp", "'<VER>' is not expanded"},
           {"IniFileURL", "http://127.0.0.1/cfg_<MAC.ini", "unclosed placeholder"},
           {"AupdReportUrl", "ftp://127.0.0.1/r.json", "http or https only"},
       }) {
    SCOPED_TRACE(r.name + " " + r.value);
    auto out = RunCommand("config set " + r.name + " '" + r.value + "'" + st);
    EXPECT_NE(out.exit_code, 0) << out.out;
    EXPECT_NE(out.out.find(r.says), std::string::npos) << out.out;
  }
  EXPECT_EQ(RunCommand("config get IniFileURL" + st).out, "\n") << "nothing was set";
  ASSERT_EQ(RunCommand("config set AutoUpdateFrequency 60" + st).exit_code, 0);
  auto both = RunCommand("config set AutoUpdateFreqencySeconds 600" + st);
  EXPECT_NE(both.exit_code, 0) << both.out;
  EXPECT_NE(both.out.find("two update intervals"), std::string::npos) << both.out;
  auto time = RunCommand("config set AutoUpdatePredefinedTime 03:00" + st);
  EXPECT_NE(time.exit_code, 0) << time.out;
  EXPECT_NE(time.out.find("S-6.3"), std::string::npos) << time.out;
  EXPECT_EQ(RunCommand("config set CliScriptURL file:///tmp/local.cli" + st).exit_code, 0);
  // DHCP is the network's word, as a downloaded file is (S-9.10): no file: URL, no broken URL.
  for (const char* given : {"file:///etc/passwd", "http://[::1/x.ini"}) {
    auto dhcp = RunCommand(std::string("dhcp-hook --option160 '") + given + "'" + st);
    EXPECT_NE(dhcp.exit_code, 0) << given << dhcp.out;
  }
  EXPECT_EQ(RunCommand("config set IniFileURL 'http://127.0.0.1/<MAC>.ini'" + st).exit_code, 0);
}

// Reproduction 5: secret parameters and URL passwords are hidden alike by `config get` and `config
// show` (ini, cli, json); `config show | config load` keeps them on the same device; --with-secrets
// prints them for another device, into a 0600 file with -o.
TEST_F(ValidationTest, OneRuleForSecrets) {
  std::string st = State("secrets");
  ASSERT_EQ(RunCommand("config set SipNotifyPassword s3cret" + st).exit_code, 0);
  ASSERT_EQ(RunCommand("config set IniFileURL 'http://joe:pw9@127.0.0.1/a.ini'" + st).exit_code, 0);
  ASSERT_EQ(RunCommand("config set AUPDTftpBlockSize 1428" + st).exit_code, 0);
  auto get = RunCommand("config get IniFileURL" + st);
  EXPECT_EQ(get.out, "http://joe:***@127.0.0.1/a.ini\n");
  for (const char* format : {"ini", "cli", "json"}) {
    auto show = RunCommand(std::string("config show --format ") + format + st);
    EXPECT_EQ(show.out.find("s3cret"), std::string::npos) << format << show.out;
    EXPECT_EQ(show.out.find("pw9"), std::string::npos) << format << show.out;
  }
  auto ini = RunCommand("config show" + st);
  EXPECT_NE(ini.out.find(";IniFileURL is hidden but has non-default value"), std::string::npos)
      << ini.out;
  // The round trip on the same device keeps what was hidden.
  WriteText(dir_ / "shown.ini", ini.out);
  ASSERT_EQ(RunCommand("config set AUPDTftpBlockSize 512" + st).exit_code, 0);
  auto load = RunCommand("config load " + (dir_ / "shown.ini").string() + st);
  ASSERT_EQ(load.exit_code, 0) << load.out;
  auto full = RunCommand("config show --with-secrets" + st);
  EXPECT_NE(full.out.find("SipNotifyPassword = 's3cret'"), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("IniFileURL = 'http://joe:pw9@127.0.0.1/a.ini'"), std::string::npos)
      << full.out;
  EXPECT_NE(full.out.find("AUPDTftpBlockSize = 1428"), std::string::npos) << full.out;
  // For another device: with the secrets, into a file only its owner reads.
  auto out = dir_ / "move.ini";
  ASSERT_EQ(RunCommand("config show --with-secrets -o " + out.string() + st).exit_code, 0);
  EXPECT_NE(ReadText(out).find("s3cret"), std::string::npos);
  EXPECT_EQ(std::filesystem::status(out).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::string other = State("other");
  ASSERT_EQ(RunCommand("config load " + out.string() + other).exit_code, 0);
  EXPECT_NE(RunCommand("config show --with-secrets" + other).out.find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace autoprov
