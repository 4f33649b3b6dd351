// The daemon with real parts (SPEC S-6): interval runs seen in nginx's log, configuration changes
// without a restart, the control socket, SIP NOTIFY from sipp, the restart cycle, and SIGTERM
// mid-download.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <utime.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "../app/command_runner.hpp"
#include "support/servers.hpp"

namespace autoprov {
namespace {

using namespace testing;
using namespace std::chrono_literals;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nginx_.ok());
    dir_ = MakeTempDir("daemon");
    id_ = " --state-dir " + (dir_ / "state").string() +
          " --product Mediant --mac 00908F0000AA --serial 170 --sw-version 7.20A.250.001";
  }
  void TearDown() override {
    daemon_.Stop();
    std::filesystem::remove_all(dir_);
  }
  void Configure(const std::string& ini) {
    WriteText(dir_ / "c.ini", ini);
    auto r = RunCommand("config load --incremental " + (dir_ / "c.ini").string() + id_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  void StartDaemon(const std::string& extra = "") {
    std::vector<std::string> argv = {
        AUTOPROV_BINARY, "daemon",  "--state-dir",  (dir_ / "state").string(),
        "--product",     "Mediant", "--mac",        "00908F0000AA",
        "--serial",      "170",     "--sw-version", "7.20A.250.001"};
    for (auto w : SplitArgs(extra)) argv.push_back(w);
    ASSERT_TRUE(daemon_.Start(argv, dir_ / "daemon.log"));
    for (int i = 0; i < 200 && !std::filesystem::exists(dir_ / "state/control.sock"); ++i)
      std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(std::filesystem::exists(dir_ / "state/control.sock"))
        << ReadText(dir_ / "daemon.log");
  }
  static std::vector<std::string> SplitArgs(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
      if (c == ' ') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  }
  size_t Requests(const std::string& uri) { return nginx_.Requests(uri).size(); }
  // One sipp call of a scenario in tests/integration/servers/sipp against the daemon's SIP port.
  int Sipp(const std::string& scenario, int port) {
    return Shell("cd " + std::string(AUTOPROV_SOURCE_DIR) +
                 "/tests/integration/servers/sipp && timeout 30 sipp -sf " + scenario +
                 " -m 1 -i 127.0.0.1 -p " + std::to_string(FreeUdpPort()) +
                 " 127.0.0.1:" + std::to_string(port) + " -timeout 10 -nostdin > " +
                 (dir_ / "sipp.log").string() + " 2>&1");
  }
  bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (cond()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return cond();
  }

  // The processes whose parent is `pid` (the daemon's runs).
  static std::vector<pid_t> ChildrenOf(pid_t pid) {
    std::vector<pid_t> out;
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
      std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string stat = ReadText(e.path() / "stat");
      auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      int ppid = 0;
      char state = 0;
      if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == pid)
        out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
    return out;
  }

  // S-10.2: a device whose appliance is busy while the returned flag file exists, whose reset
  // command creates the returned marker, with an image to install under /<dir>/.
  std::pair<std::filesystem::path, std::filesystem::path> BusyDevice(const std::string& dir,
                                                                     const std::string& config) {
    auto flag = dir_ / "calls-in-progress";
    auto marker = dir_ / "reset-ran";
    WriteText(flag, "");
    std::string image = "/" + dir + "/Mediant_7.20A.252.011.cmp";
    WriteText(nginx_.root() / image.substr(1), "new image");
    Configure("AutoCmpFileUrl = '" + nginx_.Url(image) +
              "'\nAupdBusyCheckInterval = 1\nAutoUpdateOnStartup = 0\n" + config);
    WriteText(dir_ / "state/hooks.ini", "BusyCommand = /usr/bin/test -e " + flag.string() +
                                            "\nResetCommand = /usr/bin/touch " + marker.string() +
                                            "\n");
    return {flag, marker};
  }

  Nginx nginx_;
  std::filesystem::path dir_;
  std::string id_;
  Process daemon_;
};

