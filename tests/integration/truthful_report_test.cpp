// What a device says is what happened (issue: truthful reports): a rejected file stays rejected on
// every poll (S-7.8), a pending restart shows until it happens, every error names its cause,
// against real servers (nginx, tftpd-hpa) and as a user runs the commands.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../app/command_runner.hpp"
#include "support/device_fixture.hpp"
#include "support/servers.hpp"

namespace autoprov {
namespace {

using namespace testing;

class TruthfulReportTest : public DeviceTest {
 protected:
  TruthfulReportTest() : DeviceTest("truthful", "00:90:8f:00:00:23", "23") {}
};

// S-7.8, reproduction 1: a syntax error is rejected on run 1; runs 2 and 3 get a 304 to the
// rejected file's validators and report it rejected again (not "not-modified"), with the original
// reason and since when; the run fails and `status` and the uploaded report (AupdReportWhen =
// failures) say so on every poll. Fixing the file on the server applies it.
TEST_F(TruthfulReportTest, ARejectedIniStaysRejectedOnEveryPoll) {
  std::string ini_url = nginx_->Url("/s78/dev.ini");
  std::string report_url = nginx_->Url("/reports/s78-<MAC>.json");
  WriteText(nginx_->root() / "s78/dev.ini", "AutoUpdateFrequency = 60\nBogusLine without equals\n");
  Bootstrap("IniFileURL = '" + ini_url + "'\nAupdReportUrl = '" + report_url +
            "'\nAupdReportWhen = 'failures'\n");
  std::string reason;
  for (int run = 1; run <= 3; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    auto [code, j] = Update();
    EXPECT_EQ(code, 1) << j.dump(2);
    EXPECT_EQ(j["completed"], false);
    ASSERT_EQ(j["steps"].size(), 1u) << j.dump(2);
    const auto& step = j["steps"][0];
    EXPECT_EQ(step["outcome"], "rejected") << step.dump(2);
    EXPECT_EQ(step["http_status"], run == 1 ? 200 : 304) << step.dump(2);
    if (run == 1) reason = step["error"];
    EXPECT_EQ(step["error"], reason);
    std::string details = step["details"].dump();
    EXPECT_NE(details.find("dev.ini:2:"), std::string::npos)
        << details;  // the bad line, every time
    if (run > 1) {
      EXPECT_NE(details.find("rejected since"), std::string::npos) << details;
    }
    // status says the same
    auto s = StatusJson();
    EXPECT_EQ(s["last_run"]["completed"], false);
    EXPECT_EQ(s["last_run"]["steps"][0]["outcome"], "rejected");
    ASSERT_EQ(s["urls"].size(), 1u);
    EXPECT_FALSE(s["urls"][0]["rejected"].is_null()) << s.dump(2);
    auto text = RunCommand("status" + st_);
    EXPECT_NE(text.out.find("rejected since"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("result: failed steps"), std::string::npos) << text.out;
    // the report uploaded after this run (failures only) is this run's
    auto uploaded = nlohmann::json::parse(
        ReadText(nginx_->root() / "reports/s78-00908F000023.json"), nullptr, false);
    ASSERT_TRUE(uploaded.is_object());
    EXPECT_EQ(uploaded["started_at"], j["started_at"]);
    EXPECT_EQ(uploaded["steps"][0]["outcome"], "rejected");
  }
  // The server's rejected file was asked for with its validators, not downloaded again.
  auto gets = nginx_->Requests("/s78/dev.ini");
  ASSERT_EQ(gets.size(), 3u);
  EXPECT_EQ(gets[1].status, 304);
  EXPECT_EQ(gets[2].status, 304);
  // A fix on the server is fetched and applied; the rejection is forgotten.
  WriteText(nginx_->root() / "s78/dev.ini", "AutoUpdateFrequency = 60\nAupdReportUrl = '" +
                                                report_url + "'\nAupdReportWhen = 'failures'\n");
  auto [code, fixed] = Update();
  EXPECT_EQ(code, 0) << fixed.dump(2);
  EXPECT_EQ(fixed["steps"][0]["outcome"], "applied");
  EXPECT_TRUE(StatusJson()["urls"][0]["rejected"].is_null());
  auto [code2, again] = Update();
  EXPECT_EQ(code2, 0);
  EXPECT_EQ(again["steps"][0]["outcome"], "not-modified");
}

// S-7.8 with an image whose name has no version (S-9.3): rejected on every poll, the 304 included;
// an image that is merely not newer (older-image, S-1.3) is not a rejection.
TEST_F(TruthfulReportTest, AVersionlessImageStaysRejectedAnOlderImageIsNormal) {
  WriteText(nginx_->root() / "img/firmware.cmp", std::string(4096, 'x'));
  WriteText(nginx_->root() / "img/Mediant_7.20A.100.001.cmp", std::string(4096, 'y'));
  Bootstrap("AutoCmpFileUrl = '" + nginx_->Url("/img/firmware.cmp") + "'\n");
  for (int run = 1; run <= 2; ++run) {
    auto [code, j] = Update();
    EXPECT_EQ(code, 1) << j.dump(2);
    EXPECT_EQ(j["steps"][0]["outcome"], "rejected") << j.dump(2);
    EXPECT_NE(j["steps"][0]["error"].get<std::string>().find("image version unknown"),
              std::string::npos);
    EXPECT_EQ(j["steps"][0]["http_status"], run == 1 ? 200 : 304);
  }
  ASSERT_EQ(
      RunCommand("config set AutoCmpFileUrl " + nginx_->Url("/img/Mediant_7.20A.100.001.cmp") + st_)
          .exit_code,
      0);
  for (int run = 1; run <= 2; ++run) {
    auto [code, j] = Update();
    EXPECT_EQ(code, 0) << j.dump(2);
    EXPECT_EQ(j["steps"][0]["outcome"], run == 1 ? "older-image" : "not-modified") << j.dump(2);
  }
}

// S-7.8 for the other kinds: a CLI script and a CLI startup script with an action command
// (periodic: the 304 stays rejected) and a TLS root that is not PEM (one-time: judged again, same
// first time).
TEST_F(TruthfulReportTest, EveryKindOfFileStaysRejected) {
  WriteText(nginx_->root() / "k/bad.cli", "configure system\nshow running-config\n");
  WriteText(nginx_->root() / "k/bad-startup.cli", "configure system\ncopy x y\n");
  WriteText(nginx_->root() / "k/root.pem", "not a certificate\n");
  Bootstrap("CliScriptURL = '" + nginx_->Url("/k/bad.cli") + "'\nCLIStartupScriptUrl = '" +
            nginx_->Url("/k/bad-startup.cli") + "'\nTLSRootFileUrl = '" +
            nginx_->Url("/k/root.pem") + "'\n");
  nlohmann::json since;
  for (int run = 1; run <= 2; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    auto [code, j] = Update();
    EXPECT_EQ(code, 1) << j.dump(2);
    ASSERT_EQ(j["steps"].size(), 3u) << j.dump(2);
    for (const auto& step : j["steps"]) EXPECT_EQ(step["outcome"], "rejected") << step.dump(2);
    EXPECT_EQ(j["steps"][0]["http_status"], run == 1 ? 200 : 304);
    EXPECT_EQ(j["steps"][1]["http_status"], run == 1 ? 200 : 304);
    EXPECT_EQ(j["steps"][2]["http_status"], 200)
        << "a one-time file is asked for without condition";
    nlohmann::json now = nlohmann::json::array();
    auto status = StatusJson();
    for (const auto& u : status["urls"]) now.push_back(u["rejected"]["since"]);
    EXPECT_EQ(now.size(), 3u);
    if (run == 1) since = now;
    EXPECT_EQ(now, since) << "the same content keeps its first rejection time";
    if (run == 1) sleep(1);
  }
}

// A one-time file (License Key for another serial) is fetched again on every poll (no condition,
// S-3.1) and keeps the time it was first rejected while it stays the same.
TEST_F(TruthfulReportTest, ARejectedOneTimeFileKeepsItsFirstRejectionTime) {
  WriteText(nginx_->root() / "fk/key.txt", "S/N999999\nFeatureKey = 'abc'\n");
  Bootstrap("FeatureKeyURL = '" + nginx_->Url("/fk/key.txt") + "'\n");
  auto [code1, first] = Update();
  EXPECT_EQ(code1, 1);
  EXPECT_EQ(first["steps"][0]["outcome"], "rejected") << first.dump(2);
  auto since = StatusJson()["urls"][0]["rejected"]["since"];
  ASSERT_TRUE(since.is_number()) << StatusJson().dump(2);
  sleep(1);
  auto [code2, second] = Update();
  EXPECT_EQ(code2, 1);
  EXPECT_EQ(second["steps"][0]["outcome"], "rejected");
  EXPECT_NE(second["steps"][0]["details"].dump().find("rejected since"), std::string::npos);
  EXPECT_EQ(StatusJson()["urls"][0]["rejected"]["since"], since);
  // The right key is installed, its URL cleared and nothing is kept about it any more.
  WriteText(nginx_->root() / "fk/key.txt", "S/N23\nFeatureKey = 'abc'\n");
  auto [code3, third] = Update();
  EXPECT_EQ(code3, 0) << third.dump(2);
  EXPECT_EQ(third["steps"][0]["outcome"], "applied");
  EXPECT_TRUE(StatusJson()["urls"].empty()) << StatusJson().dump(2);
}

// Reproduction 2: with AutoUpdateCmpFile = 1 and a one-time image, the restart the image needs
// stays pending (no reset command) and every later report and `status` say so, since when and
// which image waits; no internal key or raw epoch in the human output. `restart` performs it.
TEST_F(TruthfulReportTest, APendingRestartShowsUntilItHappens) {
  WriteText(nginx_->root() / "pr/Mediant_7.20A.252.011.cmp", std::string(8192, 'i'));
  Bootstrap("AutoUpdateCmpFile = 1\nCmpFileURL = '" + nginx_->Url("/pr/Mediant_7.20A.252.011.cmp") +
            "'\n");
  auto [code1, run1] = Update();
  EXPECT_EQ(code1, 0) << run1.dump(2);
  EXPECT_EQ(run1["restart"], "pending");
  ASSERT_TRUE(run1["restart_pending"].is_object()) << run1.dump(2);
  long long since = run1["restart_pending"]["since"];
  EXPECT_GT(since, 0);
  EXPECT_NE(run1["restart_pending"]["image"].get<std::string>().find("7.20A.252.011"),
            std::string::npos);
  sleep(1);
  auto [code2, run2] = Update();
  EXPECT_EQ(code2, 0) << run2.dump(2);
  EXPECT_EQ(run2["restart"], "pending") << run2.dump(2);
  EXPECT_EQ(run2["restart_pending"]["since"], since);
  EXPECT_NE(run2["restart_pending"]["cause"].get<std::string>().find("7.20A.252.011"),
            std::string::npos);
  auto text = RunCommand("update" + st_);
  EXPECT_NE(text.out.find("restart: pending since " +
                          run1["restart_pending"]["since_iso"].get<std::string>()),
            std::string::npos)
      << text.out;
  auto status = RunCommand("status" + st_);
  EXPECT_NE(status.out.find("restart: pending since"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("pending image 7.20A.252.011"), std::string::npos) << status.out;
  for (const char* raw :
       {"restart_pending", "restart_times", "pending_image_version", "last_restart_cause"})
    EXPECT_EQ(status.out.find(raw), std::string::npos) << raw << "\n" << status.out;
  EXPECT_EQ(StatusJson()["restart_pending"]["since"], since);
  // The device restarts: nothing is pending any more, in status and in the next report.
  ASSERT_EQ(RunCommand("restart --no-run" + st_).exit_code, 0);
  EXPECT_TRUE(StatusJson()["restart_pending"].is_null()) << StatusJson().dump(2);
  EXPECT_NE(RunCommand("status" + st_).out.find("restart: none"), std::string::npos);
  auto [code3, run3] = Update();
  EXPECT_EQ(run3["restart"], "none") << run3.dump(2);
  EXPECT_EQ(run3["running_version"], "7.20A.252.011");
}

// Reproduction 6: a skipped step's reason is not an error.
TEST_F(TruthfulReportTest, ASkippedStepSaysSkippedNotError) {
  Bootstrap("CmpFileURL = '" + nginx_->Url("/sk/Mediant_7.20A.252.011.cmp") + "'\n");
  auto r = RunCommand("update" + st_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("skipped: AutoUpdateCmpFile = 0"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("error:"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace autoprov
