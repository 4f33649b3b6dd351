// The Automatic Update run against nginx (SPEC S-1, S-2, S-3, S-4, S-5, S-8): each test asserts the
// report, the files and configuration on disk, and what nginx saw.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "config/ini.hpp"
#include "engine/device_state.hpp"
#include "engine/run.hpp"
#include "support/curl_fetch.hpp"
#include "support/engine_fixture.hpp"

namespace autoprov {
namespace {

using namespace testing;

// S-2.1: an ini file sets the URLs of later steps; they are fetched in the same run, in sequence
// order.
TEST_F(EngineTest, IniSetsUrlsOfLaterStepsInTheSameRun) {
  Serve("/fw/Mediant_7.20A.252.011.cmp", "image");
  Serve("/usa_tones.dat", "tones");
  std::string ini_url = Serve(
      "/dev.ini",
      "IniFileURL = '@BASE@/dev.ini'\nAutoUpdateCmpFile = 1\n"
      "CmpFileURL = '@BASE@/fw/Mediant_7.20A.252.011.cmp'\nCptFileURL = '@BASE@/usa_tones.dat'\n");
  Configure("IniFileURL = '" + ini_url + "'\n");
  auto r = Run();
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[0].kind, "ini");
  EXPECT_EQ(r.steps[1].kind, "firmware");
  EXPECT_EQ(r.steps[2].kind, "cpt");
  for (const auto& s : r.steps)
    EXPECT_EQ(s.outcome, StepOutcome::kApplied) << s.kind << ": " << s.error;
  auto log = nginx_->AccessLog();
  std::vector<std::string> order;
  for (const auto& e : log)
    if (e.uri.starts_with(prefix_ + "/")) order.push_back(e.uri);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], Uri("/dev.ini"));
  EXPECT_EQ(order[1], Uri("/fw/Mediant_7.20A.252.011.cmp"));
  EXPECT_EQ(order[2], Uri("/usa_tones.dat"));
  EXPECT_EQ(ReadText(dir_ / "state/files/cpt/usa_tones.dat"), "tones");
  // One-time URLs were cleared with their install (S-1.1); the periodic one stays.
  EXPECT_EQ(Config().Get("CmpFileURL"), "");
  EXPECT_EQ(Config().Get("CptFileURL"), "");
  EXPECT_EQ(Config().Get("IniFileURL"), ini_url);
}

// S-3.1: periodic requests carry the validators; one-time ones none; a second run downloads
// nothing.
TEST_F(EngineTest, SecondIdenticalRunDownloadsNothingAndRestartsNothing) {
  Serve("/fw/Mediant_7.20A.260.001.cmp", "periodic image");
  Serve("/tones.dat", "tones");
  Serve("/s.cli", "configure system\n automatic-update\n  tftp-block-size 1024\n");
  std::string ini = Serve(
      "/dev.ini",
      "IniFileURL = '@BASE@/dev.ini'\nCliScriptURL = '@BASE@/s.cli'\n"
      "AutoCmpFileUrl = '@BASE@/fw/Mediant_7.20A.260.001.cmp'\nCptFileURL = '@BASE@/tones.dat'\n");
  Configure("IniFileURL = '" + ini + "'\n");
  auto first = Run();
  EXPECT_EQ(first.steps.size(), 4u);
  EXPECT_EQ(first.RestartState(), "pending");  // the image
  auto second = Run();
  ASSERT_EQ(second.steps.size(),
            3u);  // the one-time CPT URL was cleared, so it is gone from the plan
  for (const auto& s : second.steps) {
    EXPECT_EQ(s.outcome, StepOutcome::kNotModified) << s.kind;
    EXPECT_EQ(s.bytes, 0u);
    EXPECT_FALSE(s.if_modified_since.empty());
  }
  EXPECT_EQ(second.restart, RestartWhen::kNone) << "this run decided no restart";
  // The first run's restart has not happened: it is still pending, since the first run.
  EXPECT_EQ(second.RestartState(), "pending");
  ASSERT_TRUE(second.pending);
  EXPECT_EQ(second.pending->since, first.pending->since);
  EXPECT_TRUE(second.Completed());
  for (const char* path : {"/dev.ini", "/s.cli", "/fw/Mediant_7.20A.260.001.cmp"}) {
    auto reqs = nginx_->Requests(Uri(path));
    ASSERT_EQ(reqs.size(), 2u) << path;
    EXPECT_EQ(reqs[0].status, 200);
    EXPECT_EQ(reqs[0].if_modified_since, "");
    EXPECT_EQ(reqs[1].status, 304) << path;
    EXPECT_FALSE(reqs[1].if_modified_since.empty()) << path;
  }
  auto tones = nginx_->Requests(Uri("/tones.dat"));
  ASSERT_EQ(tones.size(), 1u);
  EXPECT_EQ(tones[0].if_modified_since, "");
  EXPECT_EQ(tones[0].if_none_match, "");
}