TEST_F(DaemonTest, IntervalRunsAndConfigurationChangesApplyWithoutRestart) {
  WriteText(nginx_.root() / "d/i.ini", "INIFileVersion = 'i'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("IniFileURL = '" + nginx_.Url("/d/i.ini") + "'\nAutoUpdateFreqencySeconds = 1\n");
  StartDaemon();
  // Start-up plus one run a second.
  ASSERT_TRUE(WaitFor([&] { return Requests("/d/i.ini") >= 4; }, 6s))
      << ReadText(dir_ / "daemon.log");
  auto log = nginx_.Requests("/d/i.ini");
  EXPECT_EQ(log[0].status, 200);
  for (size_t i = 1; i < log.size(); ++i) EXPECT_EQ(log[i].status, 304);
  // Turning the interval off stops the periodic runs, without restarting the daemon.
  Configure("AutoUpdateFreqencySeconds = 0\n");
  std::this_thread::sleep_for(1500ms);
  size_t after_change = Requests("/d/i.ini");
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(Requests("/d/i.ini"), after_change);
  // Both kinds of periodic trigger: a configuration error, refused by the writer (S-6.3, S-7.8),
  // not a silent choice; the daemon keeps its schedule.
  WriteText(dir_ / "both.ini",
            "AutoUpdateFreqencySeconds = 1\nAutoUpdatePredefinedTime = '03:00'\n");
  auto both = RunCommand("config load --incremental " + (dir_ / "both.ini").string() + id_);
  EXPECT_NE(both.exit_code, 0) << both.out;
  EXPECT_NE(both.out.find("exclude each other"), std::string::npos) << both.out;
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(Requests("/d/i.ini"), after_change);
}

TEST_F(DaemonTest, ControlSocketTriggerAndUpdateAskTheDaemon) {
  WriteText(nginx_.root() / "d/c.ini", "INIFileVersion = 'c'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("IniFileURL = '" + nginx_.Url("/d/c.ini") + "'\nAutoUpdateOnStartup = 0\n");
  StartDaemon();
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "state/control.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Requests("/d/c.ini"), 0u) << "run-on-reboot off";
  auto t = RunCommand("trigger --json" + id_);
  ASSERT_EQ(t.exit_code, 0) << t.out;
  auto j = nlohmann::json::parse(t.out);
  EXPECT_EQ(j["trigger"], "manual");
  EXPECT_EQ(j["steps"][0]["outcome"], "applied");
  auto u = RunCommand("update" + id_);
  EXPECT_EQ(u.exit_code, 0) << u.out;
  EXPECT_NE(u.out.find("(run by the daemon)"), std::string::npos) << u.out;
  EXPECT_NE(u.out.find("not-modified"), std::string::npos);
  EXPECT_EQ(Requests("/d/c.ini"), 2u);
  auto status = RunCommand("cli -c \"show automatic-update status\"" + id_);
  EXPECT_NE(status.out.find("daemon: running"), std::string::npos) << status.out;
}

TEST_F(DaemonTest, SipNotifyCheckSyncRunsAndErrorsDoNot) {
  WriteText(nginx_.root() / "d/s.ini", "INIFileVersion = 's'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("IniFileURL = '" + nginx_.Url("/d/s.ini") +
            "'\nAutoUpdateOnStartup = 0\nEnableSIPRemoteReset = 1\n");
  int port = FreeUdpPort();
  StartDaemon("--sip-listen 127.0.0.1:" + std::to_string(port));
  auto sipp = [&](const std::string& scenario) { return Sipp(scenario, port); };
  EXPECT_EQ(sipp("notify_bad_event.xml"), 0) << ReadText(dir_ / "sipp.log");
  EXPECT_EQ(sipp("notify_no_to.xml"), 0) << ReadText(dir_ / "sipp.log");
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(Requests("/d/s.ini"), 0u) << "an erroneous NOTIFY starts no run";
  EXPECT_EQ(sipp("notify_check_sync.xml"), 0) << ReadText(dir_ / "sipp.log");
  EXPECT_TRUE(WaitFor([&] { return Requests("/d/s.ini") == 1; }, 5s));
  auto log = ReadText(dir_ / "daemon.log");
  EXPECT_NE(log.find("489 Bad Event"), std::string::npos);
  EXPECT_NE(log.find("400 Bad Request"), std::string::npos);
  EXPECT_NE(log.find("run started (sip-notify)"), std::string::npos);
}

// S-9.6 with sipp: a foreign source gets 403, Digest gets 401 then 200, a replayed nonce gets 401,
// and a retransmission causes one run.
TEST_F(DaemonTest, SipNotifyYouCanTrust) {
  WriteText(nginx_.root() / "d/t.ini", "INIFileVersion = 't'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("IniFileURL = '" + nginx_.Url("/d/t.ini") +
            "'\nAutoUpdateOnStartup = 0\nEnableSIPRemoteReset = 1\n"
            "SipNotifyAllowFrom = '10.0.0.0/8, 192.0.2.1'\n");
  int port = FreeUdpPort();
  StartDaemon("--sip-listen 127.0.0.1:" + std::to_string(port));
  auto sipp = [&](const std::string& scenario) { return Sipp(scenario, port); };
  EXPECT_EQ(sipp("notify_forbidden.xml"), 0) << ReadText(dir_ / "sipp.log");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Requests("/d/t.ini"), 0u) << "a foreign source starts no run";
  EXPECT_NE(ReadText(dir_ / "daemon.log").find("SIP request from 127.0.0.1: 403"),
            std::string::npos);

  auto set = [&](const std::string& args) {
    auto r = RunCommand("config set " + args + id_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  };
  set("SipNotifyAllowFrom 127.0.0.0/8");
  set("SipNotifyUsername prov");
  set("SipNotifyPassword s3cret");
  EXPECT_EQ(sipp("notify_digest.xml"), 0) << ReadText(dir_ / "sipp.log");
  EXPECT_TRUE(WaitFor([&] { return Requests("/d/t.ini") == 1; }, 5s))
      << ReadText(dir_ / "daemon.log");

  set("SipNotifyUsername ''");
  EXPECT_EQ(sipp("notify_retransmit.xml"), 0) << ReadText(dir_ / "sipp.log");
  EXPECT_TRUE(WaitFor([&] { return Requests("/d/t.ini") == 2; }, 5s));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(Requests("/d/t.ini"), 2u) << "the retransmission started a second run";
  EXPECT_NE(ReadText(dir_ / "daemon.log").find("200 OK (retransmission"), std::string::npos)
      << ReadText(dir_ / "daemon.log");
}

// S-9.8 with a ResetCommand that kills the daemon, as a reboot would, and a server that ignores
// If-Modified-Since and serves ResetNow = 1: after one reboot the same file causes no other; with
// new content at every boot, the fourth restart within an hour stays pending (the count survives
// the reboots).
TEST_F(DaemonTest, RebootsThatKillTheDaemonCannotLoop) {
  auto marker = dir_ / "reboots";
  auto script = dir_ / "reboot.sh";
  WriteText(script, "#!/bin/sh\necho reboot >> " + marker.string() + "\nkill -9 $PPID\n");
  ::chmod(script.c_str(), 0755);
  Configure("IniFileURL = '" + nginx_.Url("/d/r.ini") + "'\n");
  WriteText(dir_ / "state/hooks.ini", "ResetCommand = " + script.string() + "\n");
  int boots = 0;
  auto boot = [&](const std::string& ini) {
    WriteText(nginx_.root() / "d/r.ini", ini);
    ++boots;
    struct utimbuf t {
      time(nullptr) + boots, time(nullptr) + boots
    };  // "changed": nginx answers 200
    ::utime((nginx_.root() / "d/r.ini").c_str(), &t);
    std::filesystem::remove(dir_ / "state/control.sock");
    size_t finished = 0;
    for (size_t p = 0;
         (p = ReadText(dir_ / "daemon.log").find("run finished", p)) != std::string::npos; ++p)
      ++finished;
    StartDaemon();
    // Killed by the reset command, or its start-up run finished without a restart.
    bool done = WaitFor(
        [&] {
          size_t n = 0;
          for (size_t p = 0;
               (p = ReadText(dir_ / "daemon.log").find("run finished", p)) != std::string::npos;
               ++p)
            ++n;
          return daemon_.Wait(0) >= 0 || n > finished;
        },
        8s);
    EXPECT_TRUE(done) << ReadText(dir_ / "daemon.log");
    daemon_.Stop();
  };
  for (int i = 0; i < 3; ++i) boot("SetDefaultOnINIFileProcess = 0\nResetNow = 1\n");
  EXPECT_EQ(ReadText(marker), "reboot\n") << "the same file restarted the device again";
  for (int i = 0; i < 4; ++i)
    boot("SetDefaultOnINIFileProcess = 0\nResetNow = 1\nINIFileVersion = 'v" + std::to_string(i) +
         "'\n");
  EXPECT_EQ(ReadText(marker), "reboot\nreboot\nreboot\n") << "3 restarts within an hour at most";
  auto status = RunCommand("status --json" + id_);
  EXPECT_NE(status.out.find("within an hour"), std::string::npos) << status.out;
}

TEST_F(DaemonTest, RestartCycleImageRestartStartupRunNotModified) {
  WriteText(nginx_.root() / "d/Mediant_7.20A.252.011.cmp", "new image");
  Configure("AutoCmpFileUrl = '" + nginx_.Url("/d/Mediant_7.20A.252.011.cmp") + "'\n");
  StartDaemon();
  ASSERT_TRUE(WaitFor([&] { return Requests("/d/Mediant_7.20A.252.011.cmp") >= 2; }, 8s))
      << ReadText(dir_ / "daemon.log");
  std::this_thread::sleep_for(300ms);
  auto log = nginx_.Requests("/d/Mediant_7.20A.252.011.cmp");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[1].status, 304) << "the start-up run after the restart finds nothing new";
  EXPECT_NE(log[1].user_agent.find("7.20A.252.011"), std::string::npos) << log[1].user_agent;
  auto status = RunCommand("status --json" + id_);
  auto j = nlohmann::json::parse(status.out);
  EXPECT_EQ(j["device"]["running_version"], "7.20A.252.011");
  EXPECT_NE(ReadText(dir_ / "daemon.log").find("restart (simulated)"), std::string::npos);
}

TEST_F(DaemonTest, SigtermDuringADownloadStopsFastAndKeepsTheOldState) {
  // 400 KB at nginx's limit_rate of 2 KB/s: the download is still running when SIGTERM comes.
  WriteText(nginx_.root() / "files/slow_7.30A.100.001.cmp", std::string(400000, 's'));
  std::string url = nginx_.Url("/slow/slow_7.30A.100.001.cmp");
  Configure("AutoUpdateCmpFile = 1\nCmpFileURL = '" + url + "'\n");
  StartDaemon();
  std::this_thread::sleep_for(1500ms);
  // The run is a process of its own; it stops with the daemon.
  auto runs = ChildrenOf(daemon_.pid());
  ASSERT_EQ(runs.size(), 1u) << "the download runs in one agent process";
  EXPECT_NE(ReadText("/proc/" + std::to_string(runs[0]) + "/cmdline").find("run-once"),
            std::string::npos);
  auto t0 = std::chrono::steady_clock::now();
  ::kill(daemon_.pid(), SIGTERM);
  int rc = daemon_.Wait(5000);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc, 0) << ReadText(dir_ / "daemon.log");
  EXPECT_LT(s, 2.0);
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(runs[0])))
      << "the run's process is gone too";
  auto shown = RunCommand("config show" + id_);
  EXPECT_NE(shown.out.find("CmpFileURL = '" + url + "'"), std::string::npos)
      << "the one-time URL is kept";
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/images/pending.cmp"));
  size_t temps = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_ / "state"))
    temps += e.path().filename().string().find(".autoprov-tmp-") != std::string::npos;
  EXPECT_EQ(temps, 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/control.sock"));
}

