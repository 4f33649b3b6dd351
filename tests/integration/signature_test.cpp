// S-12 end to end: signed provisioning files made by the openssl command line, served by real
// servers (nginx, a second nginx as the man in the middle, tftpd-hpa, vsftpd), fetched by the
// agent as a user runs it. A refused file changes nothing and is reported rejected on every poll.
#include <gtest/gtest.h>
#include <unistd.h>
#include <utime.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "engine/clock.hpp"
#include "support/device_fixture.hpp"
#include "support/engine_fixture.hpp"
#include "support/signing_pki.hpp"

namespace autoprov {
namespace {

using namespace testing;
using test_support::SigningPki;

class SignatureTest : public DeviceTest {
 protected:
  SignatureTest() : DeviceTest("signature", "00:90:8f:00:00:26", "26") {}
  void SetUp() override {
    DeviceTest::SetUp();
    std::filesystem::create_directories(dir_ / "state");
    Hooks("SignaturePolicy = required\n");
  }
  static const SigningPki& pki() { return SigningPki::Get(); }
  void Hooks(const std::string& policy) {
    WriteText(dir_ / "state/hooks.ini", "SignersBundle = " + pki().Cert("ca") + "\n" + policy);
  }
  // Writes `text` at `path` under `root` and its signature by `signer` beside it (path + .p7s).
  static void Publish(const std::filesystem::path& root, const std::string& path,
                      const std::string& text, const std::string& signer = "signer") {
    WriteText(root / path, text);
    std::string sig = pki().SignWithOpenssl((root / path).string(), signer);
    ASSERT_FALSE(sig.empty());
    WriteText(root / (path + ".p7s"), sig);
  }
  // nginx's validators have a resolution of one second: a file replaced within the second would
  // look unchanged. Each replacement gets a modification time of its own.
  void Touch(const std::filesystem::path& file) {
    struct utimbuf t {
      mtime_, mtime_
    };
    ++mtime_;
    ::utime(file.c_str(), &t);
  }
  time_t mtime_ = 1800000000;
  // The position of `uri`'s first request in nginx's log (-1: none).
  int Position(const std::string& uri) {
    auto log = nginx_->AccessLog();
    for (size_t i = 0; i < log.size(); ++i)
      if (log[i].uri == uri) return static_cast<int>(i);
    return -1;
  }
};

TEST_F(SignatureTest, ASignedIniIsAppliedItsSignatureFetchedFirst) {
  Publish(nginx_->root(), "s1/dev.ini", "AutoUpdateFrequency = 77\n");
  Bootstrap("IniFileURL = '" + nginx_->Url("/s1/dev.ini") + "'\n");
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 0) << report.dump(2);
  const auto& step = Step(report, "ini");
  EXPECT_EQ(step["outcome"], "applied") << step.dump(2);
  EXPECT_NE(Details(step).find("signature verified: CN=signer"), std::string::npos) << step.dump();
  EXPECT_EQ(Get("AutoUpdateFrequency"), "77");
  ASSERT_GE(Position("/s1/dev.ini.p7s"), 0);
  EXPECT_LT(Position("/s1/dev.ini.p7s"), Position("/s1/dev.ini")) << "the signature first";
  // The next poll: both conditional, both 304, nothing applied.
  auto [rc2, again] = Update();
  EXPECT_EQ(rc2, 0);
  EXPECT_EQ(Step(again, "ini")["outcome"], "not-modified") << again.dump(2);
  EXPECT_EQ(nginx_->Requests("/s1/dev.ini.p7s").back().status, 304);
}

// A man in the middle: a second server serves an altered file with the original signature.
TEST_F(SignatureTest, AnAlteredFileWithTheOriginalSignatureIsRefusedOnEveryPoll) {
  Nginx attacker;
  ASSERT_TRUE(attacker.ok());
  Publish(nginx_->root(), "s2/dev.ini", "AutoUpdateFrequency = 77\n");
  WriteText(attacker.root() / "s2/dev.ini",
            "AutoUpdateFrequency = 77\nIniFileURL = 'http://127.0.0.1:9/evil.ini'\n");
  WriteText(attacker.root() / "s2/dev.ini.p7s", ReadText(nginx_->root() / "s2/dev.ini.p7s"));
  Bootstrap("IniFileURL = '" + attacker.Url("/s2/dev.ini") + "'\nAutoUpdateFrequency = 5\n");
  for (int poll = 1; poll <= 2; ++poll) {
    auto [rc, report] = Update();
    EXPECT_EQ(rc, 1) << "poll " << poll;
    const auto& step = Step(report, "ini");
    EXPECT_EQ(step["outcome"], "rejected") << "poll " << poll << ": " << step.dump(2);
    EXPECT_NE(step.value("error", "").find("bad signature"), std::string::npos) << step.dump();
    EXPECT_EQ(Get("AutoUpdateFrequency"), "5") << "nothing applied";
    EXPECT_EQ(Get("IniFileURL"), attacker.Url("/s2/dev.ini"));
  }
  EXPECT_EQ(attacker.Requests("/s2/dev.ini").back().status, 304)
      << "the second poll asks with the rejected file's validators (S-7.8)";
  // The file fixed on that server: fetched again and applied.
  WriteText(attacker.root() / "s2/dev.ini", ReadText(nginx_->root() / "s2/dev.ini"));
  Touch(attacker.root() / "s2/dev.ini");
  auto [rc, fixed] = Update();
  EXPECT_EQ(Step(fixed, "ini")["outcome"], "applied") << fixed.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "77");
}