TEST_F(EngineTest, UserAgentIsExpanded) {
  std::string ini = Serve("/ua.ini",
                          "IniFileURL = '@BASE@/ua.ini'\nINIFileVersion = 'v9'\n"
                          "AupdHttpUserAgent = 'prov <NAME>;<VER>;<MAC>;<CONF>'\n");
  Configure("IniFileURL = '" + ini + "'\n");
  Run();
  Run();
  auto reqs = nginx_->Requests(Uri("/ua.ini"));
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].user_agent,
            "Mozilla/4.0 (compatible; AudioCodes; Mediant;7.20A.250.001;00908F000001;)");
  EXPECT_EQ(reqs[1].user_agent, "prov Mediant;7.20A.250.001;00908F000001;v9");
}

TEST_F(EngineTest, MacPlaceholderInUrl) {
  Serve("/cfg_00908F000001.ini", "IniFileURL = '@BASE@/cfg_<MAC>.ini'\nINIFileVersion = 'mine'\n");
  Configure("IniFileURL = '@BASE@/cfg_<MAC>.ini'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_EQ(Config().Get("INIFileVersion"), "mine");
}

// S-2.3: a failed step is reported, the next steps go on, a failed one-time file keeps its URL.
TEST_F(EngineTest, FailedStepDoesNotStopTheRunAndKeepsItsOneTimeUrl) {
  Serve("/dial.txt", "dial plan");
  Configure("CptFileURL = '@BASE@/missing.dat'\nDialPlanFileURL = '@BASE@/dial.txt'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "cpt"), "failed");
  EXPECT_EQ(Step(r, "cpt")->http_status, 404);
  EXPECT_EQ(Outcome(r, "dial-plan"), "applied");
  EXPECT_FALSE(r.Completed());
  EXPECT_NE(Config().Get("CptFileURL"), "");
  EXPECT_EQ(Config().Get("DialPlanFileURL"), "");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/files/cpt"));
}

// S-4: CRC modes 1 and 2 discard identical content; a touched file is downloaded but not
// re-applied.
TEST_F(EngineTest, CrcCheckDiscardsIdenticalConfiguration) {
  std::string body =
      "IniFileURL = '@BASE@/crc.ini'\nAUPDCheckIfIniChanged = 1\nVoiceVolume = 2\nResetNow = 1\n";
  std::string ini = Serve("/crc.ini", body);
  Configure("IniFileURL = '" + ini + "'\nAUPDCheckIfIniChanged = 1\n");
  auto first = Run();
  EXPECT_EQ(Outcome(first, "ini"), "applied");
  EXPECT_EQ(first.restart, RestartWhen::kImmediate);
  Touch("/crc.ini", 10);
  auto second = Run();
  EXPECT_EQ(Outcome(second, "ini"), "unchanged-crc");
  EXPECT_EQ(second.restart, RestartWhen::kNone)
      << "ResetNow in an unchanged file must not restart (S-3.8)";
  EXPECT_EQ(nginx_->Requests(Uri("/crc.ini")).back().status, 200);

  // Mode 1 sees reordered lines as a change; mode 2 does not.
  Serve("/crc.ini", "VoiceVolume = 2\nAUPDCheckIfIniChanged = 2\nIniFileURL = '@BASE@/crc.ini'\n");
  Touch("/crc.ini", 20);
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  Serve("/crc.ini", "IniFileURL = '@BASE@/crc.ini'\nVoiceVolume = 2\nAUPDCheckIfIniChanged = 2\n");
  Touch("/crc.ini", 30);
  EXPECT_EQ(Outcome(Run(), "ini"), "unchanged-crc");
  Serve("/crc.ini", "IniFileURL = '@BASE@/crc.ini'\nVoiceVolume = 3\nAUPDCheckIfIniChanged = 2\n");
  Touch("/crc.ini", 40);
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Config().Get("VoiceVolume"), "3");
}

// S-7.5: an invalid file changes nothing; the report lists each bad line.
TEST_F(EngineTest, InvalidConfigurationFileIsRejectedWhole) {
  std::string ini = Serve(
      "/bad.ini",
      "IniFileURL = '@BASE@/bad.ini'\nVoiceVolume = 99\nCptFileURL = '@BASE@/x.dat'\ngarbage\n");
  Configure("IniFileURL = '" + ini + "'\nVoiceVolume = 1\n");
  auto before = Config();
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "rejected");
  ASSERT_EQ(Step(r, "ini")->details.size(), 2u);
  EXPECT_NE(Step(r, "ini")->details[0].find(":2: VoiceVolume"), std::string::npos)
      << Step(r, "ini")->details[0];
  EXPECT_NE(Step(r, "ini")->details[1].find(":4: expected"), std::string::npos);
  EXPECT_EQ(Config(), before);
  EXPECT_EQ(r.steps.size(), 1u) << "the CPT URL of the rejected file must not be used";
}