TEST_F(DaemonTest, TriggersDuringARunMergeIntoOneFollowUp) {
  WriteText(nginx_.root() / "files/m.ini",
            "SetDefaultOnINIFileProcess = 0\n; " + std::string(3000, 'x') + "\n");
  Configure("IniFileURL = '" + nginx_.Url("/slow/m.ini") + "'\nAutoUpdateOnStartup = 0\n");
  StartDaemon();
  // Three requests while the first run is busy (the file takes over a second at 2 KB/s).
  std::vector<std::thread> clients;
  std::vector<int> codes(3, -1);
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] { codes[i] = RunCommand("trigger" + id_).exit_code; });
    std::this_thread::sleep_for(200ms);
  }
  for (auto& c : clients) c.join();
  for (int c : codes) EXPECT_EQ(c, 0);
  EXPECT_EQ(Requests("/slow/m.ini"), 2u)
      << "one run, then one follow-up for the triggers that came during it";
}

// S-6: the resident daemon is small: it loads neither libcurl nor a TLS or crypto library; each run
// is an agent process that has them.
TEST_F(DaemonTest, TheResidentDaemonLoadsNoTransferOrCryptoLibrary) {
  std::filesystem::path daemon =
      std::filesystem::path(AUTOPROV_BINARY).parent_path() / "autoprov-daemon";
  auto ldd = RunProgram("ldd " + daemon.string());
  ASSERT_EQ(ldd.exit_code, 0) << ldd.out;
  EXPECT_NE(ldd.out.find("libc.so"), std::string::npos) << ldd.out;  // ldd really listed it
  for (const char* lib : {"libcurl", "libssl", "libcrypto", "libnghttp2", "libz."})
    EXPECT_EQ(ldd.out.find(lib), std::string::npos) << lib << " in\n" << ldd.out;
  Configure("AutoUpdateOnStartup = 0\n");
  StartDaemon();
  std::string maps = ReadText("/proc/" + std::to_string(daemon_.pid()) + "/maps");
  EXPECT_EQ(maps.find("libcurl"), std::string::npos);
  EXPECT_EQ(maps.find("libcrypto"), std::string::npos);
  EXPECT_NE(ReadText("/proc/" + std::to_string(daemon_.pid()) + "/cmdline").find("autoprov-daemon"),
            std::string::npos)
      << "`autoprov daemon` becomes the small executable";
}

