// `autoprov update`, `status`, `restart` as a user runs them (SPEC S-8): report, JSON, exit status.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "../app/command_runner.hpp"
#include "common/digest.hpp"
#include "support/servers.hpp"
#include "support/signing_pki.hpp"
#include "transfer/url.hpp"

namespace autoprov {
namespace {

using namespace testing;

class UpdateCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nginx_.ok());
    dir_ = MakeTempDir("update-cmd");
    st_ = " --state-dir " + (dir_ / "state").string() +
          " --product Mediant --mac 00:90:8f:00:00:07 --serial 77 --sw-version 7.20A.250.001";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Bootstrap(const std::string& ini) {
    WriteText(dir_ / "boot.ini", ini);
    auto r = RunCommand("config load " + (dir_ / "boot.ini").string() + st_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  // S-10.4: the bytes a resumable download has recorded as kept.
  static uint64_t KeptBytes(const std::filesystem::path& offset_file) {
    std::ifstream in(offset_file);
    uint64_t v = 0;
    in >> v;
    return v;
  }
  // Starts `update`, and kills it (SIGKILL) as soon as `bytes` are recorded as kept.
  void KillUpdateOnceKept(const std::filesystem::path& offset_file, double bytes) {
    Process agent;
    std::vector<std::string> argv = {AUTOPROV_BINARY, "update", "--json"};
    for (auto w : {"--state-dir", "", "--product", "Mediant", "--mac", "00:90:8f:00:00:07",
                   "--serial", "77", "--sw-version", "7.20A.250.001"})
      argv.push_back(w);
    argv[4] = (dir_ / "state").string();
    ASSERT_TRUE(agent.Start(argv, dir_ / "agent.log"));
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (static_cast<double>(KeptBytes(offset_file)) < bytes && agent.Running() &&
           std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_TRUE(agent.Running()) << "the download ended before the cut";
    agent.Kill();  // kill -9 at a checkpoint just passed
  }
  // `update --json`'s report alone (warnings go to stderr).
  nlohmann::json UpdateJson() {
    auto r = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " update --json" + st_ +
                        " 2>/dev/null'");
    return nlohmann::json::parse(r.out);
  }
  Nginx nginx_;
  std::filesystem::path dir_;
  std::string st_;
};

TEST_F(UpdateCommandTest, ReportTextJsonAndExitStatus) {
  std::string ini_url =
      "http://joe:pw@127.0.0.1:" + std::to_string(nginx_.port()) + "/p/dev_<MAC>.ini";
  WriteText(nginx_.root() / "p/dev_00908F000007.ini",
            "IniFileURL = '" + ini_url + "'\nCptFileURL = '" + nginx_.Url("/p/none.dat") + "'\n");
  Bootstrap("IniFileURL = '" + ini_url + "'\n");
  auto text = RunCommand("update" + st_);
  EXPECT_EQ(text.exit_code, 1) << text.out;  // the CPT step failed
  EXPECT_NE(text.out.find("applied"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("failed"), std::string::npos);
  EXPECT_NE(text.out.find("HTTP 404"), std::string::npos);
  EXPECT_EQ(text.out.find("joe:pw"), std::string::npos);
  WriteText(nginx_.root() / "p/none.dat", "now there");
  auto json = RunCommand("update --json" + st_);
  EXPECT_EQ(json.exit_code, 0) << json.out;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["completed"], true);
  EXPECT_EQ(j["restart"], "none");
  ASSERT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0]["kind"], "ini");
  EXPECT_EQ(j["steps"][0]["outcome"], "not-modified");
  EXPECT_EQ(j["steps"][0]["http_status"], 304);
  EXPECT_FALSE(j["steps"][0]["if_modified_since"].get<std::string>().empty());
  EXPECT_EQ(j["steps"][1]["outcome"], "applied");
  EXPECT_EQ(j["steps"][1]["mode"], "one-time");
  EXPECT_EQ(j["steps"][1]["sha256"].get<std::string>().size(), 64u);
  for (const char* field : {"url", "bytes", "duration_s", "error", "details"})
    EXPECT_TRUE(j["steps"][1].contains(field)) << field;

  auto status = RunCommand("status --json" + st_);
  ASSERT_EQ(status.exit_code, 0);
  auto s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["last_run"]["steps"].size(), 2u);
  EXPECT_FALSE(s["kinds"]["cpt"]["sha256"].get<std::string>().empty());
  EXPECT_EQ(status.out.find("joe:pw"), std::string::npos);
  auto human = RunCommand("status" + st_);
  EXPECT_NE(human.out.find("last run"), std::string::npos);
}