TEST_F(EngineTest, ReplaceAndIncrementalIni) {
  std::string ini = Serve("/r.ini", "IniFileURL = '@BASE@/r.ini'\nVoiceVolume = 4\n");
  Configure("IniFileURL = '" + ini + "'\nSyslogServerIP = '10.9.9.9'\n");
  Run();
  EXPECT_EQ(Config().Get("SyslogServerIP"), "0.0.0.0")
      << "replace mode: absent parameters to defaults";
  Serve("/r.ini", "IniFileURL = '@BASE@/r.ini'\nSetDefaultOnINIFileProcess = 0\nVoiceVolume = 5\n");
  Touch("/r.ini", 10);
  Configure("SyslogServerIP = '10.9.9.9'\n");
  Run();
  EXPECT_EQ(Config().Get("SyslogServerIP"), "10.9.9.9") << "incremental mode keeps them";
  EXPECT_EQ(Config().Get("VoiceVolume"), "5");
}

// S-2.2: ResetNow restarts at once (the rest waits for the start-up run); the reset command runs.
TEST_F(EngineTest, ResetNowRestartsImmediatelyAndSkipsTheRest) {
  auto marker = dir_ / "reset.marker";
  hooks_.reset_command = Script("reset.sh", "echo reset >> " + marker.string() + "\n").string();
  Serve("/tones.dat", "tones");
  std::string ini = Serve(
      "/rn.ini", "IniFileURL = '@BASE@/rn.ini'\nResetNow = 1\nCptFileURL = '@BASE@/tones.dat'\n");
  Configure("IniFileURL = '" + ini + "'\n");
  auto r = Run();
  EXPECT_EQ(r.RestartState(), "immediate");
  EXPECT_EQ(Outcome(r, "cpt"), "skipped");
  EXPECT_EQ(ReadText(marker), "reset\n");
  EXPECT_TRUE(nginx_->Requests(Uri("/tones.dat")).empty());
  EXPECT_EQ(Config().Get("CptFileURL"), nginx_->Url(prefix_ + "/tones.dat"))
      << "kept for the next run";
}