// A run that crashes cannot take the daemon down: the crash is reported (trigger, status), and the
// next trigger starts a new run.
TEST_F(DaemonTest, ARunThatCrashesIsReportedAndTheNextRunWorks) {
  WriteText(nginx_.root() / "d/x.ini", "INIFileVersion = 'x'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("IniFileURL = '" + nginx_.Url("/d/x.ini") + "'\nAutoUpdateOnStartup = 0\n");
  // An agent that dies of SIGSEGV on its first run and is the real agent afterwards.
  auto agent = dir_ / "agent.sh";
  WriteText(agent, "#!/bin/sh\nif [ ! -e " + (dir_ / "crashed").string() + " ]; then touch " +
                       (dir_ / "crashed").string() + "; kill -SEGV $$; fi\nexec " +
                       AUTOPROV_BINARY + " \"$@\"\n");
  std::filesystem::permissions(agent, std::filesystem::perms::owner_all);
  ::setenv("AUTOPROV_AGENT", agent.c_str(), 1);
  StartDaemon();
  ::unsetenv("AUTOPROV_AGENT");
  auto crashed = RunCommand("trigger --json" + id_);
  EXPECT_EQ(crashed.exit_code, 1) << crashed.out;
  auto j = nlohmann::json::parse(crashed.out);
  EXPECT_EQ(j["steps"][0]["kind"], "start");
  EXPECT_NE(j["steps"][0]["error"].get<std::string>().find("SIGSEGV"), std::string::npos)
      << crashed.out;
  EXPECT_TRUE(daemon_.Running());
  auto status = RunCommand("status" + id_);
  EXPECT_NE(status.out.find("SIGSEGV"), std::string::npos)
      << "the crash is the last run in status:\n"
      << status.out;
  auto next = RunCommand("trigger --json" + id_);
  ASSERT_EQ(next.exit_code, 0) << next.out << ReadText(dir_ / "daemon.log");
  EXPECT_EQ(nlohmann::json::parse(next.out)["steps"][0]["outcome"], "applied");
  EXPECT_EQ(Requests("/d/x.ini"), 1u);
}

// The control socket answers while a run is in progress (the run is another process).
TEST_F(DaemonTest, StatusAnswersDuringARun) {
  WriteText(nginx_.root() / "files/r.ini",
            "SetDefaultOnINIFileProcess = 0\n; " + std::string(4000, 'x') + "\n");
  Configure("IniFileURL = '" + nginx_.Url("/slow/r.ini") + "'\n");
  StartDaemon();
  std::this_thread::sleep_for(500ms);
  auto t0 = std::chrono::steady_clock::now();
  auto status = RunCommand("cli -c \"show automatic-update status\"" + id_);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.5);
  EXPECT_NE(status.out.find("a run is in progress"), std::string::npos) << status.out;
}