TEST_F(SignatureTest, AStrippedSignatureIsRefusedWithoutFetchingTheFile) {
  WriteText(nginx_->root() / "s3/dev.ini", "AutoUpdateFrequency = 77\n");
  Bootstrap("IniFileURL = '" + nginx_->Url("/s3/dev.ini") + "'\nAutoUpdateFrequency = 5\n");
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 1);
  const auto& step = Step(report, "ini");
  EXPECT_EQ(step["outcome"], "rejected");
  EXPECT_NE(step.value("error", "").find("no signature"), std::string::npos) << step.dump();
  EXPECT_EQ(Position("/s3/dev.ini"), -1) << "the file is not fetched";
  EXPECT_EQ(Get("AutoUpdateFrequency"), "5");
  auto status = StatusJson();
  EXPECT_NE(status.dump().find("no signature"), std::string::npos) << status.dump(2);
}

TEST_F(SignatureTest, IfPresentAppliesAnUnsignedFileWithAWarningButChecksASignedOne) {
  Hooks("SignaturePolicy = if-present\n");
  WriteText(nginx_->root() / "s4/dev.ini", "AutoUpdateFrequency = 77\n");
  Bootstrap("IniFileURL = '" + nginx_->Url("/s4/dev.ini") + "'\n");
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 0);
  const auto& step = Step(report, "ini");
  EXPECT_EQ(step["outcome"], "applied");
  EXPECT_NE(Details(step).find("warning: no signature"), std::string::npos) << step.dump(2);
  // A signature that is present must hold.
  Publish(nginx_->root(), "s4/dev.ini", "AutoUpdateFrequency = 88\n", "outsider");
  Touch(nginx_->root() / "s4/dev.ini");
  auto [rc2, refused] = Update();
  EXPECT_EQ(Step(refused, "ini")["outcome"], "rejected") << refused.dump(2);
  EXPECT_NE(Step(refused, "ini").value("error", "").find("unknown signer"), std::string::npos);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "77");
}

