// The device's lifeline (SPEC S-9) against nginx: what no writer, file or server may do to the
// device. Each test is a reproduction that failed before S-9 was built.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "cli/shell.hpp"
#include "common/digest.hpp"
#include "engine/config_writer.hpp"
#include "engine/device_state.hpp"
#include "engine/file_checks.hpp"
#include "support/engine_fixture.hpp"
#include "transfer/fetcher.hpp"

namespace autoprov {
namespace {

class LifelineTest : public EngineTest {
 protected:
  // Runs the sequence step by step; `during(url)` runs between a step's request and its result, as
  // another writer would while the transfer is on the wire.
  RunReport RunWith(const std::function<void(const std::string&)>& during) {
    RunEnvironment env;
    env.store = &state_->store();
    env.device = kLocalDevice;
    env.schema = &state_->schema();
    env.identity = identity_;
    env.hooks = hooks_;
    env.state_dir = state_->path();
    auto seq = DownloadSequence::Start(env, RunOptions{});
    EXPECT_TRUE(seq);
    Fetcher fetcher;
    while (auto request = (*seq)->Next()) {
      auto result = fetcher.Fetch(*request);
      during(request->url);
      (*seq)->Complete(std::move(result));
    }
    return (*seq)->Finish();
  }
  void Set(const std::string& name, const std::string& value) {
    auto r = SetParameter(state_->store(), kLocalDevice, state_->schema(), name, value, true);
    ASSERT_TRUE(r) << r.error().message;
  }
};

// S-9.1: `config set` made while a run is in progress survives the run's later commits, and the
// one-time URL the run cleared stays cleared.
TEST_F(LifelineTest, ChangesMadeDuringARunAreKept) {
  std::string cpt = Serve("/tones.dat", "tones");
  Serve("/dev.ini", "SetDefaultOnINIFileProcess = 0\nINIFileVersion = 'v7'\n");
  Configure("IniFileURL = '@BASE@/dev.ini'\nCptFileURL = '" + cpt + "'\n");
  auto r = RunWith([&](const std::string& url) {
    if (url.ends_with("/dev.ini")) Set("AutoUpdateFrequency", "77");
    if (url == cpt) Set("AupdMaxTransferTime", "9");
  });
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_EQ(Outcome(r, "cpt"), "applied");
  EXPECT_EQ(Config().Get("AutoUpdateFrequency"), "77");
  EXPECT_EQ(Config().Get("AupdMaxTransferTime"), "9");
  EXPECT_EQ(Config().Get("INIFileVersion"), "v7");
  EXPECT_EQ(Config().Get("CptFileURL"), "") << "the one-time URL is cleared once";
}

// S-9.1: setting the same one-time URL again while it is fetched re-arms it (the write counter, not
// the string, decides).
TEST_F(LifelineTest, SettingTheSameOneTimeUrlAgainReArmsIt) {
  std::string cpt = Serve("/tones.dat", "tones");
  Configure("CptFileURL = '" + cpt + "'\n");
  auto r = RunWith([&](const std::string& url) {
    if (url == cpt) Set("CptFileURL", cpt);
  });
  EXPECT_EQ(Outcome(r, "cpt"), "applied");
  EXPECT_EQ(Config().Get("CptFileURL"), cpt);
  EXPECT_NE(Step(r, "cpt")->details.back().find("set again"), std::string::npos);
  EXPECT_EQ(Outcome(Run(), "cpt"), "applied");
  EXPECT_EQ(Config().Get("CptFileURL"), "");
}

// S-9.1: the shell re-reads before each command: a one-time URL a run cleared does not come back.
TEST_F(LifelineTest, ShellDoesNotBringBackAClearedOneTimeUrl) {
  std::string cpt = Serve("/tones.dat", "tones");
  Configure("CptFileURL = '" + cpt + "'\n");
  autoprov::Shell shell(
      *state_,
      [] {
        return std::pair<std::string, bool>{"", true};
      },
      [] { return std::string(); });
  ASSERT_TRUE(shell.Execute("configure system").ok);
  ASSERT_TRUE(shell.Execute("automatic-update").ok);
  EXPECT_EQ(Outcome(Run(), "cpt"), "applied");
  ASSERT_TRUE(shell.Execute("http-user-agent shell-ua").ok);
  EXPECT_EQ(Config().Get("CptFileURL"), "");
  EXPECT_EQ(Config().Get("AupdHttpUserAgent"), "shell-ua");
}

// Concurrency (S-9.1): 20 `config set` of different parameters interleaved with 20 runs that each
// clear a one-time URL and apply an incremental ini: every set survives, every one-time URL is
// cleared once.
TEST_F(LifelineTest, InterleavedSetsAndRunsLoseNothing) {
  Serve("/dev.ini", "SetDefaultOnINIFileProcess = 0\nINIFileVersion = 'v1'\n");
  Configure("IniFileURL = '@BASE@/dev.ini'\nAUPDCheckIfIniChanged = 0\n");
  int cleared = 0;
  for (int i = 0; i < 20; ++i) {
    std::string cpt = Serve("/t" + std::to_string(i) + ".dat", "tones " + std::to_string(i));
    Set("CptFileURL", cpt);
    Touch("/dev.ini", i + 1);
    auto r = RunWith([&](const std::string& url) {
      if (url == cpt) Set("AupdHttpUserAgent", "ua-" + std::to_string(i));
      if (url.ends_with("/dev.ini")) Set("AupdMaxTransferTime", std::to_string(i + 1));
    });
    cleared += Outcome(r, "cpt") == "applied" && Config().Get("CptFileURL").empty();
    EXPECT_EQ(Config().Get("AupdHttpUserAgent"), "ua-" + std::to_string(i));
    EXPECT_EQ(Config().Get("AupdMaxTransferTime"), std::to_string(i + 1));
  }
  EXPECT_EQ(cleared, 20);
  EXPECT_EQ(Config().Get("INIFileVersion"), "v1");
}

// S-9.2: an empty ini in replace mode is rejected and changes nothing: the device keeps its server.
TEST_F(LifelineTest, EmptyIniInReplaceModeIsRejected) {
  Serve("/dev.ini", "");
  Configure(
      "IniFileURL = '@BASE@/dev.ini'\nAUPDUserPassword = 'joe:pw'\nAutoUpdateFrequency = 5\n");
  auto before = Config();
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "rejected");
  EXPECT_NE(Step(r, "ini")->error.find("empty configuration file"), std::string::npos)
      << Step(r, "ini")->error;
  EXPECT_TRUE(Config() == before);
  EXPECT_FALSE(r.Completed());
}

// S-9.2: an ini with only comments in incremental mode applies nothing and is not a failure.
TEST_F(LifelineTest, EmptyIncrementalIniIsReportedEmpty) {
  Serve("/dev.ini", "; nothing here\n\n");
  Configure(
      "IniFileURL = '@BASE@/dev.ini'\nSetDefaultOnINIFileProcess = 0\nAutoUpdateFrequency = 5\n");
  auto before = Config();
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "empty");
  EXPECT_TRUE(r.Completed());
  EXPECT_TRUE(Config() == before);
}

