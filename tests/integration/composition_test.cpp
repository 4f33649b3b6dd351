// The configuration is the composition of its files (S-7.7) and replace mode never switches
// management off (S-9.2), against nginx: a changed ini file does not wipe the unchanged CLI
// script's settings, what keeps the device managed survives a replace, and a property test of
// random edits against a reference model written here.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "../app/command_runner.hpp"
#include "config/schema.hpp"
#include "store/state_store.hpp"
#include "support/device_fixture.hpp"
#include "support/servers.hpp"
#include "support/test_dir.hpp"

namespace autoprov {
namespace {

using namespace testing;

class CompositionTest : public DeviceTest {
 protected:
  CompositionTest() : DeviceTest("compose", "00:90:8f:00:00:24", "24") {}
  // Serves `text` at `path` with a modification time of its own (nginx's validators have a
  // resolution of one second: each version gets the next second).
  void Serve(const std::string& path, const std::string& text) {
    WriteText(nginx_->root() / path.substr(1), text);
    struct utimbuf t {
      mtime_, mtime_
    };
    ++mtime_;
    ::utime((nginx_->root() / path.substr(1)).c_str(), &t);
  }
  nlohmann::json Update(int expect_exit = 0) {
    auto r = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " update --json" + st_ +
                        " 2>/dev/null'");
    EXPECT_EQ(r.exit_code, expect_exit) << r.out;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  std::string Get(const std::string& name) {
    auto r = RunCommand("config get " + name + st_);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  static std::string Outcome(const nlohmann::json& report, const std::string& kind) {
    for (const auto& s : report["steps"])
      if (s["kind"] == kind) return s["outcome"];
    return "absent";
  }
  time_t mtime_ = 1700000000;
};

// Reproduction 1: the ini file changes, the CLI script answers 304; its settings stay, and the
// report says what the replace returned to its defaults and that the CLI script was applied again.
TEST_F(CompositionTest, AChangedIniKeepsTheUnchangedCliScriptsSettings) {
  std::string ini = "IniFileURL = '" + nginx_->Url("/c1/dev.ini") + "'\nCliScriptURL = '" +
                    nginx_->Url("/c1/dev.cli") + "'\nAupdBusyMaxDefer = 100\n";
  Serve("/c1/dev.ini", ini + "INIFileVersion = 'v1'\n");
  Serve("/c1/dev.cli",
        "configure system\n automatic-update\n  tftp-block-size 1428\n  interval-random 60\n");
  Command("config set IniFileURL " + nginx_->Url("/c1/dev.ini"));
  auto first = Update();
  EXPECT_EQ(Outcome(first, "ini"), "applied");
  EXPECT_EQ(Outcome(first, "cli-script"), "applied");
  EXPECT_EQ(Get("AUPDTftpBlockSize"), "1428");
  Serve("/c1/dev.ini", ini + "INIFileVersion = 'v2'\n");  // one line changed
  auto second = Update();
  EXPECT_EQ(Outcome(second, "ini"), "applied") << second.dump(2);
  EXPECT_EQ(Outcome(second, "cli-script"), "not-modified");
  EXPECT_EQ(Get("AUPDTftpBlockSize"), "1428") << second.dump(2);
  EXPECT_EQ(Get("AupdIntervalRandom"), "60");
  EXPECT_EQ(Get("INIFileVersion"), "v2");
  EXPECT_EQ(second["reapplied"], nlohmann::json::array({"cli-script"}));
  std::string details = second["steps"][0]["details"].dump();
  EXPECT_NE(details.find("AUPDTftpBlockSize: '1428' -> '512'"), std::string::npos) << details;
  EXPECT_NE(second["steps"][1]["details"].dump().find("applied again"), std::string::npos);
  auto text = RunCommand("status" + st_);
  EXPECT_NE(text.out.find("applied again to compose the configuration (S-7.7): cli-script"),
            std::string::npos)
      << text.out;
  // The next poll: nothing changed, nothing applied, the settings stay.
  auto third = Update();
  EXPECT_EQ(Outcome(third, "ini"), "not-modified");
  EXPECT_TRUE(third["reapplied"].empty());
  EXPECT_EQ(Get("AUPDTftpBlockSize"), "1428");
}

// Reproduction 2 (S-9.2 amended): a replace-mode ini that does not name them keeps the report URL,
// its method and when, the retry schedule, the NOTIFY allow-list, credentials and reboot policy;
// a file that names one with an empty value turns it off. Secrets are shown as (secret).
TEST_F(CompositionTest, AReplaceKeepsWhatKeepsTheDeviceManaged) {
  Serve("/c2/dev.ini", "INIFileVersion = 'a'\nAupdBusyMaxDefer = 100\n");
  Command("config set IniFileURL " + nginx_->Url("/c2/dev.ini"));
  Command("config set AupdReportUrl '" + nginx_->Url("/reports/c2-<MAC>.json") + "'");
  Command("config set AupdReportWhen failures");
  Command("config set AupdRetrySchedule 60+30,300+120");
  Command("config set SipNotifyAllowFrom 127.0.0.1");
  Command("config set SipNotifyUsername prov");
  Command("config set SipNotifyPassword s3cret");
  Command("config set AupdReportUserPassword joe:pw");
  auto run = Update();
  EXPECT_EQ(Outcome(run, "ini"), "applied");
  EXPECT_EQ(Get("AupdReportUrl"), nginx_->Url("/reports/c2-<MAC>.json"));
  EXPECT_EQ(Get("AupdReportWhen"), "1");
  EXPECT_EQ(Get("AupdRetrySchedule"), "60+30,300+120");
  EXPECT_EQ(Get("SipNotifyAllowFrom"), "127.0.0.1");
  EXPECT_EQ(Get("SipNotifyUsername"), "prov");
  EXPECT_EQ(Get("AupdBusyMaxDefer"), "100");
  // The operator turns reporting off by naming it empty; a secret returned to its default is not
  // shown.
  Command("config set AupdBusyCheckInterval 45");
  Serve("/c2/dev.ini", "INIFileVersion = 'b'\nAupdReportUrl = ''\nSipNotifyPassword = ''\n");
  auto off = Update();
  EXPECT_EQ(Outcome(off, "ini"), "applied") << off.dump(2);
  EXPECT_EQ(Get("AupdReportUrl"), "");
  EXPECT_EQ(Get("AupdRetrySchedule"), "60+30,300+120");
  std::string details = off["steps"][0]["details"].dump();
  EXPECT_NE(details.find("AupdBusyCheckInterval: '45' -> '30'"), std::string::npos) << details;
  EXPECT_EQ(details.find("s3cret"), std::string::npos) << details;
}

// The property (S-7.7): random sequences of edits to the ini file (replace and incremental), the
// CLI script and local `config set`, one run after each; after every run the configuration equals
// the reference model: defaults, then the ini file, then the CLI script, plus local lifeline values
// (here AupdRetrySchedule), plus the local values that incremental mode keeps. The model is
// written here, not taken from the code under test.
TEST_F(CompositionTest, RandomEditsComposeAsTheModelSays) {
  constexpr int kRuns = static_cast<int>(test_support::Iterations(200, 40));
  const std::vector<std::pair<std::string, std::string>> params = {
      {"AUPDTftpBlockSize", "tftp-block-size"},
      {"AupdIntervalRandom", "interval-random"},
      {"AupdStartupRandomDelay", "startup-random-delay"},
      {"AupdBusyCheckInterval", "busy-check-interval"},
      {"AupdBusyMaxDefer", "busy-max-defer"}};
  const std::map<std::string, std::string> defaults = {{"AUPDTftpBlockSize", "512"},
                                                       {"AupdIntervalRandom", "0"},
                                                       {"AupdStartupRandomDelay", "0"},
                                                       {"AupdBusyCheckInterval", "30"},
                                                       {"AupdBusyMaxDefer", "7200"}};
  std::mt19937 random(20261204);
  auto draw = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  auto value = [&](const std::string& name) {
    return std::to_string(name == "AUPDTftpBlockSize" ? 512 + draw(1000) : 1 + draw(3000));
  };
  // The files as served, and the model of the device's configuration.
  std::map<std::string, std::string> ini, cli, model = defaults;
  bool replace = true;
  std::string retry;  // a local lifeline value
  int version = 0;
  auto ini_text = [&] {
    std::string t = "INIFileVersion = 'v" + std::to_string(version) + "'\n";
    t += "SetDefaultOnINIFileProcess = " + std::string(replace ? "1" : "0") + "\n";
    for (const auto& [k, v] : ini) t += k + " = " + v + "\n";
    return t;
  };
  auto cli_text = [&] {
    std::string t = "configure system\n automatic-update\n";
    for (const auto& [k, v] : cli)
      for (const auto& [name, command] : params)
        if (name == k) t += "  " + command + " " + v + "\n";
    return t;
  };
  Serve("/p/dev.ini", ini_text());
  Serve("/p/dev.cli", cli_text());
  Command("config set IniFileURL " + nginx_->Url("/p/dev.ini"));
  Command("config set CliScriptURL " + nginx_->Url("/p/dev.cli"));
  bool ini_changed = true, cli_changed = true;
  for (int run = 0; run < kRuns; ++run) {
    std::string what;
    switch (draw(6)) {
      case 0:  // the ini file: a parameter set, changed or dropped; sometimes the mode flips
      case 1: {
        auto& p = params[static_cast<size_t>(draw(5))].first;
        if (draw(3) == 0)
          ini.erase(p);
        else
          ini[p] = value(p);
        if (draw(4) == 0) replace = !replace;
        ++version;
        Serve("/p/dev.ini", ini_text());
        ini_changed = true;
        what = std::string("ini ") + (replace ? "replace" : "incremental");
        break;
      }
      case 2:
      case 3: {  // the CLI script
        auto& p = params[static_cast<size_t>(draw(5))].first;
        if (draw(3) == 0)
          cli.erase(p);
        else
          cli[p] = value(p);
        Serve("/p/dev.cli", cli_text());
        cli_changed = true;
        what = "cli";
        break;
      }
      case 4: {  // a local change
        auto& p = params[static_cast<size_t>(draw(5))].first;
        std::string v = value(p);
        Command("config set " + p + " " + v);
        model[p] = v;
        what = "local " + p;
        break;
      }
      default:
        if (draw(2) == 0) {
          retry = std::to_string(10 + draw(100)) + "+5";
          Command("config set AupdRetrySchedule " + retry);
        }
        what = "nothing served changed";
    }
    auto report = Update();
    SCOPED_TRACE("run " + std::to_string(run) + " after: " + what + "\n" + report.dump(1));
    // The model: a changed ini file applies (replace: from the defaults, lifeline kept); the CLI
    // script then applies when it changed, or again (composition) when a replace came before it.
    if (ini_changed) {
      if (replace) model = defaults;
      for (const auto& [k, v] : ini) model[k] = v;
    }
    if (cli_changed || (ini_changed && replace))
      for (const auto& [k, v] : cli) model[k] = v;
    ini_changed = cli_changed = false;
    for (const auto& [k, v] : model) ASSERT_EQ(Get(k), v) << k;
    if (!retry.empty()) {
      ASSERT_EQ(Get("AupdRetrySchedule"), retry);
    }
  }
}

}  // namespace
}  // namespace autoprov