// S-10.1: a run that fails during an outage is retried on AupdRetrySchedule, not at the next
// interval (an hour here); `status` shows the retry; when the server is back the retry succeeds and
// no further retry follows.
TEST_F(DaemonTest, AFailedRunIsRetriedOnTheScheduleUntilItSucceeds) {
  WriteText(nginx_.root() / "outage/r.ini",
            "INIFileVersion = 'r'\nSetDefaultOnINIFileProcess = 0\n");
  WriteText(nginx_.root() / "outage.flag", "");
  Configure("IniFileURL = '" + nginx_.Url("/outage/r.ini") +
            "'\nAutoUpdateFreqencySeconds = 3600\nAupdRetrySchedule = '1+1,2'\n");
  StartDaemon();
  // Start-up (503), retry 1 after 1-2 s (503), retry 2 after 2 s (503)...
  ASSERT_TRUE(WaitFor([&] { return Requests("/outage/r.ini") >= 3; }, 10s))
      << ReadText(dir_ / "daemon.log");
  auto status = RunCommand("status" + id_);
  EXPECT_NE(status.out.find("next retry:"), std::string::npos) << status.out;
  auto failing = nginx_.Requests("/outage/r.ini");
  for (const auto& e : failing) EXPECT_EQ(e.status, 503);
  EXPECT_GE(failing[1].time - failing[0].time, 0.9) << "retry 1: 1+1 s after the start-up run";
  EXPECT_LE(failing[1].time - failing[0].time, 3.5);
  EXPECT_GE(failing[2].time - failing[1].time, 1.9) << "retry 2: 2 s";
  // The server is back: the next retry succeeds, and nothing more until the interval.
  std::filesystem::remove(nginx_.root() / "outage.flag");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto log = nginx_.Requests("/outage/r.ini");
        return !log.empty() && log.back().status == 200;
      },
      10s))
      << ReadText(dir_ / "daemon.log");
  size_t after = Requests("/outage/r.ini");
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(Requests("/outage/r.ini"), after) << "no retry after a run that went well";
  status = RunCommand("status" + id_);
  EXPECT_EQ(status.out.find("next retry:"), std::string::npos) << status.out;
  EXPECT_NE(ReadText(dir_ / "daemon.log").find("retry 1"), std::string::npos);
}

