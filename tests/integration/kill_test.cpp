// S-8 "nothing lost": kill -9 `autoprov update` at random instants of a run against nginx serving a
// large image. After each kill the configuration is one of the states a run passes through, no
// one-time URL is cleared without its file installed, and a new run completes with no temporary
// file left behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <utime.h>

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "common/digest.hpp"
#include "config/ini.hpp"
#include "engine/config_writer.hpp"
#include "engine/device_state.hpp"
#include "engine/file_checks.hpp"
#include "engine/run.hpp"
#include "support/curl_fetch.hpp"
#include "support/servers.hpp"

namespace autoprov {
namespace {

using namespace testing;

constexpr int kKills = 50;
constexpr long long kImageBytes = 64ll << 20;

class KillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nginx_.ok());
    dir_ = MakeTempDir("kill");
    auto root = nginx_.root() / "k";
    std::filesystem::create_directories(root);
    WriteText(root / "dev.ini",
              "IniFileURL = '" + nginx_.Url("/k/dev.ini") + "'\nCliScriptURL = '" +
                  nginx_.Url("/k/s.cli") + "'\nAutoUpdateCmpFile = 1\nCmpFileURL = '" +
                  nginx_.Url("/k/Mediant_7.20A.252.011.cmp") + "'\nFeatureKeyURL = '" +
                  nginx_.Url("/k/lic.txt") + "'\nCptFileURL = '" + nginx_.Url("/k/tones.dat") +
                  "'\nINIFileVersion = 'v2'\n");
    WriteText(root / "s.cli", "configure system\n automatic-update\n  tftp-block-size 1024\n");
    WriteText(root / "lic.txt", "S/N4837234 key\n");
    WriteText(root / "tones.dat", "tones\n");
    std::string image(static_cast<size_t>(kImageBytes), '\0');
    std::mt19937 rng(7);
    for (size_t i = 0; i < image.size(); i += 4096) image[i] = static_cast<char>(rng());
    WriteText(root / "Mediant_7.20A.252.011.cmp", image);
    image_sha_ = Sha256Hex(image);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path FreshState(const std::string& name) {
    auto state_dir = dir_ / name;
    std::filesystem::remove_all(state_dir);
    auto s = StateDirectory::Open(state_dir, {});
    EXPECT_TRUE(SetParameter((*s)->store(), 0, (*s)->schema(), "IniFileURL",
                             nginx_.Url("/k/dev.ini"), false));
    return state_dir;
  }
  std::vector<std::string> Args(const std::filesystem::path& state_dir) {
    return {AUTOPROV_BINARY,
            "update",
            "--state-dir",
            state_dir.string(),
            "--product",
            "Mediant",
            "--mac",
            "00908F000001",
            "--serial",
            "4837234",
            "--sw-version",
            "7.20A.250.001",
            "-v"};
  }
  // The agent under strace, the system calls `calls` traced and `inject`ed (a delay that widens a
  // window, or a signal at the Nth call). LeakSanitizer cannot run under ptrace: the ASan build's
  // leak check is off for the traced agent.
  std::vector<std::string> Traced(const std::filesystem::path& state_dir, const std::string& calls,
                                  const std::string& inject) {
    std::vector<std::string> args = {"env",
                                     "ASAN_OPTIONS=detect_leaks=0",
                                     "strace",
                                     "-f",
                                     "-qq",
                                     "-o",
                                     "/dev/null",
                                     "-e",
                                     "trace=" + calls,
                                     "-e",
                                     "inject=" + calls + ":" + inject};
    auto rest = Args(state_dir);
    args.insert(args.end(), rest.begin(), rest.end());
    return args;
  }
  static size_t TempFiles(const std::filesystem::path& d) {
    size_t n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(d))
      if (e.path().filename().string().find(".autoprov-tmp-") != std::string::npos) ++n;
    return n;
  }

  Nginx nginx_;
  std::filesystem::path dir_;
  std::string image_sha_;
};