TEST_F(EngineTest, CliScriptReloadIfNeededAndReloadNow) {
  std::string cli =
      Serve("/a.cli", "configure voip\n media voice\n  voice-volume 7\nend\nreload if-needed\n");
  Configure("CliScriptURL = '" + cli + "'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "cli-script"), "applied");
  EXPECT_EQ(r.RestartState(), "pending");
  ASSERT_FALSE(r.restart_reasons.empty());
  EXPECT_NE(r.restart_reasons[0].find("VoiceVolume"), std::string::npos);
  // Nothing that needs a restart changed: no restart.
  Serve("/a.cli", "configure troubleshoot\n syslog\n  syslog-ip 10.1.1.1\nend\nreload if-needed\n");
  Touch("/a.cli", 10);
  auto r2 = Run();
  EXPECT_EQ(Outcome(r2, "cli-script"), "applied");
  EXPECT_EQ(r2.restart, RestartWhen::kNone) << "this run decided no restart";
  EXPECT_EQ(r2.RestartState(), "pending") << "the first run's restart has not happened";
  EXPECT_EQ(Config().Get("VoiceVolume"), "7") << "a CLI script is incremental";
  Serve("/a.cli", "configure troubleshoot\n syslog\n  syslog-ip 10.1.1.2\nend\nreload now\n");
  Touch("/a.cli", 20);
  EXPECT_EQ(Run().restart, RestartWhen::kImmediate);
}

TEST_F(EngineTest, StartupScriptResetsToDefaultsAndRestarts) {
  std::string s = Serve(
      "/st.txt",
      "configure system\n automatic-update\n  startup-script @BASE@/st.txt\n  crc-check regular\n");
  Configure("CLIStartupScriptUrl = '" + s + "'\nVoiceVolume = 3\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "startup-script"), "applied");
  EXPECT_EQ(r.restart, RestartWhen::kAtEnd);
  EXPECT_EQ(Config().Get("VoiceVolume"), "0");
  EXPECT_EQ(Config().Get("AUPDCheckIfIniChanged"), "1");
}

// S-1.2, S-1.3: image versions, checksums, the AutoUpdateCmpFile guard, one restart, activation.
TEST_F(EngineTest, SoftwareImageVersionRules) {
  Serve("/Mediant_7.20A.200.001.cmp", "older");
  Configure("AutoCmpFileUrl = '@BASE@/Mediant_7.20A.200.001.cmp'\n");
  EXPECT_EQ(Outcome(Run(), "auto-firmware"), "older-image");

  Serve("/fw_7.20A.250.001.cmp", "same version, unknown installed checksum");
  Configure("AutoCmpFileUrl = '@BASE@/fw_7.20A.250.001.cmp'\n");
  EXPECT_EQ(Outcome(Run(), "auto-firmware"), "unchanged");

  Serve("/Mediant_7.20A.252.011.cmp", "newer image");
  Configure("AutoCmpFileUrl = '@BASE@/Mediant_7.20A.252.011.cmp'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "applied");
  EXPECT_EQ(Step(r, "auto-firmware")->version, "7.20A.252.011");
  EXPECT_EQ(r.RestartState(), "pending");
  EXPECT_EQ(ReadText(dir_ / "state/images/pending.cmp"), "newer image");
  EXPECT_EQ(StateValue("pending_image_version"), "7.20A.252.011");
  ASSERT_TRUE(DeviceState(state_->store(), kLocalDevice).ActivatePendingImage());
  EXPECT_EQ(DeviceState(state_->store(), kLocalDevice).RunningVersion("x"), "7.20A.252.011");

  // Same version, other checksum: installed again. Same checksum: not.
  Serve("/Mediant_7.20A.252.011.cmp", "rebuilt image, same version");
  Touch("/Mediant_7.20A.252.011.cmp", 10);
  EXPECT_EQ(Outcome(Run(), "auto-firmware"), "applied");
  ASSERT_TRUE(DeviceState(state_->store(), kLocalDevice).ActivatePendingImage());
  Touch("/Mediant_7.20A.252.011.cmp", 20);
  auto again = Run();
  EXPECT_EQ(Outcome(again, "auto-firmware"), "unchanged");
  EXPECT_EQ(again.RestartState(), "none");

  // One-time images need AutoUpdateCmpFile = 1; the URL waits until then.
  Serve("/Mediant_7.40A.100.001.cmp", "one-time image");
  Configure("AutoCmpFileUrl = '0'\nCmpFileURL = '@BASE@/Mediant_7.40A.100.001.cmp'\n");
  auto guarded = Run();
  EXPECT_EQ(Outcome(guarded, "firmware"), "skipped");
  EXPECT_TRUE(nginx_->Requests(Uri("/Mediant_7.40A.100.001.cmp")).empty());
  EXPECT_NE(Config().Get("CmpFileURL"), "");
  Configure("AutoUpdateCmpFile = 1\n");
  auto applied = Run();
  EXPECT_EQ(Outcome(applied, "firmware"), "applied");
  EXPECT_EQ(Config().Get("CmpFileURL"), "");
}

TEST_F(EngineTest, ImageInstallerAndVersionCommands) {
  auto log = dir_ / "installer.log";
  hooks_.install_command = Script("install.sh", "echo \"$1 $2\" > " + log.string() + "\n").string();
  hooks_.version_command = Script("version.sh", "echo 9.9.9.9\n").string();
  Serve("/image-without-version.cmp", "img");
  Configure("AutoCmpFileUrl = '@BASE@/image-without-version.cmp'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "applied") << Step(r, "auto-firmware")->error;
  EXPECT_EQ(Step(r, "auto-firmware")->version, "9.9.9.9");
  EXPECT_NE(ReadText(log).find(" 9.9.9.9"), std::string::npos);
  hooks_.install_command = Script("fail.sh", "echo flash write error; exit 3\n").string();
  Serve("/image-without-version.cmp", "img2");
  Touch("/image-without-version.cmp", 10);
  hooks_.version_command = Script("version2.sh", "echo 9.9.9.10\n").string();
  auto failed = Run();
  EXPECT_EQ(Outcome(failed, "auto-firmware"), "failed");
  EXPECT_NE(Step(failed, "auto-firmware")->error.find("flash write error"), std::string::npos);
}

// S-1.4: the serial must be the device's; an identical key is a no-op.
TEST_F(EngineTest, LicenseKeySerialCheck) {
  Serve("/other.lic", "S/N 999999 key...\n");
  Configure("FeatureKeyURL = '@BASE@/other.lic'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "feature-key"), "rejected");
  EXPECT_NE(Step(r, "feature-key")->error.find("S/N 999999"), std::string::npos);
  EXPECT_NE(Step(r, "feature-key")->error.find("4837234"), std::string::npos);
  EXPECT_NE(Config().Get("FeatureKeyURL"), "");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/files/feature-key/license.key"));
  Serve("/mine.lic", "S/N4837234 abcdef\n");
  Configure("FeatureKeyURL = '@BASE@/mine.lic'\n");
  EXPECT_EQ(Outcome(Run(), "feature-key"), "applied");
  EXPECT_EQ(ReadText(dir_ / "state/files/feature-key/license.key"), "S/N4837234 abcdef\n");
  Configure("FeatureKeyURL = '@BASE@/mine.lic'\n");
  EXPECT_EQ(Outcome(Run(), "feature-key"), "unchanged");
  EXPECT_EQ(Config().Get("FeatureKeyURL"), "");
}

// S-1.5: PEM checked, key 0600 and matching, a new root becomes a trust anchor, the pair gives
// mutual TLS.
TEST_F(EngineTest, TlsFilesBootstrapTrustAndMutualTls) {
  const TestPki& pki = TestPki::Get();
  Serve("/bad-root.pem", "not a certificate");
  Configure("TLSRootFileUrl = '@BASE@/bad-root.pem'\n");
  EXPECT_EQ(Outcome(Run(), "tls-root-cert"), "rejected");

  Serve("/root.pem", ReadText(pki.ca_cert));
  Serve("/cert.pem", ReadText(pki.client_cert));
  Serve("/key.pem", ReadText(pki.client_key));
  Serve("/wrong-key.pem", ReadText(pki.server_key));
  Configure(
      "TLSRootFileUrl = '@BASE@/root.pem'\nTLSCertFileUrl = '@BASE@/cert.pem'\nTLSPkeyFileUrl = "
      "'@BASE@/wrong-key.pem'\n");
  auto mismatch = Run();
  EXPECT_EQ(Outcome(mismatch, "tls-root-cert"), "applied");
  EXPECT_EQ(Outcome(mismatch, "tls-private-key"), "rejected");
  EXPECT_EQ(Outcome(mismatch, "tls-cert"), "applied")
      << "no key installed yet: the certificate alone is kept";

  Configure("TLSCertFileUrl = '@BASE@/cert.pem'\nTLSPkeyFileUrl = '@BASE@/key.pem'\n");
  auto ok = Run();
  EXPECT_EQ(Outcome(ok, "tls-cert"), "applied");
  EXPECT_EQ(Outcome(ok, "tls-private-key"), "applied") << Step(ok, "tls-private-key")->error;
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "state/files/tls/device-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Later HTTPS downloads trust the installed root and present the device certificate.
  WriteText(nginx_->root() / (prefix_.substr(1) + "/m.ini"), "INIFileVersion = 'over-mtls'\n");
  Configure("IniFileURL = 'https://127.0.0.1:" + std::to_string(nginx_->mtls_port()) + prefix_ +
            "/m.ini'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied") << Step(r, "ini")->error;
  EXPECT_EQ(Config().Get("INIFileVersion"), "over-mtls");
}

TEST_F(EngineTest, AuxiliaryFileApplyHook) {
  auto seen = dir_ / "hook.log";
  hooks_.apply_commands["cpt"] = Script("cpt.sh", "cat \"$1\" > " + seen.string() + "\n").string();
  hooks_.apply_commands["dialplan"] = Script("dp.sh", "echo bad dial plan >&2; exit 4\n").string();
  Serve("/t.dat", "tones v1");
  Serve("/d.txt", "dial");
  Configure("CptFileURL = '@BASE@/t.dat'\nDialPlanFileURL = '@BASE@/d.txt'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "cpt"), "applied");
  EXPECT_EQ(ReadText(seen), "tones v1");
  EXPECT_EQ(Outcome(r, "dial-plan"), "failed");
  EXPECT_NE(Step(r, "dial-plan")->error.find("bad dial plan"), std::string::npos);
  EXPECT_NE(Config().Get("DialPlanFileURL"), "");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/files/dial-plan/d.txt"));
}

// S-5: the template fetches listed kinds by fixed names every run; an explicit URL wins.
TEST_F(EngineTest, FileTemplate) {
  Serve("/tmpl/00908F000001/Mediant.ini",
        "TemplateUrl = '@BASE@/tmpl/<MAC>/<FILE>'\nAupdFilesList = 'ini', 'cpt', 'fk'\n"
        "CptFileURL = '@BASE@/explicit.dat'\n");
  Serve("/tmpl/00908F000001/Mediant_fk.txt", "S/N4837234 k\n");
  Serve("/explicit.dat", "explicit tones");
  Configure("TemplateUrl = '@BASE@/tmpl/<MAC>/<FILE>'\nAupdFilesList = 'ini'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_TRUE(Step(r, "ini")->from_template);
  EXPECT_EQ(Outcome(r, "cpt"), "applied");
  EXPECT_FALSE(Step(r, "cpt")->from_template);
  EXPECT_EQ(Outcome(r, "feature-key"), "applied");
  EXPECT_EQ(Step(r, "feature-key")->mode, "periodic");
  auto second = Run();
  EXPECT_EQ(Outcome(second, "ini"), "not-modified");
  EXPECT_EQ(Outcome(second, "feature-key"), "not-modified") << "template URLs are never discarded";
  EXPECT_EQ(Config().Get("TemplateUrl"), nginx_->Url(prefix_ + "/tmpl/<MAC>/<FILE>"));
}

TEST_F(EngineTest, OneRunAtATime) {
  auto lock = RunLock::Acquire(dir_ / "state");
  ASSERT_TRUE(lock);
  LocalRunOptions o;
  auto r = RunAutomaticUpdate(*state_, identity_, hooks_, o, CurlFetch());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kBusy);
  EXPECT_NE(r.error().message.find(std::to_string(::getpid())), std::string::npos);
}

TEST_F(EngineTest, CredentialsFromConfigurationAndNeverInTheReport) {
  WriteText(nginx_->root() / "files/auth.ini", "INIFileVersion = 'authed'\n");
  Configure("IniFileURL = '" + nginx_->Url("/basic/auth.ini") +
            "'\nAUPDUserPassword = 'joe:s3cret'\n");
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied") << Step(r, "ini")->error;
  Configure("IniFileURL = 'http://joe:wrongpass@127.0.0.1:" + std::to_string(nginx_->port()) +
            "/basic/auth.ini'\n");
  auto bad = Run();
  EXPECT_EQ(Outcome(bad, "ini"), "failed");
  std::string json = ToJson(bad).dump();
  EXPECT_EQ(json.find("wrongpass"), std::string::npos);
  EXPECT_EQ(json.find("s3cret"), std::string::npos);
}

// S-10.5 over FTP: the file's modification time (MDTM) is asked before the download; the second
// poll of an unchanged file is not-modified and transfers nothing (vsftpd's log shows one RETR);
// a newer file is downloaded again.
TEST_F(EngineTest, FtpPollsAskTheModificationTimeAndTransferNothingWhenUnchanged) {
  auto root = dir_ / "ftp";
  std::filesystem::create_directories(root);
  WriteText(root / "dev.ini", "INIFileVersion = 'ftp-1'\n");
  ::chmod(root.c_str(), 0755);
  Vsftpd ftpd(root);
  ASSERT_TRUE(ftpd.ok());
  Configure("IniFileURL = '" + ftpd.Url("/dev.ini") + "'\n");
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Config().Get("INIFileVersion"), "ftp-1");
  auto second = Run();
  EXPECT_EQ(Outcome(second, "ini"), "not-modified");
  EXPECT_EQ(Step(second, "ini")->bytes, 0u);
  auto retr = [&] {
    std::string log = ftpd.Log();
    size_t n = 0;
    for (size_t p = 0; (p = log.find("OK DOWNLOAD", p)) != std::string::npos; ++p) ++n;
    return n;
  };
  EXPECT_EQ(retr(), 1u) << ftpd.Log();
  EXPECT_NE(ftpd.Log().find("MDTM"), std::string::npos);
  // A newer file is fetched again.
  ::chmod(root.c_str(), 0755);
  WriteText(root / "dev.ini", "INIFileVersion = 'ftp-2'\n");
  struct utimbuf later {
    std::time(nullptr) + 120, std::time(nullptr) + 120
  };
  ::utime((root / "dev.ini").c_str(), &later);
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Config().Get("INIFileVersion"), "ftp-2");
  EXPECT_EQ(retr(), 2u);
}

// S-10.5 over TFTP (no validators at all): the second poll downloads the file, finds the SHA-256 of
// the file last applied from this URL, and applies nothing (a local change since stays); a changed
// file, or another URL, is applied again. A rejected file is never taken as unchanged.
TEST_F(EngineTest, TftpPollsApplyNothingWhenTheContentIsUnchanged) {
  auto root = dir_ / "tftp";
  std::filesystem::create_directories(root);
  WriteText(root / "dev.ini", "INIFileVersion = 'tftp-1'\nAupdMaxTransferTime = 7\n");
  Tftpd tftpd(root);
  ASSERT_TRUE(tftpd.ok());
  Configure("IniFileURL = '" + tftpd.Url("/dev.ini") + "'\n");
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Config().Get("AupdMaxTransferTime"), "7");
  // A local change the same file would undo if it were applied again.
  ASSERT_TRUE(SetParameter(state_->store(), kLocalDevice, state_->schema(), "AupdMaxTransferTime",
                           "9", false));
  auto second = Run();
  EXPECT_EQ(Outcome(second, "ini"), "unchanged");
  EXPECT_GT(Step(second, "ini")->bytes, 0u) << "TFTP cannot ask: the file is downloaded";
  EXPECT_EQ(Config().Get("AupdMaxTransferTime"), "9") << "nothing applied";
  WriteText(root / "dev.ini", "INIFileVersion = 'tftp-2'\nAupdMaxTransferTime = 7\n");
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Config().Get("INIFileVersion"), "tftp-2");
  // A file that is rejected is rejected again on every poll.
  WriteText(root / "dev.ini", "NoSuchParameter = 1\n");
  EXPECT_EQ(Outcome(Run(), "ini").substr(0, 8), "rejected");
  EXPECT_EQ(Outcome(Run(), "ini").substr(0, 8), "rejected");
}

}  // namespace
}  // namespace autoprov