TEST_F(UpdateCommandTest, DryRunFetchesNothing) {
  WriteText(nginx_.root() / "q/a.ini", "SetDefaultOnINIFileProcess = 0\nINIFileVersion = '1'\n");
  Bootstrap("IniFileURL = '" + nginx_.Url("/q/a.ini") + "'\nCmpFileURL = '" +
            nginx_.Url("/q/x_7.1.1.1.cmp") +
            "'\nFeatureKeyURL = 'https://u:secretpw@127.0.0.1/k.txt'\n");
  auto plan = RunCommand("update --dry-run" + st_);
  EXPECT_EQ(plan.exit_code, 0) << plan.out;
  EXPECT_NE(plan.out.find("1. ini (periodic)"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("AutoUpdateCmpFile = 0"), std::string::npos);
  EXPECT_NE(plan.out.find("feature-key (one-time) https://127.0.0.1/k.txt"), std::string::npos);
  EXPECT_EQ(plan.out.find("secretpw"), std::string::npos);
  EXPECT_TRUE(nginx_.AccessLog().empty());
  ASSERT_EQ(RunCommand("update" + st_).exit_code, 1);  // the key server is not there
  auto again = RunCommand("update --dry-run --json" + st_);
  auto j = nlohmann::json::parse(again.out);
  EXPECT_FALSE(j["plan"][0]["if_modified_since"].get<std::string>().empty());
}

TEST_F(UpdateCommandTest, RestartActivatesThePendingImage) {
  WriteText(nginx_.root() / "r/Mediant_7.20A.252.011.cmp", "image");
  Bootstrap("AutoCmpFileUrl = '" + nginx_.Url("/r/Mediant_7.20A.252.011.cmp") + "'\n");
  auto first = RunCommand("update --json" + st_);
  auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["restart"], "pending");
  EXPECT_EQ(j["running_version"], "7.20A.250.001");
  auto restart = RunCommand("restart" + st_);
  EXPECT_EQ(restart.exit_code, 0) << restart.out;
  EXPECT_NE(restart.out.find("running version: 7.20A.252.011"), std::string::npos) << restart.out;
  EXPECT_NE(restart.out.find("not-modified"), std::string::npos) << "the start-up run";
  auto log = nginx_.Requests("/r/Mediant_7.20A.252.011.cmp");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[1].user_agent.find("7.20A.252.011"), std::string::npos);
}

TEST_F(UpdateCommandTest, HelpAndUsageErrors) {
  for (const char* sub : {"update", "status", "restart"}) {
    auto r = RunCommand(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Usage"), std::string::npos);
  }
  EXPECT_EQ(RunCommand("update --mac not-a-mac --state-dir " + (dir_ / "s").string()).exit_code, 2);
}

}  // namespace
}  // namespace autoprov