// The signing time of the last accepted file is kept per URL, across `config reset`.
TEST_F(SignatureTest, AReplayedOlderSignedFileIsRefusedEvenAfterAConfigReset) {
  WriteText(nginx_->root() / "s5/old.ini", "AutoUpdateFrequency = 11\n");
  std::string old_sig = pki().SignWithOpenssl((nginx_->root() / "s5/old.ini").string(), "signer");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a later signing time
  Publish(nginx_->root(), "s5/dev.ini", "AutoUpdateFrequency = 22\n");
  std::string boot = "IniFileURL = '" + nginx_->Url("/s5/dev.ini") + "'\n";
  Bootstrap(boot);
  EXPECT_EQ(Update().first, 0);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "22");
  // The attacker replays the older file with its own, valid, signature.
  WriteText(nginx_->root() / "s5/dev.ini", ReadText(nginx_->root() / "s5/old.ini"));
  WriteText(nginx_->root() / "s5/dev.ini.p7s", old_sig);
  Touch(nginx_->root() / "s5/dev.ini");
  Touch(nginx_->root() / "s5/dev.ini.p7s");
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(Step(report, "ini").value("error", "").find("replayed"), std::string::npos)
      << report.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "22");
  Command("config reset");
  Bootstrap(boot);
  auto [rc2, after_reset] = Update();
  EXPECT_NE(Step(after_reset, "ini").value("error", "").find("replayed"), std::string::npos)
      << after_reset.dump(2);
}

TEST_F(SignatureTest, SignersOutsideTheBundleNotValidThenOrNotForSigningAreRefused) {
  const std::pair<const char*, const char*> cases[] = {
      {"outsider", "unknown signer"},
      {"expired-signer", "signer not valid at the signing time"},
      {"tls-signer", "wrong key usage"}};
  int n = 0;
  for (const auto& [signer, says] : cases) {
    std::string path = "s6/" + std::to_string(++n) + ".ini";
    Publish(nginx_->root(), path, "AutoUpdateFrequency = 99\n", signer);
    Command("config set IniFileURL " + nginx_->Url("/" + path));
    auto [rc, report] = Update();
    EXPECT_EQ(rc, 1) << signer;
    const auto& step = Step(report, "ini");
    EXPECT_EQ(step["outcome"], "rejected") << signer;
    EXPECT_NE(step.value("error", "").find(says), std::string::npos) << step.dump();
    EXPECT_NE(step.value("error", "").find("CN=" + std::string(signer)), std::string::npos)
        << "the refusal names the signer: " << step.dump();
    EXPECT_NE(Get("AutoUpdateFrequency"), "99");
  }
}

// The signature's URL keeps the file's query string after the suffix; a redirect of the file is
// not followed for the signature, which comes from the configured URL.
TEST_F(SignatureTest, TheSignatureUrlKeepsTheQueryAndIgnoresTheFilesRedirect) {
  Publish(nginx_->root(), "s7/dev.ini", "AutoUpdateFrequency = 33\n");
  Bootstrap("IniFileURL = '" + nginx_->Url("/s7/dev.ini?serial=26") + "'\n");
  EXPECT_EQ(Update().first, 0);
  EXPECT_GE(Position("/s7/dev.ini.p7s?serial=26"), 0);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "33");

  // /sr/dev.ini redirects to /signed/dev.ini, whose own .p7s signs something else.
  Publish(nginx_->root(), "signed/dev.ini", "AutoUpdateFrequency = 44\n");
  WriteText(nginx_->root() / "sr/dev.ini.p7s", ReadText(nginx_->root() / "signed/dev.ini.p7s"));
  Publish(nginx_->root(), "signed/other.ini", "AutoUpdateFrequency = 1\n");
  WriteText(nginx_->root() / "signed/dev.ini.p7s",
            ReadText(nginx_->root() / "signed/other.ini.p7s"));
  Command("config set IniFileURL " + nginx_->Url("/sr/dev.ini"));
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 0) << report.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "44");
  EXPECT_EQ(Position("/signed/dev.ini.p7s"), -1);
}