TEST_F(KillTest, KillNineAtRandomInstantsLosesNothing) {
  // The reference: the configurations a complete run passes through, one per applied step.
  std::vector<Configuration> stages;
  {
    auto ref_dir = FreshState("reference");
    auto state = std::move(*StateDirectory::Open(ref_dir, {}));
    stages.push_back(*state->LoadConfiguration());
    LocalRunOptions o;
    o.on_step = [&](const StepReport&) { stages.push_back(*state->LoadConfiguration()); };
    auto r = RunAutomaticUpdate(
        *state, DeviceIdentity{"Mediant", "00908F000001", "4837234", "7.20A.250.001"}, {}, o,
        CurlFetch());
    ASSERT_TRUE(r && r->Completed());
  }
  const Configuration& final_config = stages.back();

  // How long the binary takes for a whole run, to spread the kills over it.
  auto timing_dir = FreshState("timing");
  Process p;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.Start(Args(timing_dir), dir_ / "timing.log"));
  ASSERT_EQ(p.Wait(60000), 0) << ReadText(dir_ / "timing.log");
  long run_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();

  std::mt19937 rng(20261127);
  std::uniform_int_distribution<long> delay(0, run_us * 11 / 10);
  std::map<size_t, int> killed_at_stage;
  int finished_before_kill = 0;
  for (int i = 0; i < kKills; ++i) {
    auto state_dir = FreshState("victim");
    Process victim;
    ASSERT_TRUE(victim.Start(Args(state_dir), dir_ / "victim.log"));
    std::this_thread::sleep_for(std::chrono::microseconds(delay(rng)));
    if (victim.Wait(0) >= 0) ++finished_before_kill;
    victim.Kill();

    // Right after the kill: a valid configuration that is one of the stages of a run.
    {
      auto state = StateDirectory::Open(state_dir, {});
      ASSERT_TRUE(state) << state.error().message;
      auto config = (*state)->LoadConfiguration();
      ASSERT_TRUE(config);
      size_t stage = stages.size();
      for (size_t s = 0; s < stages.size(); ++s)
        if (*config == stages[s]) stage = s;
      ASSERT_LT(stage, stages.size()) << "kill " << i << ": a configuration no run passes through";
      ++killed_at_stage[stage];
      auto& store = (*state)->store();
      // A cleared one-time URL (set by the ini file of stage 1) means the file is installed, in
      // full.
      bool ini_applied = config->Get("INIFileVersion") == "v2";
      if (ini_applied && config->Get("CmpFileURL").empty()) {
        auto image = store.GetKindState(0, "image");
        ASSERT_TRUE(image && image->has_value()) << "kill " << i;
        EXPECT_EQ((*image)->sha256, image_sha_);
        EXPECT_EQ(std::filesystem::file_size(state_dir / "images/pending.cmp"),
                  static_cast<uintmax_t>(kImageBytes));
      }
      if (ini_applied && config->Get("CptFileURL").empty()) {
        EXPECT_EQ(ReadText(state_dir / "files/cpt/tones.dat"), "tones\n");
      }
      if (ini_applied && config->Get("FeatureKeyURL").empty()) {
        EXPECT_EQ(ReadText(state_dir / "files/feature-key/license.key"), "S/N4837234 key\n");
      }
    }

    // A new run completes and ends where an uninterrupted run ends.
    Process recovery;
    ASSERT_TRUE(recovery.Start(Args(state_dir), dir_ / "recovery.log"));
    int rc = recovery.Wait(60000);
    ASSERT_EQ(rc, 0) << "kill " << i << ": " << ReadText(dir_ / "recovery.log");
    auto state = StateDirectory::Open(state_dir, {});
    EXPECT_EQ(*(*state)->LoadConfiguration(), final_config) << "kill " << i;
    EXPECT_EQ(TempFiles(state_dir), 0u) << "kill " << i;
    auto image = (*state)->store().GetKindState(0, "image");
    ASSERT_TRUE(image && image->has_value());
    EXPECT_EQ((*image)->sha256, image_sha_);
  }
  std::string spread;
  for (auto [stage, n] : killed_at_stage)
    spread += " stage" + std::to_string(stage) + "=" + std::to_string(n);
  std::printf("kills: %d, run %.0f ms, finished before the kill: %d, configuration at kill:%s\n",
              kKills, run_us / 1000.0, finished_before_kill, spread.c_str());
  EXPECT_GE(killed_at_stage.size(), 2u) << "the kills should land in different phases of the run";
}