namespace autoprov {
namespace {

// S-6.6: DHCP options from a client hook set the URL parameters.
TEST(DhcpHookTest, Options66And67AndOption160) {
  auto dir = testing::MakeTempDir("dhcp");
  std::string st = " --state-dir " + (dir / "st").string() + " --product M800B --mac 00908F5B1035";
  // S-10.6: options 66/67 are ignored unless DHCPRequestTFTPParams = 1 (PXE networks).
  auto r =
      testing::RunCommand("dhcp-hook --tftp-server 127.0.0.1 --boot-file /cfg/device.ini" + st);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("DHCPRequestTFTPParams = 0"), std::string::npos) << r.out;
  EXPECT_EQ(testing::RunCommand("config show" + st).out.find("IniFileURL"), std::string::npos);
  ASSERT_EQ(testing::RunCommand("config set DHCPRequestTFTPParams 1" + st).exit_code, 0);
  r = testing::RunCommand("dhcp-hook --tftp-server 127.0.0.1 --boot-file /cfg/device.ini" + st);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(testing::RunCommand("config show" + st)
                .out.find("IniFileURL = 'tftp://127.0.0.1/cfg/device.ini'"),
            std::string::npos);
  // dhclient's variable names, as its hook passes them.
  r = testing::RunCommand("dhcp-hook" + st, "");
  EXPECT_NE(r.out.find("nothing changed"), std::string::npos);
  ::setenv("new_provisioning_url", "http://127.0.0.1/fw/M800B_7.20A.252.011.cmp;cfg/M800B.ini", 1);
  r = testing::RunCommand("dhcp-hook" + st);
  ::unsetenv("new_provisioning_url");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto shown = testing::RunCommand("config show" + st).out;
  EXPECT_NE(shown.find("IniFileURL = 'http://127.0.0.1/cfg/M800B.ini'"), std::string::npos)
      << shown;
  EXPECT_NE(shown.find("AutoCmpFileUrl = 'http://127.0.0.1/fw/M800B_7.20A.252.011.cmp'"),
            std::string::npos);
  r = testing::RunCommand("dhcp-hook --option160 tftp://127.0.0.1" + st);
  EXPECT_NE(testing::RunCommand("config show" + st)
                .out.find("IniFileURL = 'tftp://127.0.0.1/M800B<MAC>.ini'"),
            std::string::npos);
  EXPECT_EQ(testing::RunCommand("dhcp-hook --option160 gopher:bad" + st).exit_code, 1);
  // udhcpc: hex ("http://127.0.0.1/;x.ini").
  ::setenv("opt160", "687474703a2f2f3132372e302e302e312f3b782e696e69", 1);
  r = testing::RunCommand("dhcp-hook" + st);
  ::unsetenv("opt160");
  EXPECT_NE(r.out.find("IniFileURL = 'http://127.0.0.1/x.ini'"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}

// S-10.6: DHCP sets a URL only where it is empty or still holds what DHCP last gave it: a renew
// updates its own URL, but a URL the provisioning server (or an operator) set since stays, whatever
// a later lease (or a rogue DHCP server) says.
TEST(DhcpHookTest, ALeaseNeverUndoesAUrlSetSinceByAnotherSource) {
  auto dir = testing::MakeTempDir("dhcp-origin");
  std::string st = " --state-dir " + (dir / "st").string() + " --product M800B --mac 00908F5B1035";
  auto r = testing::RunCommand("dhcp-hook --option160 'http://10.0.0.1/;first.ini'" + st);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("IniFileURL = 'http://10.0.0.1/first.ini'"), std::string::npos) << r.out;
  // A renew with another server: still DHCP's own URL, so it follows.
  r = testing::RunCommand("dhcp-hook --option160 'http://10.0.0.2/;second.ini'" + st);
  EXPECT_NE(r.out.find("IniFileURL = 'http://10.0.0.2/second.ini'"), std::string::npos) << r.out;
  // The provisioning server moves the device; a later lease does not move it back.
  ASSERT_EQ(testing::RunCommand("config set IniFileURL http://prov.example/dev.ini" + st).exit_code,
            0);
  r = testing::RunCommand("dhcp-hook --option160 'http://10.6.6.6/;rogue.ini'" + st);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("IniFileURL was set by another source"), std::string::npos) << r.out;
  EXPECT_NE(testing::RunCommand("config show" + st)
                .out.find("IniFileURL = 'http://prov.example/dev.ini'"),
            std::string::npos);
  // Cleared: DHCP may set it again.
  ASSERT_EQ(testing::RunCommand("config set IniFileURL ''" + st).exit_code, 0);
  r = testing::RunCommand("dhcp-hook --option160 'http://10.0.0.3/;third.ini'" + st);
  EXPECT_NE(r.out.find("IniFileURL = 'http://10.0.0.3/third.ini'"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace autoprov

namespace autoprov {
namespace {

// S-9.5 property, end to end: for random passwords (any printable ASCII, raw or percent-encoded),
// neither `config set`, `update --json`, `status --json` nor the log (-v) contains the password.
TEST_F(UpdateCommandTest, NoPasswordInAnyOutput) {
  WriteText(nginx_.root() / "pw/x.ini", "INIFileVersion = 'x'\n");
  std::mt19937 rng(5);
  int accepted = 0;
  for (int i = 0; i < 12; ++i) {
    std::string pw = "Pw";
    for (int k = 0; k < 8; ++k) {
      char c = static_cast<char>(0x21 + rng() % 94);
      if (c == '\'' || c == '\\' || c == '"' || c == '`' || c == '$')
        c = '#';  // kept intact by the shell's quoting
      pw.push_back(c);
    }
    for (const std::string& form : {pw, PercentEncode(pw)}) {
      std::string url =
          "http://joe:" + form + "@127.0.0.1:" + std::to_string(nginx_.port()) + "/pw/x.ini";
      auto set = RunCommand("config set IniFileURL '" + url + "'" + st_);
      EXPECT_EQ(set.out.find(form), std::string::npos) << set.out;
      if (set.exit_code != 0) {
        EXPECT_NE(set.out.find("percent-encode"), std::string::npos) << set.out;
        continue;
      }
      ++accepted;
      for (std::string cmd : {"-v update --json", "status --json", "update", "status"}) {
        auto r = RunCommand(cmd + st_);
        EXPECT_EQ(r.out.find(form), std::string::npos) << cmd << ": " << r.out;
        EXPECT_EQ(r.out.find(pw), std::string::npos) << cmd << ": " << r.out;
      }
    }
  }
  EXPECT_GE(accepted, 12) << "every percent-encoded form is accepted";
}

}  // namespace
}  // namespace autoprov

#include <sys/resource.h>

namespace autoprov {
namespace {

// S-9.8: a close-delimited ini far above the 64 MiB limit is stopped there, and the process never
// holds much more than the limit on the way (a doubling buffer reached twice it).
TEST_F(UpdateCommandTest, InMemoryBodyStaysWithinItsLimit) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator changes the resident size";
#endif
  HostileServer hostile;
  ASSERT_TRUE(hostile.ok());
  Bootstrap("IniFileURL = '" + hostile.Url("/endless-chunked") + "'\n");
  auto r = RunCommand("update" + st_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("limit"), std::string::npos) << r.out;
  rusage ru{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, (64 + 24) * 1024) << "peak RSS of the run in KiB";
  std::printf("peak RSS %ld KiB\n", ru.ru_maxrss);
}

// S-10.1 through nginx: a 503 with Retry-After: 120 and a 429 with Retry-After: 30 are worth a
// retry no earlier than the server asks; a 404 is not retried at all. The report says so.
TEST_F(UpdateCommandTest, RetryAfterFromARealServer) {
  Bootstrap("IniFileURL = '" + nginx_.Url("/status/503-retry-after") +
            "'\nAupdRetrySchedule = '5+5'\n");
  auto j = UpdateJson();
  EXPECT_EQ(j["steps"][0]["http_status"], 503);
  EXPECT_EQ(j["steps"][0]["retryable"], true);
  EXPECT_EQ(j["steps"][0]["retry_after_s"], 120);
  EXPECT_EQ(j["retry_attempt"], 1);
  EXPECT_EQ(j["next_retry_at"].get<long long>() - j["finished_at"].get<long long>(), 120);
  auto text = RunCommand("status" + st_);
  EXPECT_NE(text.out.find("next retry:"), std::string::npos) << text.out;

  Bootstrap("IniFileURL = '" + nginx_.Url("/status/429") + "'\nAupdRetrySchedule = '5+5'\n");
  j = UpdateJson();
  EXPECT_EQ(j["steps"][0]["retry_after_s"], 30);
  EXPECT_EQ(j["retry_attempt"], 2) << "the second failed run in a row";
  EXPECT_EQ(j["next_retry_at"].get<long long>() - j["finished_at"].get<long long>(), 30);

  Bootstrap("IniFileURL = '" + nginx_.Url("/nothing/here.ini") + "'\nAupdRetrySchedule = '5+5'\n");
  j = UpdateJson();
  EXPECT_EQ(j["steps"][0]["http_status"], 404);
  EXPECT_EQ(j["steps"][0]["retryable"], false);
  EXPECT_EQ(j["next_retry_at"], 0);
  EXPECT_EQ(j["retry_attempt"], 0);
}

// S-10.3 with nginx's DAV module: the run's report is PUT to AupdReportUrl (<MAC> expanded) and
// equals the report the run printed; `status` says what was sent.
TEST_F(UpdateCommandTest, TheReportIsUploadedAfterTheRun) {
  // The ini file replaces the configuration: it carries the report URL too.
  WriteText(nginx_.root() / "rp/dev.ini", "INIFileVersion = 'rp-1'\nAupdReportUrl = '" +
                                              nginx_.Url("/reports/<MAC>-<CONF>.json") + "'\n");
  Bootstrap("IniFileURL = '" + nginx_.Url("/rp/dev.ini") + "'\nAupdReportUrl = '" +
            nginx_.Url("/reports/<MAC>-<CONF>.json") + "'\n");
  auto run = RunCommand("update --json" + st_);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  auto printed = nlohmann::json::parse(run.out);
  EXPECT_EQ(printed["report_upload"]["sent"], 1) << printed.dump();
  EXPECT_EQ(printed["report_upload"]["http_status"], 201);
  // <CONF> is the INIFileVersion after the run.
  auto uploaded_path = nginx_.root() / "reports/00908F000007-rp-1.json";
  ASSERT_TRUE(std::filesystem::exists(uploaded_path));
  auto uploaded = nlohmann::json::parse(ReadText(uploaded_path));
  printed.erase("report_upload");
  uploaded.erase("report_upload");
  EXPECT_EQ(uploaded, printed);
  EXPECT_EQ(uploaded["steps"][0]["outcome"], "applied");
  auto status = RunCommand("status" + st_);
  EXPECT_NE(status.out.find("report upload:"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("1 sent (HTTP 201)"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("report_queue"), std::string::npos) << status.out;
}

// S-10.3: a report not sent (the server answers 503) is kept and sent after the next run, before
// that run's own; the run itself is not failed by it.
TEST_F(UpdateCommandTest, AReportNotSentIsKeptAndSentAfterTheNextRun) {
  WriteText(nginx_.root() / "rk/dev.ini", "SetDefaultOnINIFileProcess = 0\n");
  WriteText(nginx_.root() / "outage.flag", "");
  Bootstrap("IniFileURL = '" + nginx_.Url("/rk/dev.ini") + "'\nAupdReportUrl = '" +
            nginx_.Url("/outage-reports/<MAC>.json") + "'\n");
  auto first = RunCommand("update --json" + st_);
  EXPECT_EQ(first.exit_code, 0) << "an upload never fails the run: " << first.out;
  auto status = RunCommand("status" + st_);
  EXPECT_NE(status.out.find("HTTP 503"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("1 kept for the next run"), std::string::npos) << status.out;
  EXPECT_FALSE(std::filesystem::exists(nginx_.root() / "outage-reports/00908F000007.json"));
  std::filesystem::remove(nginx_.root() / "outage.flag");
  auto second = RunCommand("update --json" + st_);
  auto j = nlohmann::json::parse(second.out);
  EXPECT_EQ(j["report_upload"]["sent"], 2) << j.dump();
  EXPECT_EQ(j["report_upload"]["kept"], 0);
  auto puts = nginx_.Requests("/outage-reports/00908F000007.json");
  ASSERT_EQ(puts.size(), 3u);
  EXPECT_EQ(puts[0].status, 503);
  EXPECT_EQ(puts[1].status, 201);  // the first run's report
  EXPECT_EQ(puts[2].status, 204);  // the second's, replacing it
  auto last = nlohmann::json::parse(ReadText(nginx_.root() / "outage-reports/00908F000007.json"));
  EXPECT_EQ(last["started_at"], j["started_at"]);
}

// S-10.3: reports go over http or https only (a file: URL would let a server make the agent write
// local files); credentials go only where they belong: the update credentials to the IniFileURL
// host, never to another.
TEST_F(UpdateCommandTest, ReportUploadsKeepToHttpAndTheirOwnCredentials) {
  WriteText(nginx_.root() / "rc/dev.ini", "SetDefaultOnINIFileProcess = 0\n");
  auto target = dir_ / "written-by-upload.json";
  Bootstrap("IniFileURL = '" + nginx_.Url("/rc/dev.ini") + "'\nAUPDUserPassword = 'joe:s3cret'\n");
  // Refused when it is set (S-7.8: one validation), by a local command too.
  auto refused = RunCommand("config set AupdReportUrl file://" + target.string() + st_);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.out.find("http or https only"), std::string::npos) << refused.out;
  RunCommand("update --json" + st_);
  EXPECT_FALSE(std::filesystem::exists(target));
  // Same host as IniFileURL: the update credentials answer the server's challenge.
  ASSERT_EQ(RunCommand("config set AupdReportUrl " + nginx_.Url("/basic-reports/same.json") + st_)
                .exit_code,
            0);
  RunCommand("update" + st_);
  auto same = nginx_.Requests("/basic-reports/same.json");
  ASSERT_FALSE(same.empty());
  EXPECT_TRUE(same.back().status == 201 || same.back().status == 204) << same.back().status;
  EXPECT_NE(same.back().authorization, "");
  // Another host name: they are not sent there.
  std::string other =
      "http://localhost:" + std::to_string(nginx_.port()) + "/basic-reports/other.json";
  ASSERT_EQ(RunCommand("config set AupdReportUrl " + other + st_).exit_code, 0);
  RunCommand("update" + st_);
  auto elsewhere = nginx_.Requests("/basic-reports/other.json");
  ASSERT_FALSE(elsewhere.empty());
  for (const auto& e : elsewhere) EXPECT_EQ(e.authorization, "");
  EXPECT_EQ(elsewhere.back().status, 401);
  // The report's own credentials go anywhere the report goes.
  ASSERT_EQ(RunCommand("config set AupdReportUserPassword joe:s3cret" + st_).exit_code, 0);
  RunCommand("update" + st_);
  EXPECT_EQ(nginx_.Requests("/basic-reports/other.json").back().status, 204)
      << "the report kept after the 401, then this run's";
}

// S-10.4: an image download killed (kill -9) at about 50% and again at about 80% completes on the
// third run, which asks only for the rest (Range + If-Range): nginx's log shows a 200 and two 206s
// and hardly more bytes sent than the image holds; the hash covers the whole file.
TEST_F(UpdateCommandTest, AnImageCutTwiceResumesAndCompletesInThreeRuns) {
  // At nginx's 32 MB/s and a checkpoint a second at most: 8 s in all, cuts 1.3 s apart at least.
  constexpr uint64_t kSize = 256u << 20;
  const std::string name = "/limited/Mediant_7.40A.100.001.cmp";
  {
    std::filesystem::create_directories(nginx_.root() / "limited");
    std::ofstream out(nginx_.root() / name.substr(1), std::ios::binary);
    std::mt19937_64 rng(7);
    std::vector<uint64_t> block(1u << 17);
    for (uint64_t done = 0; done < kSize; done += block.size() * 8) {
      for (auto& w : block) w = rng();
      out.write(reinterpret_cast<const char*>(block.data()), block.size() * 8);
    }
  }
  Bootstrap("AutoCmpFileUrl = '" + nginx_.Url(name) + "'\n");
  auto offset_file = dir_ / "state/downloads/.auto-firmware.partial.offset";
  auto kept = [&] { return KeptBytes(offset_file); };
  auto run_until = [&](double fraction) { KillUpdateOnceKept(offset_file, fraction * kSize); };
  run_until(0.5);
  uint64_t first_cut = kept();
  EXPECT_GE(first_cut, kSize / 2);
  run_until(0.8);
  uint64_t second_cut = kept();
  EXPECT_GE(second_cut, kSize * 8 / 10);
  auto done = RunCommand("update --json" + st_);
  ASSERT_EQ(done.exit_code, 0) << done.out;
  auto j = nlohmann::json::parse(done.out);
  auto step = j["steps"][0];
  EXPECT_EQ(step["outcome"], "applied") << step.dump();
  EXPECT_EQ(step["resumed_from"], second_cut);
  EXPECT_EQ(step["bytes"], kSize);
  EXPECT_EQ(step["sha256"], Sha256Hex(ReadText(nginx_.root() / name.substr(1))));
  EXPECT_NE(RunCommand("status" + st_).out.find("7.40A.100.001"), std::string::npos);
  auto log = nginx_.Requests(name);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[1].status, 206);
  EXPECT_EQ(log[2].status, 206);
  long long wire = 0;
  for (const auto& e : log) wire += e.bytes;
  std::cout << "bytes on the wire over three runs: " << wire << " for an image of " << kSize << " ("
            << static_cast<double>(wire) / static_cast<double>(kSize) << "x)\n";
  EXPECT_LE(static_cast<double>(wire), 1.1 * static_cast<double>(kSize))
      << "bytes on the wire over three runs";
  EXPECT_FALSE(std::filesystem::exists(offset_file)) << "nothing kept once the image is in";
}

// S-10.6: the option-160 chain: the named file, else <Product><MAC>.ini, else <Product>.ini, moving
// on only when a file is not found; a server error is tried three times and never moves on.
TEST_F(UpdateCommandTest, TheOption160ChainMovesOnOnlyWhenAFileIsNotFound) {
  std::string server = "http://127.0.0.1:" + std::to_string(nginx_.port());
  WriteText(nginx_.root() / "Mediant.ini",
            "INIFileVersion = 'product-wide'\nSetDefaultOnINIFileProcess = 0\n");
  auto hook = RunCommand("dhcp-hook --option160 '" + server + ";chain/missing.ini'" + st_);
  ASSERT_EQ(hook.exit_code, 0) << hook.out;
  auto run = RunCommand("update --json" + st_);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["steps"][0]["outcome"], "applied") << j.dump();
  EXPECT_EQ(j["steps"][0]["url"], server + "/Mediant.ini");
  EXPECT_EQ(nginx_.Requests("/chain/missing.ini").size(), 1u);
  EXPECT_EQ(nginx_.Requests("/Mediant00908F000007.ini").size(), 1u);
  EXPECT_EQ(nginx_.Requests("/Mediant.ini").size(), 1u);
  EXPECT_NE(RunCommand("config show" + st_).out.find("product-wide"), std::string::npos);
  // A per-device file appears: it comes before the product-wide one.
  WriteText(nginx_.root() / "Mediant00908F000007.ini",
            "INIFileVersion = 'per-device'\nSetDefaultOnINIFileProcess = 0\n");
  j = nlohmann::json::parse(RunCommand("update --json" + st_).out);
  EXPECT_EQ(j["steps"][0]["url"], server + "/Mediant00908F000007.ini") << j.dump();
  EXPECT_NE(RunCommand("config show" + st_).out.find("per-device"), std::string::npos);
  // A server error is not a missing file: three attempts at the same file, none at the next.
  hook = RunCommand("dhcp-hook --option160 '" + server + ";status/500'" + st_);
  ASSERT_EQ(hook.exit_code, 0) << hook.out;
  size_t per_device_before = nginx_.Requests("/Mediant00908F000007.ini").size();
  j = UpdateJson();
  EXPECT_EQ(j["steps"][0]["outcome"], "failed") << j.dump();
  EXPECT_EQ(nginx_.Requests("/status/500").size(), 3u);
  EXPECT_EQ(nginx_.Requests("/Mediant00908F000007.ini").size(), per_device_before);
}

// S-12.1 with S-10.4: a signed image cut by a kill and resumed is judged by the SHA-256 of the
// whole file, carried across the cut, against its signature's signed digest: no second pass.
TEST_F(UpdateCommandTest, ASignedImageCutAndResumedIsVerifiedByItsWholeDigest) {
  constexpr uint64_t kSize = 96u << 20;  // 3 s at 32 MB/s: a checkpoint comes first
  const std::string name = "/limited/Mediant_7.60A.100.001.cmp";
  std::filesystem::create_directories(nginx_.root() / "limited");
  {
    std::ofstream out(nginx_.root() / name.substr(1), std::ios::binary);
    std::mt19937_64 rng(12);
    std::vector<uint64_t> block(1u << 17);
    for (uint64_t done = 0; done < kSize; done += block.size() * 8) {
      for (auto& w : block) w = rng();
      out.write(reinterpret_cast<const char*>(block.data()), block.size() * 8);
    }
  }
  const auto& pki = test_support::SigningPki::Get();
  std::string sig = pki.SignWithOpenssl((nginx_.root() / name.substr(1)).string(), "signer");
  ASSERT_FALSE(sig.empty());
  WriteText(nginx_.root() / (name.substr(1) + ".p7s"), sig);
  std::filesystem::create_directories(dir_ / "state");
  WriteText(dir_ / "state/hooks.ini",
            "SignersBundle = " + pki.Cert("ca") + "\nSignaturePolicy.cmp = required\n");
  Bootstrap("AutoCmpFileUrl = '" + nginx_.Url(name) + "'\n");
  auto offset_file = dir_ / "state/downloads/.auto-firmware.partial.offset";
  KillUpdateOnceKept(offset_file, kSize / 3.0);
  uint64_t cut = KeptBytes(offset_file);
  ASSERT_GT(cut, 0u);
  auto j = UpdateJson();
  auto step = j["steps"][0];
  EXPECT_EQ(step["outcome"], "applied") << step.dump(2);
  EXPECT_EQ(step["resumed_from"], cut);
  std::string details = step["details"].dump();
  EXPECT_NE(details.find("signature verified: CN=signer"), std::string::npos) << details;
  EXPECT_EQ(nginx_.Requests(name).back().status, 206);
  EXPECT_NE(RunCommand("status" + st_).out.find("7.60A.100.001"), std::string::npos);
}

// S-10.4: a partial image whose URL is no longer configured is dropped by the next run, not kept on
// the disk for ever.
TEST_F(UpdateCommandTest, APartialImageIsDroppedWhenItsUrlGoes) {
  constexpr uint64_t kSize = 96u << 20;  // 3 s at 32 MB/s: a checkpoint comes first
  std::filesystem::create_directories(nginx_.root() / "limited");
  WriteText(nginx_.root() / "limited/Mediant_7.50A.100.001.cmp", std::string(kSize, 'i'));
  Bootstrap("AutoCmpFileUrl = '" + nginx_.Url("/limited/Mediant_7.50A.100.001.cmp") + "'\n");
  auto offset_file = dir_ / "state/downloads/.auto-firmware.partial.offset";
  KillUpdateOnceKept(offset_file, kSize / 4.0);
  auto partial = dir_ / "state/downloads/.auto-firmware.partial";
  ASSERT_TRUE(std::filesystem::exists(partial));
  ASSERT_EQ(RunCommand("config set AutoCmpFileUrl ''" + st_).exit_code, 0);
  RunCommand("update" + st_);
  EXPECT_FALSE(std::filesystem::exists(partial));
  EXPECT_FALSE(std::filesystem::exists(offset_file));
}

// S-10.8: a device that boots in 1970 (no real-time clock; libfaketime stands in for it) waits
// up to AupdClockSyncWait for the clock, then runs with a warning in the report; a clock that is
// set during the wait (here: the fake time file switched to the real time) ends the wait at once,
// without a warning.
TEST_F(UpdateCommandTest, ARunWaitsForAClockStillIn1970) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "libfaketime cannot be preloaded before the sanitizer runtime";
#endif
  const std::string lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  if (!std::filesystem::exists(lib)) GTEST_SKIP() << "libfaketime is not installed";
  if (std::filesystem::exists("/run/systemd/timesync/synchronized"))
    GTEST_SKIP() << "this machine's clock is marked synchronised: the agent would not wait";
  WriteText(nginx_.root() / "clock.ini", "INIFileVersion = 'after-the-wait'\n");
  Bootstrap("IniFileURL = '" + nginx_.Url("/clock.ini") + "'\nAupdClockSyncWait = 2\n");
  auto fake = dir_ / "faketime";
  WriteText(fake, "@1970-01-02 00:00:00\n");
  auto run = [&] {
    auto begin = std::chrono::steady_clock::now();
    auto r = RunProgram("sh -c 'LD_PRELOAD=" + lib + " FAKETIME_TIMESTAMP_FILE=" + fake.string() +
                        " FAKETIME_NO_CACHE=1 " + AUTOPROV_BINARY + " update --json" + st_ +
                        " 2>/dev/null'");
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    return std::make_pair(r, s);
  };
  auto [stuck, stuck_s] = run();
  ASSERT_EQ(stuck.exit_code, 0) << stuck.out;
  auto j = nlohmann::json::parse(stuck.out);
  EXPECT_GE(stuck_s, 2.0) << "the agent waited AupdClockSyncWait";
  ASSERT_EQ(j["warnings"].size(), 1u) << j.dump();
  EXPECT_NE(j["warnings"][0].get<std::string>().find("1970-01-02"), std::string::npos);
  EXPECT_NE(j["warnings"][0].get<std::string>().find("AupdClockSyncWait"), std::string::npos);
  EXPECT_EQ(j["steps"][0]["outcome"], "applied") << "the run goes on after the wait";
  // A clock that is set during a long wait ends it.
  ASSERT_EQ(RunCommand("config set AupdClockSyncWait 60" + st_).exit_code, 0);
  WriteText(nginx_.root() / "clock.ini", "INIFileVersion = 'clock-set'\n");
  std::thread set_clock([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    WriteText(fake, "+0\n");  // the real time from now on
  });
  auto [synced, synced_s] = run();
  set_clock.join();
  ASSERT_EQ(synced.exit_code, 0) << synced.out;
  j = nlohmann::json::parse(synced.out);
  EXPECT_GE(synced_s, 1.4);
  EXPECT_LT(synced_s, 20.0) << "the wait ended when the clock was set, not after 60 s";
  EXPECT_TRUE(j["warnings"].empty()) << j.dump();
  EXPECT_NE(RunCommand("config show" + st_).out.find("clock-set"), std::string::npos);
}

// A failed step reports what it cost: its real duration, the HTTP status it got and the bytes it
// received (a 200 cut short after 500 of 1000 bytes; a 503).
TEST_F(UpdateCommandTest, AFailedStepReportsItsDurationStatusAndBytes) {
  HostileServer hostile;
  ASSERT_TRUE(hostile.ok());
  Bootstrap("IniFileURL = '" + hostile.Url("/truncated") + "'\nCptFileURL = '" +
            nginx_.Url("/status/503-retry-after") + "'\n");
  auto j = UpdateJson();
  ASSERT_EQ(j["steps"].size(), 2u) << j.dump();
  auto ini = j["steps"][0];
  EXPECT_EQ(ini["outcome"], "failed") << ini.dump();
  EXPECT_EQ(ini["http_status"], 200) << ini.dump();
  EXPECT_EQ(ini["bytes"], 500) << ini.dump();
  EXPECT_GT(ini["duration_s"].get<double>(), 0.0) << ini.dump();
  auto cpt = j["steps"][1];
  EXPECT_EQ(cpt["outcome"], "failed") << cpt.dump();
  EXPECT_EQ(cpt["http_status"], 503) << cpt.dump();
  EXPECT_GT(cpt["duration_s"].get<double>(), 0.0) << cpt.dump();
}

}  // namespace
}  // namespace autoprov