TEST_F(SignatureTest, SignedFilesOverTftpAndFtp) {
  auto root = dir_ / "files";
  std::filesystem::create_directories(root);
  Publish(root, "tftp.ini", "AutoUpdateFrequency = 55\n");
  Publish(root, "ftp.cli", "configure system\n automatic-update\n  update-frequency 66\n");
  Tftpd tftpd(root);
  Vsftpd ftpd(root);
  ASSERT_TRUE(tftpd.ok());
  ASSERT_TRUE(ftpd.ok());
  Bootstrap("IniFileURL = '" + tftpd.Url("/tftp.ini") + "'\n");
  auto [rc, report] = Update();
  EXPECT_EQ(Step(report, "ini")["outcome"], "applied") << report.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "55");
  Command("config set IniFileURL ''");
  Command("config set CliScriptURL " + ftpd.Url("/ftp.cli"));
  auto [rc2, ftp] = Update();
  EXPECT_EQ(Step(ftp, "cli-script")["outcome"], "applied") << ftp.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "66");
  // Altered on the server: refused over both.
  WriteText(root / "tftp.ini", "AutoUpdateFrequency = 1\n");
  Touch(root / "tftp.ini");
  Command("config set IniFileURL " + tftpd.Url("/tftp.ini"));
  auto [rc3, altered] = Update();
  EXPECT_EQ(Step(altered, "ini")["outcome"], "rejected") << altered.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "66");
}

// S-12.2, no freeze: with AupdSignatureMaxAgeDays, a file the server keeps serving unchanged must
// be signed again within that age; not checked while the clock is unsynchronised (S-10.8).
class SignatureAgeTest : public EngineTest {
 protected:
  RunReport RunAt(long long now) {
    LocalRunOptions o;
    o.clock = ClockSource{[now] { return now; }, [] { return true; }, [](int) {}};
    auto r = RunAutomaticUpdate(*state_, identity_, hooks_, o, CurlFetch());
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : RunReport{};
  }
  void Sign(const std::string& path) {
    auto file = nginx_->root() / (prefix_.substr(1) + path);
    std::string sig = SigningPki::Get().SignWithOpenssl(file.string(), "signer");
    ASSERT_FALSE(sig.empty());
    WriteText(file.string() + ".p7s", sig);
  }
};

TEST_F(SignatureAgeTest, AStableFileMustBeSignedAgainWithinTheMaximumAge) {
  hooks_.signers_bundle = SigningPki::Get().Cert("ca");
  hooks_.signature_policy = "required";
  // The signed file sets the maximum age itself: a replace-mode ini names what it keeps.
  std::string url = Serve("/dev.ini", "AutoUpdateFrequency = 77\nAupdSignatureMaxAgeDays = 1\n");
  Sign("/dev.ini");
  Configure("IniFileURL = '" + url + "'\nAupdSignatureMaxAgeDays = 1\n");
  long long now = std::time(nullptr);
  EXPECT_EQ(Outcome(RunAt(now), "ini"), "applied");
  // Two days on, the server still serves the same file and signature: refused as too old.
  auto late = RunAt(now + 2 * 86400);
  ASSERT_EQ(Outcome(late, "ini"), "rejected");
  EXPECT_NE(Step(late, "ini")->error.find("too old"), std::string::npos)
      << Step(late, "ini")->error;
  EXPECT_EQ(Config().Get("AutoUpdateFrequency"), "77") << "what was applied stays";
  // A clock that is not synchronised (before the agent's build date) does not judge ages.
  auto unsynced = RunAt(BuildEpoch() - 86400);
  EXPECT_EQ(Outcome(unsynced, "ini"), "not-modified");
  // Signed again: the signature changed, the file is fetched whole, judged with it and accepted.
  Sign("/dev.ini");
  Touch("/dev.ini.p7s", 5);
  auto fresh = RunAt(now);
  EXPECT_EQ(Outcome(fresh, "ini"), "applied") << Step(fresh, "ini")->error;
  auto again = RunAt(now + 2 * 86400 - 3600);
  EXPECT_EQ(Outcome(again, "ini"), "rejected")
      << "the age counts from the signing time, not from the last poll";
}

