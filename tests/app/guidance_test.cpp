// A CLI that guides (issue: first contact): what a new user sees when a word is mistyped, a path
// is wrong or a permission is missing; `config get`, `config validate`, `config show --json`;
// `--version`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "command_runner.hpp"

namespace autoprov {
namespace {

using testing::FreshDir;
using testing::RunCommand;
using testing::RunProgram;

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

class GuidanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir("guidance");
    st_ = " --state-dir " + (dir_ / "st").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string st_;
};

TEST_F(GuidanceTest, AMistypedSubcommandOrOptionNamesTheClosestOne) {
  auto r = RunCommand("updte" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("unknown subcommand 'updte'; did you mean 'update'?"), std::string::npos)
      << r.out;
  r = RunCommand("config sett IniFileURL x" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("unknown subcommand 'sett' of 'config'; did you mean 'set'?"),
            std::string::npos)
      << r.out;
  r = RunCommand("status --sate-dir " + (dir_ / "st").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("unknown option '--sate-dir'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("did you mean '--state-dir'?"), std::string::npos) << r.out;
  r = RunCommand("update --jsno" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("did you mean '--json'?"), std::string::npos) << r.out;
  // Nothing close: the list of what there is.
  r = RunCommand("frobnicate" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("(one of: config, update"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "st")) << "a usage error touches nothing";
}

// Truthful reports, reproduction 6: a command that needs a subcommand lists them (as git does)
// instead of "A subcommand is required".
TEST_F(GuidanceTest, ACommandWithoutItsSubcommandListsThem) {
  auto r = RunCommand("config");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.out.find("A subcommand is required"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'autoprov config' needs a subcommand"), std::string::npos) << r.out;
  for (const char* sub : {"load", "show", "get", "set", "validate"})
    EXPECT_NE(r.out.find("\n  " + std::string(sub) + " "), std::string::npos) << sub << r.out;
  auto top = RunCommand("");
  EXPECT_EQ(top.exit_code, 2);
  EXPECT_NE(top.out.find("\n  update "), std::string::npos) << top.out;
}

TEST_F(GuidanceTest, AMistypedParameterNamesTheClosestOne) {
  ASSERT_EQ(RunCommand("config set IniFileURL http://127.0.0.1/a.ini" + st_).exit_code, 0);
  auto r = RunCommand("config set IniFileUrll http://127.0.0.1/b.ini" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("unknown parameter 'IniFileUrll'; did you mean 'IniFileURL'?"),
            std::string::npos)
      << r.out;
  r = RunCommand("config get AutoUpdateFrequncy" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("did you mean 'AutoUpdateFrequency'?"), std::string::npos) << r.out;
}

TEST_F(GuidanceTest, ConfigSetRejectsWhatARunWouldReject) {
  auto r = RunCommand("config set IniFileURL gopher://127.0.0.1/a.ini" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("unsupported scheme 'gopher'"), std::string::npos) << r.out;
  r = RunCommand("config set IniFileURL http//127.0.0.1/a.ini" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("is not a URL"), std::string::npos) << r.out;
  // S-6.3: an interval and a daily time exclude each other; the second one is refused.
  ASSERT_EQ(RunCommand("config set AutoUpdateFrequency 60" + st_).exit_code, 0);
  r = RunCommand("config set AutoUpdatePredefinedTime 03:00" + st_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("exclude each other (S-6.3); clear AutoUpdateFrequency"), std::string::npos)
      << r.out;
  EXPECT_EQ(RunCommand("config get AutoUpdatePredefinedTime" + st_).out, "\n");
  ASSERT_EQ(RunCommand("config set AutoUpdateFrequency 0" + st_).exit_code, 0);
  EXPECT_EQ(RunCommand("config set AutoUpdatePredefinedTime 03:00" + st_).exit_code, 0);
  EXPECT_EQ(RunCommand("config get AutoUpdatePredefinedTime" + st_).out, "03:00\n");
}

TEST_F(GuidanceTest, ConfigGetShowJsonAndSecrets) {
  ASSERT_EQ(RunCommand("config set IniFileURL http://127.0.0.1/a.ini" + st_).exit_code, 0);
  ASSERT_EQ(RunCommand("config set AUPDUserPassword joe:s3cret" + st_).exit_code, 0);
  EXPECT_EQ(RunCommand("config get IniFileURL" + st_).out, "http://127.0.0.1/a.ini\n");
  EXPECT_EQ(RunCommand("config get inifileurl" + st_).out, "http://127.0.0.1/a.ini\n");
  EXPECT_EQ(RunCommand("config get AUPDUserPassword" + st_).out, "***\n");
  auto r = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " config show --json" + st_ +
                      " 2>/dev/null'");
  ASSERT_EQ(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["parameters"]["IniFileURL"]["value"], "http://127.0.0.1/a.ini");
  EXPECT_EQ(j["parameters"]["IniFileURL"]["default"], false);
  EXPECT_EQ(j["parameters"]["AutoUpdateFrequency"]["default"], true);
  EXPECT_EQ(j["parameters"]["AUPDUserPassword"]["value"], "***");
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos);
}

TEST_F(GuidanceTest, ConfigValidateLintsAFileAndTouchesNoState) {
  WriteText(dir_ / "good.ini", "IniFileURL = 'http://127.0.0.1/<MAC>.ini'\nUnknownThing = 1\n");
  auto r = RunCommand("config validate " + (dir_ / "good.ini").string() + st_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("valid (ini, 1 warning(s))"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("good.ini:2: unknown parameter 'UnknownThing'"), std::string::npos) << r.out;
  WriteText(dir_ / "bad.ini",
            "; a comment\nAutoUpdateFrequency = abc\nIniFileURL = 'gopher://x/y'\n");
  r = RunCommand("config validate " + (dir_ / "bad.ini").string() + st_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("bad.ini:2: AutoUpdateFrequency: 'abc' is not an integer"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("bad.ini:3:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 error(s)"), std::string::npos) << r.out;
  WriteText(dir_ / "script.cli", "configure system\n automatic-update\n  update-frequency x\n");
  r = RunCommand("config validate --format cli " + (dir_ / "script.cli").string() + st_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("script.cli:3"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "st")) << "validate touches no state";
}

TEST_F(GuidanceTest, ReadOnlyCommandsNeverCreateAStateDirectory) {
  for (const char* cmd : {"status", "config show", "config get IniFileURL"}) {
    auto r = RunCommand(std::string(cmd) + st_);
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("no state directory " + (dir_ / "st").string()), std::string::npos)
        << cmd << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "st")) << cmd;
  }
}

TEST_F(GuidanceTest, FleetWithoutStateDirUsesATemporaryOneAndSaysWhere) {
  WriteText(dir_ / "boot.ini", "IniFileURL = 'file://" + (dir_ / "none.ini").string() + "'\n");
  auto r = RunProgram("env -u AUTOPROV_STATE_DIR TMPDIR=" + dir_.string() + " " + AUTOPROV_BINARY +
                      " fleet --devices 2 --bootstrap " + (dir_ / "boot.ini").string());
  EXPECT_NE(r.out.find("no --state-dir given: the simulated devices' state is in " + dir_.string() +
                       "/autoprov-fleet-"),
            std::string::npos)
      << r.out;
  bool found = false;
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    if (e.path().filename().string().starts_with("autoprov-fleet-"))
      found = std::filesystem::exists(e.path() / "fleet.db");
  EXPECT_TRUE(found) << "the fleet's state is in the temporary directory";
}

TEST_F(GuidanceTest, TriggerWithoutPermissionSaysSoNotNoDaemon) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a command as another user";
  ASSERT_EQ(RunCommand("config set IniFileURL http://127.0.0.1/a.ini" + st_).exit_code, 0);
  auto r = RunProgram("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                      std::string(AUTOPROV_BINARY) + " trigger" + st_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("permission denied on " + (dir_ / "st").string()), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("no autoprov daemon"), std::string::npos) << r.out;
}

// Truthful reports, reproduction 3: the read-only commands name a permission problem as the
// writers do, instead of "no command has written to it yet".
TEST_F(GuidanceTest, ReadOnlyCommandsWithoutPermissionSaySo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a command as another user";
  ASSERT_EQ(RunCommand("config set IniFileURL http://127.0.0.1/a.ini" + st_).exit_code, 0);
  for (const char* command : {"status", "status --json", "config show", "config get IniFileURL",
                              "update", "config set AUPDTftpBlockSize 1428"}) {
    SCOPED_TRACE(command);
    auto r = RunProgram("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                        std::string(AUTOPROV_BINARY) + " " + command + st_);
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("no permission to"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find((dir_ / "st").string()), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("no command has written"), std::string::npos) << r.out;
  }
}

TEST_F(GuidanceTest, VersionNamesTheCommitAndTheLibraries) {
  auto r = RunCommand("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.starts_with("autoprov ")) << r.out;
  EXPECT_NE(r.out.find("libcurl "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OpenSSL "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SQLite "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace autoprov