// S-9.7: a run that replaces the client certificate and key together, killed at random instants
// while every rename is slowed down (strace's fault injection widens the window between the
// writes): after any kill the installed pair matches (checked with OpenSSL), and a new run installs
// the new pair.
TEST_F(KillTest, CertificateAndKeyNeverMismatchAfterAKill) {
  if (Shell("strace -qq -o /dev/null true >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "strace cannot trace here";
  const TestPki& pki = TestPki::Get();
  auto root = nginx_.root() / "k";
  WriteText(root / "old-cert.pem", ReadText(pki.server_cert));
  WriteText(root / "old-key.pem", ReadText(pki.server_key));
  WriteText(root / "new-cert.pem", ReadText(pki.client_cert));
  WriteText(root / "new-key.pem", ReadText(pki.client_key));
  auto prepare = [&](const std::string& name) {
    auto state_dir = dir_ / name;
    std::filesystem::remove_all(state_dir);
    auto s = std::move(*StateDirectory::Open(state_dir, {}));
    EXPECT_TRUE(SetParameter(s->store(), 0, s->schema(), "TLSCertFileUrl",
                             nginx_.Url("/k/old-cert.pem"), false));
    EXPECT_TRUE(SetParameter(s->store(), 0, s->schema(), "TLSPkeyFileUrl",
                             nginx_.Url("/k/old-key.pem"), false));
    auto r = RunAutomaticUpdate(
        *s, DeviceIdentity{"Mediant", "00908F000001", "4837234", "7.20A.250.001"}, {}, {},
        CurlFetch());
    EXPECT_TRUE(r && r->Completed());
    EXPECT_TRUE(SetParameter(s->store(), 0, s->schema(), "TLSCertFileUrl",
                             nginx_.Url("/k/new-cert.pem"), false));
    EXPECT_TRUE(SetParameter(s->store(), 0, s->schema(), "TLSPkeyFileUrl",
                             nginx_.Url("/k/new-key.pem"), false));
    return state_dir;
  };
  auto slowed = [&](const std::filesystem::path& state_dir) {
    return Traced(state_dir, "rename,renameat,renameat2", "delay_exit=100000");
  };
  // Which file is which, for a failure's message.
  auto name_of = [&](const std::string& pem) -> std::string {
    if (pem == ReadText(pki.server_cert)) return "old certificate";
    if (pem == ReadText(pki.server_key)) return "old key";
    if (pem == ReadText(pki.client_cert)) return "new certificate";
    if (pem == ReadText(pki.client_key)) return "new key";
    return "unknown content (" + std::to_string(pem.size()) + " bytes)";
  };
  auto matches = [&](const std::filesystem::path& state_dir, int i, const char* when) {
    auto tls = state_dir / "files/tls";
    std::error_code ec;
    if (!std::filesystem::exists(tls / "device-cert.pem", ec) ||
        !std::filesystem::exists(tls / "device-key.pem", ec))
      return;
    std::string cert = ReadText(tls / "device-cert.pem"), key = ReadText(tls / "device-key.pem");
    auto m = KeyMatchesCertificate(cert, key);
    ASSERT_TRUE(m) << "kill " << i;
    if (*m) return;
    std::string listing;
    for (auto& e : std::filesystem::recursive_directory_iterator(tls, ec)) {
      listing += "  " + e.path().lexically_relative(tls).string();
      if (e.is_symlink(ec))
        listing += " -> " + std::filesystem::read_symlink(e.path(), ec).string();
      listing += "\n";
    }
    ADD_FAILURE() << "kill " << i << " (" << when
                  << "): certificate and key do not match: " << name_of(cert) << " with "
                  << name_of(key) << "\n"
                  << listing << "the killed run's log:\n"
                  << ReadText(dir_ / "tls-victim.log") << "the recovery run's log:\n"
                  << ReadText(dir_ / "tls-recovery.log");
  };
  auto timing_dir = prepare("tls-timing");
  Process p;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.Start(slowed(timing_dir), dir_ / "tls-timing.log"));
  ASSERT_EQ(p.Wait(60000), 0) << ReadText(dir_ / "tls-timing.log");
  long run_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::mt19937 rng(9);
  std::uniform_int_distribution<long> delay(run_us / 2,
                                            run_us);  // the pair is switched late in the run
  int new_pair_at_kill = 0;
  for (int i = 0; i < 16; ++i) {
    auto state_dir = prepare("tls-victim");
    Process victim;
    std::filesystem::remove(dir_ / "tls-victim.log");
    ASSERT_TRUE(victim.Start(slowed(state_dir), dir_ / "tls-victim.log"));
    // The agent is strace's child: found first, so that the kill reaches it even on a slow machine.
    auto children = "/proc/" + std::to_string(victim.pid()) + "/task/" +
                    std::to_string(victim.pid()) + "/children";
    pid_t agent = 0;
    for (int w = 0; w < 300 && agent <= 0; ++w) {
      agent = std::atoi(ReadText(children).c_str());
      if (agent <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(agent, 0) << "strace did not start the agent";
    std::this_thread::sleep_for(std::chrono::microseconds(delay(rng)));
    // SIGKILL to the agent itself, as a power cut would stop it; then to strace.
    ::kill(agent, SIGKILL);
    victim.Kill();
    auto alive = [](pid_t pid) {  // a zombie (its parent, strace, is gone) holds no lock any more
      std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
      auto paren = stat.rfind(')');
      return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
    };
    for (int w = 0; w < 300 && alive(agent); ++w)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // The agent holds the run lock until it has ended: taking the lock proves that nothing of the
    // killed run is still in flight (a pid seen as gone is not enough under load).
    std::optional<RunLock> lock;
    for (int w = 0; w < 1000 && !lock; ++w) {
      if (auto l = RunLock::Acquire(state_dir))
        lock.emplace(std::move(*l));
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(lock) << "kill " << i << ": the killed run still holds the run lock";
    matches(state_dir, i, "after the kill");
    new_pair_at_kill +=
        ReadText(state_dir / "files/tls/device-cert.pem") == ReadText(pki.client_cert);
    lock.reset();  // the recovery run takes it
    Process recovery;
    std::filesystem::remove(dir_ / "tls-recovery.log");
    ASSERT_TRUE(recovery.Start(Args(state_dir), dir_ / "tls-recovery.log"));
    ASSERT_EQ(recovery.Wait(60000), 0)
        << "kill " << i << ": " << ReadText(dir_ / "tls-recovery.log");
    matches(state_dir, i, "after the recovery run");
    EXPECT_EQ(ReadText(state_dir / "files/tls/device-cert.pem"), ReadText(pki.client_cert))
        << "kill " << i;
    EXPECT_EQ(TempFiles(state_dir), 0u) << "kill " << i;
  }
  std::printf(
      "TLS kills: 16, run under strace %.0f ms, new pair already in place at the kill: %d\n",
      run_us / 1000.0, new_pair_at_kill);
}

// S-7.7: a kill at each durable write of a run that applies a changed replace-mode ini file and
// then applies the unchanged CLI script again (strace sends SIGKILL at the Nth fsync/fdatasync, N =
// 1, 2,
// ...). Each transaction leaves the old or the new state: the configuration is the old composition,
// the new one, or the ini file's alone with the composition mark set (the state every run passes
// through between the two steps, S-2.1) — never unmarked. The next run, with nothing changed on the
// server, ends with the new composition.
TEST_F(KillTest, AKillAtEverySyncOfACompositionLeavesAWholeOrMarkedConfiguration) {
  if (Shell("strace -qq -o /dev/null true >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "strace cannot trace here";
  auto root = nginx_.root() / "compose";
  auto serve = [&](const std::string& name, const std::string& text, time_t mtime) {
    WriteText(root / name, text);
    struct utimbuf t {
      mtime, mtime
    };
    ::utime((root / name).c_str(), &t);
  };
  std::string ini =
      "CliScriptURL = '" + nginx_.Url("/compose/s.cli") + "'\nAupdBusyMaxDefer = 100\n";
  serve("s.cli", "configure system\n automatic-update\n  tftp-block-size 1428\n", 1700000000);
  auto prepare = [&](const std::string& name) {
    serve("dev.ini", ini + "INIFileVersion = 'v1'\n", 1700000100);
    auto state_dir = dir_ / name;
    std::filesystem::remove_all(state_dir);
    auto s = std::move(*StateDirectory::Open(state_dir, {}));
    EXPECT_TRUE(SetParameter(s->store(), 0, s->schema(), "IniFileURL",
                             nginx_.Url("/compose/dev.ini"), false));
    auto r = RunAutomaticUpdate(
        *s, DeviceIdentity{"Mediant", "00908F000001", "4837234", "7.20A.250.001"}, {}, {},
        CurlFetch());
    EXPECT_TRUE(r && r->Completed());
    serve("dev.ini", ini + "INIFileVersion = 'v2'\n", 1700000200);
    return state_dir;
  };
  // The stored parameters (a Configuration refers to its state directory's schema: not kept).
  auto config_of = [](const std::filesystem::path& state_dir) {
    auto s = std::move(*StateDirectory::Open(state_dir, {}));
    return s->LoadConfiguration()->scalars();
  };
  auto reference = prepare("compose-reference");
  auto old_config = config_of(reference);
  Process run;
  ASSERT_TRUE(run.Start(Args(reference), dir_ / "compose-reference.log"));
  ASSERT_EQ(run.Wait(60000), 0) << ReadText(dir_ / "compose-reference.log");
  auto new_config = config_of(reference);
  ASSERT_EQ(new_config["AUPDTftpBlockSize"], "1428");
  ASSERT_EQ(new_config["INIFileVersion"], "v2");
  int whole_old = 0, marked = 0, whole_new = 0;
  for (int n = 1; n <= 40; ++n) {
    auto state_dir = prepare("compose-victim");
    auto args = Traced(state_dir, "fsync,fdatasync", "signal=KILL:when=" + std::to_string(n));
    Process victim;
    ASSERT_TRUE(victim.Start(args, dir_ / "compose-victim.log"));
    int rc = victim.Wait(60000);
    ASSERT_NE(rc, -1) << "n = " << n;
    bool killed = rc != 0;
    {
      auto now = config_of(state_dir);
      auto s = std::move(*StateDirectory::Open(state_dir, {}));
      auto pending = DeviceState(s->store(), 0).ComposePending("cli-script");
      ASSERT_TRUE(pending);
      if (now == old_config) {
        ++whole_old;
      } else if (now == new_config) {
        ++whole_new;
        EXPECT_FALSE(*pending) << "n = " << n;
      } else {
        ++marked;
        EXPECT_TRUE(*pending) << "n = " << n << ": an incomplete configuration without its mark";
        EXPECT_EQ(now["INIFileVersion"], "v2") << "n = " << n;
        EXPECT_EQ(now.count("AUPDTftpBlockSize"), 0u) << "n = " << n << ": the default";
      }
    }
    Process recovery;
    ASSERT_TRUE(recovery.Start(Args(state_dir), dir_ / "compose-recovery.log"));
    ASSERT_EQ(recovery.Wait(60000), 0)
        << "n = " << n << ": " << ReadText(dir_ / "compose-recovery.log");
    EXPECT_EQ(config_of(state_dir), new_config) << "n = " << n;
    if (!killed) break;  // the run had fewer syncs than n: every one of them was tried
  }
  std::printf("composition kills: old %d, marked %d, new %d\n", whole_old, marked, whole_new);
  EXPECT_GT(marked, 0) << "a kill between the ini file's step and the composition";
}

}  // namespace
}  // namespace autoprov