// S-12.4: a new signers bundle, signed under the current one, replaces it before any other file of
// the run is judged; one signed otherwise is refused and the old bundle stays.
TEST_F(SignatureTest, ARotationSignedUnderTheCurrentBundleReplacesIt) {
  std::string bundle_url = nginx_->Url("/rot/signers.pem");
  // The new bundle trusts only the other CA; it is signed by a signer of the current one.
  WriteText(nginx_->root() / "rot/signers.pem", ReadText(pki().Cert("outsider-ca")));
  WriteText(nginx_->root() / "rot/signers.pem.p7s",
            pki().SignWithOpenssl((nginx_->root() / "rot/signers.pem").string(), "signer"));
  std::string ini = "AupdSignersBundleURL = '" + bundle_url + "'\nIniFileURL = '" +
                    nginx_->Url("/rot/dev.ini") + "'\nAutoUpdateFrequency = 12\n";
  Publish(nginx_->root(), "rot/dev.ini", ini, "outsider");  // signed under the new bundle only
  Bootstrap("AupdSignersBundleURL = '" + bundle_url + "'\nIniFileURL = '" +
            nginx_->Url("/rot/dev.ini") + "'\n");
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 0) << report.dump(2);
  EXPECT_EQ(report["steps"][0]["kind"], "signers-bundle") << "fetched first";
  EXPECT_EQ(Step(report, "signers-bundle")["outcome"], "applied") << report.dump(2);
  EXPECT_EQ(Step(report, "ini")["outcome"], "applied") << "judged under the new bundle";
  EXPECT_EQ(ReadText(dir_ / "state/signers.pem"), ReadText(pki().Cert("outsider-ca")));
  auto verify = RunCommand("verify " + (nginx_->root() / "rot/dev.ini").string() + st_);
  EXPECT_EQ(verify.exit_code, 0) << "`verify` uses the rotated bundle: " << verify.out;
  // A file signed under the old bundle is now refused.
  Publish(nginx_->root(), "rot/dev.ini", ini + "INIFileVersion = old-signer\n", "signer");
  Touch(nginx_->root() / "rot/dev.ini");
  auto [rc2, after] = Update();
  EXPECT_EQ(Step(after, "signers-bundle")["outcome"], "not-modified") << after.dump(2);
  EXPECT_NE(Step(after, "ini").value("error", "").find("unknown signer"), std::string::npos)
      << after.dump(2);
}