// S-9.2: replace mode returns parameters to their defaults, except the lifeline parameters the file
// does not set.
TEST_F(LifelineTest, ReplaceModeKeepsLifelineParameters) {
  Serve("/dev.ini", "AutoUpdateFrequency = 9\nAUPDDigestUsername = 'new'\n");
  Configure(
      "IniFileURL = '@BASE@/dev.ini'\nAUPDUserPassword = 'joe:pw'\nAUPDDigestUsername = 'old'\n"
      "INIFileVersion = 'v1'\nCliScriptURL = '@BASE@/s.cli'\n");
  Serve("/s.cli", "configure system\n automatic-update\n  http-user-agent x\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  auto c = Config();
  EXPECT_EQ(c.Get("IniFileURL"), nginx_->Url(prefix_ + "/dev.ini"));
  EXPECT_EQ(c.Get("AUPDUserPassword"), "joe:pw");
  EXPECT_EQ(c.Get("AUPDDigestUsername"), "new")
      << "a lifeline parameter the file sets takes its value";
  EXPECT_EQ(c.Get("AutoUpdateFrequency"), "9");
  EXPECT_EQ(c.Get("INIFileVersion"), "") << "other parameters return to their defaults";
  EXPECT_EQ(Outcome(r, "cli-script"), "applied");
}

// S-9.2: an empty startup script is rejected and restarts nothing.
TEST_F(LifelineTest, EmptyStartupScriptIsRejectedWithoutRestart) {
  Serve("/startup.txt", "! nothing\n");
  Configure("CLIStartupScriptUrl = '@BASE@/startup.txt'\nAutoUpdateFrequency = 5\n");
  auto before = Config();
  auto r = Run();
  EXPECT_EQ(Outcome(r, "startup-script"), "rejected");
  EXPECT_EQ(r.restart, RestartWhen::kNone);
  EXPECT_TRUE(Config() == before);
}

// S-9.2: a 204 is not a file.
TEST_F(LifelineTest, NoContentIsNotAnEmptyFile) {
  Configure("IniFileURL = '" + nginx_->Url("/status/204") + "'\nAutoUpdateFrequency = 5\n");
  auto before = Config();
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "failed");
  EXPECT_NE(Step(r, "ini")->error.find("204"), std::string::npos);
  EXPECT_TRUE(Config() == before);
}