// S-10.7: the interval counts from the last run, whatever triggered it: a manual run half-way
// through the interval moves the next periodic run to a whole interval after it.
TEST_F(DaemonTest, TheIntervalCountsFromTheLastRunWhateverTriggeredIt) {
  WriteText(nginx_.root() / "iv/i.ini", "INIFileVersion = 'i'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("IniFileURL = '" + nginx_.Url("/iv/i.ini") + "'\nAutoUpdateFreqencySeconds = 4\n");
  StartDaemon();
  ASSERT_TRUE(WaitFor([&] { return Requests("/iv/i.ini") >= 1; }, 5s));
  std::this_thread::sleep_for(2s);
  auto manual = RunCommand("trigger" + id_);
  ASSERT_EQ(manual.exit_code, 0) << manual.out;
  ASSERT_TRUE(WaitFor([&] { return Requests("/iv/i.ini") >= 3; }, 10s))
      << ReadText(dir_ / "daemon.log");
  auto log = nginx_.Requests("/iv/i.ini");
  double startup = log[0].time, by_hand = log[1].time, periodic = log[2].time;
  EXPECT_NEAR(by_hand - startup, 2.0, 1.0);
  // Whole seconds: 4 s after the manual run is 3 to 5 s; after the start-up run it would be 2.
  EXPECT_GE(periodic - by_hand, 2.9) << "4 s after the manual run, not 4 s after the start-up run";
  EXPECT_LE(periodic - by_hand, 6.0);
}

// S-10.1: AupdStartupRandomDelay holds the start-up run back (here 1 or 2 s); `status` says until
// when.
TEST_F(DaemonTest, TheStartupRunWaitsItsRandomDelay) {
  WriteText(nginx_.root() / "sd/i.ini", "INIFileVersion = 'i'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("IniFileURL = '" + nginx_.Url("/sd/i.ini") + "'\nAupdStartupRandomDelay = 2\n");
  auto started = std::chrono::steady_clock::now();
  StartDaemon();
  auto status = RunCommand("status" + id_);
  EXPECT_NE(status.out.find("start-up run:"), std::string::npos)
      << status.out << ReadText(dir_ / "daemon.log");
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(Requests("/sd/i.ini"), 0u) << "the start-up run waits at least a second";
  ASSERT_TRUE(WaitFor([&] { return Requests("/sd/i.ini") >= 1; }, 6s))
      << ReadText(dir_ / "daemon.log");
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LE(waited, 8.0);  // 1 or 2 s, plus a start and a run on a loaded machine
  EXPECT_NE(ReadText(dir_ / "daemon.log").find("AupdStartupRandomDelay"), std::string::npos);
}

// S-10.3: the report of a run that restarts the device is sent after the start-up run, with that
// run's report after it: both arrive, in order, once the device is back.
TEST_F(DaemonTest, TheReportOfARunThatRestartedArrivesAfterTheStartupRun) {
  WriteText(nginx_.root() / "rr/Mediant_7.20A.252.011.cmp", "new image");
  Configure("AutoCmpFileUrl = '" + nginx_.Url("/rr/Mediant_7.20A.252.011.cmp") +
            "'\nAupdReportUrl = '" + nginx_.Url("/reports/rr-<MAC>.json") + "'\n");
  StartDaemon();
  ASSERT_TRUE(WaitFor([&] { return Requests("/reports/rr-00908F0000AA.json") >= 2; }, 10s))
      << ReadText(dir_ / "daemon.log");
  auto all = nginx_.AccessLog();
  std::vector<std::string> order;
  for (const auto& e : all)
    if (e.uri.starts_with("/rr/") || e.uri.starts_with("/reports/rr-")) order.push_back(e.uri);
  ASSERT_GE(order.size(), 4u);
  EXPECT_EQ(order[0], "/rr/Mediant_7.20A.252.011.cmp");  // the run that restarts
  EXPECT_EQ(order[1], "/rr/Mediant_7.20A.252.011.cmp");  // the start-up run
  EXPECT_EQ(order[2], "/reports/rr-00908F0000AA.json");  // the first run's report
  EXPECT_EQ(order[3], "/reports/rr-00908F0000AA.json");  // the start-up run's
  auto last = nlohmann::json::parse(ReadText(nginx_.root() / "reports/rr-00908F0000AA.json"));
  EXPECT_EQ(last["trigger"], "start-up");
  EXPECT_EQ(last["running_version"], "7.20A.252.011");
}

// S-10.6: zero touch at boot: the DHCP hook sets the URL, asks the running daemon for a run and
// returns at once; the run fetches the new URL.
TEST_F(DaemonTest, TheDhcpHookAsksTheDaemonForARunAndReturnsAtOnce) {
  WriteText(nginx_.root() / "zt/dev.ini",
            "INIFileVersion = 'zt'\nSetDefaultOnINIFileProcess = 0\n");
  Configure("AutoUpdateOnStartup = 0\n");
  StartDaemon();
  auto started = std::chrono::steady_clock::now();
  // <protocol>://<server>;<configuration file>
  auto hook = RunCommand("dhcp-hook --option160 '" + nginx_.Url(";zt/dev.ini") + "'" + id_);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(hook.exit_code, 0) << hook.out;
  EXPECT_LT(took, 1.0);
  EXPECT_NE(hook.out.find("the daemon was asked for a run"), std::string::npos) << hook.out;
  ASSERT_TRUE(WaitFor([&] { return Requests("/zt/dev.ini") >= 1; }, 5s))
      << ReadText(dir_ / "daemon.log");
  EXPECT_NE(ReadText(dir_ / "daemon.log").find("trigger: dhcp"), std::string::npos);
}

// S-10.2: a restart waits while the appliance is busy (BusyCommand exits 0 while a flag file
// exists), asking every second; meanwhile no lock is held (`config set` and `status` work); when
// the appliance is idle the reset command runs. The report tells the wait.
TEST_F(DaemonTest, ARestartWaitsWhileTheApplianceIsBusy) {
  auto [flag, marker] = BusyDevice("bz", "AupdBusyMaxDefer = 60\n");
  StartDaemon();
  auto trigger = std::async(std::launch::async, [&] { return RunCommand("trigger --json" + id_); });
  // Whatever fails below, the appliance becomes idle first, so the run does not wait for long.
  std::shared_ptr<void> idle(nullptr, [&](void*) { std::filesystem::remove(flag); });
  ASSERT_TRUE(
      WaitFor([&] { return ReadText(dir_ / "daemon.log").find("busy") != std::string::npos; }, 10s))
      << ReadText(dir_ / "daemon.log");
  // No lock held while waiting.
  auto set = RunCommand("config set AupdBusyCheckInterval 1" + id_);
  EXPECT_EQ(set.exit_code, 0) << set.out;
  EXPECT_EQ(RunCommand("status" + id_).exit_code, 0);
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "no restart while busy";
  std::filesystem::remove(flag);
  auto report = trigger.get();
  ASSERT_EQ(report.exit_code, 0) << report.out;
  auto j = nlohmann::json::parse(report.out);
  EXPECT_TRUE(std::filesystem::exists(marker)) << "the restart once idle";
  ASSERT_TRUE(j["busy_deferral"].is_object()) << j.dump();
  EXPECT_GE(j["busy_deferral"]["checks"].get<int>(), 3);
  EXPECT_GE(j["busy_deferral"]["seconds"].get<double>(), 2.0);
  EXPECT_NE(j["busy_deferral"]["outcome"].get<std::string>().find("idle"), std::string::npos);
}

// S-10.2: busy past AupdBusyMaxDefer under give-up-until-next-run: no restart, and it stays pending
// in the state database; SIGTERM during a wait stops the daemon promptly, restart still pending.
TEST_F(DaemonTest, BusyPastTheCapGivesUpAndSigtermStopsAWait) {
  auto [flag, marker] = BusyDevice("bg", "AupdBusyMaxDefer = 2\nAupdBusyPolicy = 1\n");
  StartDaemon();
  auto report = RunCommand("trigger --json" + id_);
  ASSERT_EQ(report.exit_code, 0) << report.out;
  auto j = nlohmann::json::parse(report.out);
  EXPECT_EQ(j["restart"], "pending") << j.dump();
  EXPECT_NE(j["busy_deferral"]["outcome"].get<std::string>().find("until the next run"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(marker));
  auto status = RunCommand("status --json" + id_);
  EXPECT_NE(status.out.find("restart_pending"), std::string::npos) << status.out;
  // A longer cap, and SIGTERM in the middle of the wait.
  Configure("AupdBusyMaxDefer = 600\n");
  WriteText(nginx_.root() / "bg/Mediant_7.20A.252.011.cmp", "newer image");
  struct utimbuf later {
    time(nullptr) + 60, time(nullptr) + 60
  };
  ::utime((nginx_.root() / "bg/Mediant_7.20A.252.011.cmp").c_str(), &later);
  auto waiting = std::async(std::launch::async, [&] { return RunCommand("trigger" + id_); });
  // Whatever fails below, the daemon stops first, so the run does not wait for long.
  std::shared_ptr<void> stop(nullptr, [&](void*) { daemon_.Stop(); });
  size_t before = 0;
  for (size_t p = 0; (p = ReadText(dir_ / "daemon.log").find("is busy", p)) != std::string::npos;
       ++p)
    ++before;
  ASSERT_TRUE(WaitFor(
      [&] {
        size_t n = 0;
        for (size_t p = 0;
             (p = ReadText(dir_ / "daemon.log").find("is busy", p)) != std::string::npos; ++p)
          ++n;
        return n > before;
      },
      10s))
      << ReadText(dir_ / "daemon.log");
  auto t0 = std::chrono::steady_clock::now();
  daemon_.Stop();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 2.5) << "SIGTERM during a deferral stops promptly";
  waiting.get();
  EXPECT_FALSE(std::filesystem::exists(marker));
}

// Under systemd (Type=notify, WatchdogSec): READY once the daemon listens, STATUS saying what it
// does (idle and its next run; a run's step), WATCHDOG pings at half the interval, STOPPING.
TEST_F(DaemonTest, NotifiesSystemdReadyStatusWatchdogAndStopping) {
  WriteText(nginx_.root() / "sd.ini", "INIFileVersion = 'sd'\nAutoUpdateFrequency = 60\n");
  Configure("IniFileURL = '" + nginx_.Url("/sd.ini") + "'\nAutoUpdateFrequency = 60\n");
  auto sock_path = dir_ / "notify.sock";
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, sock_path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::setenv("NOTIFY_SOCKET", sock_path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);
  StartDaemon();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  std::vector<std::string> got;
  auto collect = [&](std::chrono::milliseconds for_how_long) {
    auto end = std::chrono::steady_clock::now() + for_how_long;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) got.emplace_back(buf, static_cast<size_t>(n));
    }
  };
  collect(1500ms);
  ASSERT_EQ(RunCommand("trigger" + id_).exit_code, 0);
  collect(1200ms);
  daemon_.Stop();
  collect(200ms);
  ::close(fd);
  auto count = [&](const std::string& prefix) {
    return std::count_if(got.begin(), got.end(),
                         [&](const std::string& m) { return m.starts_with(prefix); });
  };
  std::string all;
  for (const auto& m : got) all += m + " | ";
  EXPECT_EQ(count("READY=1"), 1) << all;
  EXPECT_GE(count("WATCHDOG=1"), 5) << "every 200 ms over about 3 s: " << all;
  EXPECT_GE(count("STATUS=idle; next interval run at "), 1) << all;
  EXPECT_GE(count("STATUS=running (manual)"), 1) << all;
  EXPECT_GE(count("STATUS=running step 1/"), 1) << "the run's own status: " << all;
  EXPECT_EQ(count("STOPPING=1"), 1) << all;
}

}  // namespace
}  // namespace autoprov