TEST_F(SignatureTest, ARotationSignedOtherwiseIsRefused) {
  std::string bundle_url = nginx_->Url("/rot2/signers.pem");
  WriteText(nginx_->root() / "rot2/signers.pem", ReadText(pki().Cert("outsider-ca")));
  WriteText(nginx_->root() / "rot2/signers.pem.p7s",
            pki().SignWithOpenssl((nginx_->root() / "rot2/signers.pem").string(), "outsider"));
  Publish(nginx_->root(), "rot2/dev.ini",
          "AupdSignersBundleURL = '" + bundle_url + "'\nIniFileURL = '" +
              nginx_->Url("/rot2/dev.ini") + "'\nAutoUpdateFrequency = 13\n");
  Bootstrap("AupdSignersBundleURL = '" + bundle_url + "'\nIniFileURL = '" +
            nginx_->Url("/rot2/dev.ini") + "'\n");
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(Step(report, "signers-bundle")["outcome"], "rejected") << report.dump(2);
  EXPECT_NE(Step(report, "signers-bundle").value("error", "").find("unknown signer"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/signers.pem"));
  EXPECT_EQ(Step(report, "ini")["outcome"], "applied") << "the old bundle still judges";
}

// S-12.4 and S-9.7: a run killed at random instants while every rename is slowed down leaves the
// old bundle or the new one, never a mix or none; the next run completes the rotation.
TEST_F(SignatureTest, AKillDuringTheBundleSwitchLeavesOneWholeBundle) {
  if (Shell("strace -qq -o /dev/null true >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "strace cannot trace here";
  std::string bundle_url = nginx_->Url("/rot3/signers.pem");
  // The new bundle holds both CAs: a rotation that adds one.
  WriteText(nginx_->root() / "rot3/signers.pem",
            ReadText(pki().Cert("ca")) + ReadText(pki().Cert("outsider-ca")));
  WriteText(nginx_->root() / "rot3/signers.pem.p7s",
            pki().SignWithOpenssl((nginx_->root() / "rot3/signers.pem").string(), "signer"));
  std::string boot = "AupdSignersBundleURL = '" + bundle_url + "'\n";
  std::string new_bundle = ReadText(nginx_->root() / "rot3/signers.pem");
  std::mt19937 rng(12);
  int rotated_at_kill = 0;
  for (int i = 0; i < 8; ++i) {
    std::filesystem::remove_all(dir_ / "state");
    std::filesystem::create_directories(dir_ / "state");
    Hooks("SignaturePolicy = required\n");
    Bootstrap(boot);
    std::vector<std::string> argv = {"strace",
                                     "-f",
                                     "-qq",
                                     "-o",
                                     "/dev/null",
                                     "-e",
                                     "inject=rename,renameat,renameat2:delay_exit=150000",
                                     AUTOPROV_BINARY,
                                     "update"};
    std::istringstream words(st_);
    for (std::string w; words >> w;) argv.push_back(w);
    Process victim;
    ASSERT_TRUE(victim.Start(argv, dir_ / "victim.log"));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 700)(rng)));
    auto children = ReadText("/proc/" + std::to_string(victim.pid()) + "/task/" +
                             std::to_string(victim.pid()) + "/children");
    if (pid_t agent = std::atoi(children.c_str()); agent > 0) ::kill(agent, SIGKILL);
    victim.Kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::error_code ec;
    if (std::filesystem::exists(dir_ / "state/signers.pem", ec)) {
      EXPECT_EQ(ReadText(dir_ / "state/signers.pem"), new_bundle) << "kill " << i;
      ++rotated_at_kill;
    }
    auto [rc, report] = Update();  // the next run completes the rotation
    EXPECT_EQ(rc, 0) << "kill " << i << ": " << report.dump(2);
    EXPECT_EQ(ReadText(dir_ / "state/signers.pem"), new_bundle) << "kill " << i;
  }
  std::printf("kills: 8, the new bundle already in place at %d of them\n", rotated_at_kill);
}

// S-12 in the fleet: simulated devices verify as a device does, and count the signature requests
// apart. A shared signed ini applied by all; an altered one refused by all, nothing applied.
TEST_F(SignatureTest, SimulatedDevicesVerifyToo) {
  constexpr int kDevices = 40;
  Publish(nginx_->root(), "fl/dev.ini",
          "IniFileURL = '" + nginx_->Url("/fl/dev.ini") + "'\nINIFileVersion = signed-fleet\n");
  WriteText(dir_ / "boot.ini", "IniFileURL = '" + nginx_->Url("/fl/dev.ini") + "'\n");
  std::string fleet = "fleet --json --state-dir " + (dir_ / "fleet").string() + " --devices " +
                      std::to_string(kDevices) + " --bootstrap " + (dir_ / "boot.ini").string() +
                      " --signers " + pki().Cert("ca") + " --max-connections 8";
  auto r = RunCommand(fleet + " --runs 2");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["devices_failed"], 0) << r.out;
  EXPECT_EQ(j["counters"]["signature_requests"], 2 * kDevices) << "one per ini fetch";
  EXPECT_EQ(j["counters"]["requests"], 4 * kDevices);
  EXPECT_EQ(nginx_->Requests("/fl/dev.ini.p7s").size(), static_cast<size_t>(2 * kDevices));

  WriteText(nginx_->root() / "fl/dev.ini", "INIFileVersion = tampered\n");
  Touch(nginx_->root() / "fl/dev.ini");
  auto bad = RunCommand(fleet + " --runs 1");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  auto k = nlohmann::json::parse(bad.out, nullptr, false);
  EXPECT_EQ(k["devices_failed"], kDevices) << bad.out;
  EXPECT_NE(bad.out.find("bad signature"), std::string::npos) << "failures grouped by cause";
}

}  // namespace
}  // namespace autoprov