// S-9.3: the version comes from the configured URL's name when the final URL has none.
TEST_F(LifelineTest, ImageVersionFromTheConfiguredUrlAcrossARedirect) {
  Serve("/blob/abc", "image bytes");
  Configure("AutoCmpFileUrl = '@BASE@/tob/Mediant_7.20A.252.011.cmp'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "applied") << Step(r, "auto-firmware")->error;
  EXPECT_EQ(Step(r, "auto-firmware")->version, "7.20A.252.011");
  EXPECT_EQ(StateValue("pending_image_version"), "7.20A.252.011");
}

// S-9.3: an image with no version anywhere is rejected, never installed; the running version stays.
TEST_F(LifelineTest, ImageWithoutAVersionIsRejected) {
  Serve("/blob/abc", "image bytes");
  Configure("AutoCmpFileUrl = '@BASE@/blob/abc'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "rejected");
  EXPECT_NE(Step(r, "auto-firmware")->error.find("image version unknown"), std::string::npos);
  EXPECT_EQ(StateValue("pending_image_version"), "");
  EXPECT_EQ(r.restart, RestartWhen::kNone);
  EXPECT_EQ(DeviceState(state_->store(), kLocalDevice).RunningVersion(identity_.sw_version),
            "7.20A.250.001");
}

// S-9.3: a VersionCommand that prints nothing means the version is unknown.
TEST_F(LifelineTest, VersionCommandThatPrintsNothingRejectsTheImage) {
  Serve("/fw/Mediant_7.20A.252.011.cmp", "image bytes");
  hooks_.version_command = Script("version.sh", "exit 0\n").string();
  Configure("AutoCmpFileUrl = '@BASE@/fw/Mediant_7.20A.252.011.cmp'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "rejected");
  EXPECT_EQ(StateValue("pending_image_version"), "");
}

// S-9.4: pointing a parameter at another URL and back forgets the old validators and CRC.
TEST_F(LifelineTest, ValidatorsAreForgottenWhenTheUrlChanges) {
  std::string a = Serve("/a.ini", "SetDefaultOnINIFileProcess = 0\nINIFileVersion = 'a'\n");
  std::string b = Serve("/b.ini", "SetDefaultOnINIFileProcess = 0\nINIFileVersion = 'b'\n");
  Set("IniFileURL", a);
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Outcome(Run(), "ini"), "not-modified");
  Set("IniFileURL", a);  // the same value again: nothing forgotten
  EXPECT_EQ(Outcome(Run(), "ini"), "not-modified");
  Set("IniFileURL", b);
  Set("IniFileURL", a);
  Set("INIFileVersion", "local");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_EQ(Step(r, "ini")->if_modified_since, "");
  EXPECT_EQ(Config().Get("INIFileVersion"), "a");
}

// S-9.4: `config reset` forgets every validator and CRC: the device does not stay on defaults.
TEST_F(LifelineTest, ResetForgetsValidators) {
  std::string a = Serve("/a.ini", "INIFileVersion = 'a'\n");
  Configure("IniFileURL = '" + a + "'\nAUPDCheckIfIniChanged = 2\n");
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  auto reset = WriteConfiguration(
      state_->store(), kLocalDevice, state_->schema(),
      [](Configuration& c, std::set<std::string>&) -> Expected<void> {
        c.ResetAll();
        return {};
      },
      WriteOptions{.forget_all = true});
  ASSERT_TRUE(reset);
  Set("IniFileURL", a);
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_EQ(Config().Get("INIFileVersion"), "a");
}

// S-9.8: a hook that leaves a background child holding its output is done when it exits.
TEST_F(LifelineTest, HookWithABackgroundChildDoesNotHoldTheRun) {
  Serve("/tones.dat", "tones");
  hooks_.apply_commands["cpt"] = Script("apply.sh", "sleep 8 &\necho started\nexit 0\n").string();
  Configure("CptFileURL = '@BASE@/tones.dat'\n");
  auto t0 = std::chrono::steady_clock::now();
  auto r = Run();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(Outcome(r, "cpt"), "applied") << Step(r, "cpt")->error;
  EXPECT_LT(s, 5.0) << "the run waited for the hook's background child";
  EXPECT_EQ(Config().Get("CptFileURL"), "");
}

// S-9.7: certificate and key of one run are installed as one generation; the stable names point
// into it and the pair matches.
TEST_F(LifelineTest, CertificateAndKeySwitchTogether) {
  const auto& pki = TestPki::Get();
  Serve("/cert.pem", ReadText(pki.client_cert));
  Serve("/key.pem", ReadText(pki.client_key));
  Configure("TLSCertFileUrl = '@BASE@/cert.pem'\nTLSPkeyFileUrl = '@BASE@/key.pem'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "tls-cert"), "applied");
  EXPECT_EQ(Outcome(r, "tls-private-key"), "applied");
  auto tls = dir_ / "state/files/tls";
  EXPECT_TRUE(std::filesystem::is_symlink(tls / "pair"));
  EXPECT_TRUE(std::filesystem::is_symlink(tls / "device-cert.pem"));
  auto match =
      KeyMatchesCertificate(ReadText(tls / "device-cert.pem"), ReadText(tls / "device-key.pem"));
  ASSERT_TRUE(match);
  EXPECT_TRUE(*match);
  EXPECT_EQ(Config().Get("TLSCertFileUrl"), "");
  EXPECT_EQ(Config().Get("TLSPkeyFileUrl"), "");
}

}  // namespace
}  // namespace autoprov

namespace autoprov {
namespace {

// S-9.10: a downloaded ini may not set a file: URL (it would read any local file into the device).
TEST_F(LifelineTest, DownloadedFileMayNotSetAFileUrl) {
  Serve(
      "/dev.ini",
      "SetDefaultOnINIFileProcess = 0\nCptFileURL = 'file:///etc/shadow'\nINIFileVersion = 'x'\n");
  Configure("IniFileURL = '@BASE@/dev.ini'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "rejected");
  EXPECT_NE(Step(r, "ini")->error.find("file: URL"), std::string::npos) << Step(r, "ini")->error;
  EXPECT_EQ(Config().Get("CptFileURL"), "");
  EXPECT_EQ(Config().Get("INIFileVersion"), "");
  Set("CptFileURL", "file://" + (dir_ / "local.dat").string());  // a local command may
  EXPECT_EQ(Config().Get("CptFileURL"), "file://" + (dir_ / "local.dat").string());
}

}  // namespace
}  // namespace autoprov

namespace autoprov {
namespace {

// S-9.8: a server that ignores If-Modified-Since and serves ResetNow = 1 restarts the device once,
// not on every start-up run.
TEST_F(LifelineTest, SameFileDoesNotRestartTwice) {
  auto marker = dir_ / "resets";
  hooks_.reset_command = Script("reset.sh", "echo reset >> " + marker.string() + "\n").string();
  Serve("/dev.ini", "SetDefaultOnINIFileProcess = 0\nResetNow = 1\n");
  Configure("IniFileURL = '@BASE@/dev.ini'\n");
  for (int i = 0; i < 4; ++i) {
    Touch("/dev.ini", i + 1);  // a new Last-Modified each time: the server "changed" it
    Reopen();                  // as after the restart
    auto r = Run();
    EXPECT_EQ(Outcome(r, "ini"), "applied");
    EXPECT_EQ(r.restart, i == 0 ? RestartWhen::kImmediate : RestartWhen::kNone) << i;
  }
  EXPECT_EQ(ReadText(marker), "reset\n");
}

// S-9.8: more than 3 restarts within an hour, counted across reboots, leave the restart pending.
TEST_F(LifelineTest, RestartsAreLimitedPerHour) {
  auto marker = dir_ / "resets";
  hooks_.reset_command = Script("reset.sh", "echo reset >> " + marker.string() + "\n").string();
  Configure("IniFileURL = '@BASE@/dev.ini'\n");
  RunReport last;
  for (int i = 0; i < 4; ++i) {
    Serve("/dev.ini", "SetDefaultOnINIFileProcess = 0\nResetNow = 1\nINIFileVersion = 'v" +
                          std::to_string(i) + "'\n");
    Touch("/dev.ini", i + 1);
    Reopen();
    last = Run();
  }
  EXPECT_EQ(ReadText(marker), "reset\nreset\nreset\n");
  EXPECT_EQ(last.RestartState(), "pending");
  EXPECT_NE(StateValue("restart_pending").find("within an hour"), std::string::npos)
      << StateValue("restart_pending");
}

}  // namespace
}  // namespace autoprov
