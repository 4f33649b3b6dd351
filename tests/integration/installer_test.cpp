// Real A/B installers behind InstallCommand (SPEC S-11): SWUpdate and RAUC install what autoprov
// downloads from nginx, signed by a test CA; a corrupted or foreign-signed image fails the step and
// changes nothing; and with RunningVersionCommand, a device that comes back on its old slot marks
// the install failed and the same image is not installed again (S-11.2). The hooks are the shipped
// examples (examples/hooks/). These tests need swupdate, rauc, cpio, dbus-daemon and openssl: a
// missing one fails the test, it does not skip.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "../app/command_runner.hpp"
#include "support/servers.hpp"

namespace autoprov {
namespace {

using namespace testing;

const std::string kHooks = std::string(AUTOPROV_SOURCE_DIR) + "/examples/hooks";

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class InstallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nginx_.ok());
    dir_ = MakeTempDir("installer");
    st_ = " --state-dir " + (dir_ / "state").string() +
          " --product Mediant --mac 00908F000042 --serial 42 --sw-version 7.20A.250.001";
    for (const char* tool : {"openssl", "cpio", "swupdate", "rauc", "dbus-daemon", "mksquashfs"})
      ASSERT_EQ(Shell(std::string("command -v ") + tool + " >/dev/null"), 0)
          << tool << " is not installed (scripts/setup.sh installs it)";
    // Two CAs, each with a signing certificate: the device trusts the first.
    for (const char* ca : {"ca", "other"}) {
      std::string d = (dir_ / ca).string();
      ASSERT_EQ(Shell("mkdir -p " + d + " && cd " + d +
                      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
                      "-subj '/CN=" +
                      ca +
                      " update CA' -days 30 2>/dev/null"
                      " && openssl req -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr "
                      "-subj '/CN=" +
                      ca +
                      " signer' 2>/dev/null"
                      " && printf 'extendedKeyUsage=emailProtection\\nkeyUsage=digitalSignature\\n'"
                      " > ext.cnf && openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key"
                      " -CAcreateserial -out signer.pem -days 30 -extfile ext.cnf 2>/dev/null"),
                0);
    }
    std::filesystem::create_directories(dir_ / "tmp");
  }
  void TearDown() override {
    service_.Stop();
    if (dbus_pid_ > 0) ::kill(dbus_pid_, SIGTERM);
    std::error_code ec;
    for (int i = 0; i < 20 && std::filesystem::remove_all(dir_, ec) == static_cast<uintmax_t>(-1);
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // `update --json` with the installer's environment; the report.
  nlohmann::json Update(const std::string& env) {
    auto r = RunProgram("sh -c 'env TMPDIR=" + (dir_ / "tmp").string() + " " + env + " " +
                        AUTOPROV_BINARY + " update --json" + st_ + " 2>" +
                        (dir_ / "stderr.txt").string() + "'");
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << ReadText(dir_ / "stderr.txt");
    return j;
  }
  std::string Status(const std::string& env = "") {
    return RunProgram("env " + env + " " + AUTOPROV_BINARY + " status" + st_).out;
  }
  void Set(const std::string& name, const std::string& value) {
    auto r = RunCommand("config set " + name + " '" + value + "'" + st_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  void Hooks(const std::string& text) {
    std::filesystem::create_directories(dir_ / "state");
    WriteText(dir_ / "state/hooks.ini", text);
  }
  std::string Head(const std::filesystem::path& file, size_t n) {
    return ReadText(file).substr(0, n);
  }

  // SWUpdate: a .swu (cpio newc: sw-description, its CMS signature, the image) for the raw handler.
  void BuildSwu(const std::string& version, const std::string& payload, const std::string& ca,
                const std::filesystem::path& target, const std::filesystem::path& out,
                bool corrupt = false) {
    auto work = dir_ / ("swu-" + std::to_string(++builds_));
    std::filesystem::create_directories(work);
    WriteText(work / "rootfs.img", payload);
    std::string sha;
    {
      auto r = RunProgram("sha256sum " + (work / "rootfs.img").string());
      sha = r.out.substr(0, 64);
    }
    std::string desc = "software =\n{\n\tversion = \"" + version +
                       "\";\n\thardware-compatibility = [ \"1.0\" ];\n\timages: (\n\t\t{\n"
                       "\t\t\tfilename = \"rootfs.img\";\n\t\t\tdevice = \"" +
                       target.string() + "\";\n\t\t\ttype = \"raw\";\n\t\t\tsha256 = \"" + sha +
                       "\";\n\t\t}\n\t);\n}\n";
    WriteText(work / "sw-description", desc);
    std::string d = (dir_ / ca).string();
    ASSERT_EQ(Shell("cd " + work.string() +
                    " && openssl cms -sign -in sw-description -out sw-description.sig -signer " +
                    d + "/signer.pem -inkey " + d + "/signer.key -outform DER -nosmimecap -binary"),
              0);
    // Corrupted after signing: the description no longer matches its signature.
    if (corrupt) WriteText(work / "sw-description", desc + "\n");
    ASSERT_EQ(Shell("cd " + work.string() +
                    " && printf 'sw-description\\nsw-description.sig\\nrootfs.img\\n' | cpio -o -H "
                    "newc --quiet > " +
                    out.string()),
              0);
  }

  // RAUC: two raw slots backed by files, a custom bootloader backend recording its calls, the
  // service on a private D-Bus, booted from `slot`.
  void StartRauc(const std::string& slot) {
    auto d = dir_ / "rauc";
    if (!std::filesystem::exists(d / "system.conf")) {
      std::filesystem::create_directories(d / "mnt");
      std::filesystem::create_directories(d / "data");
      WriteText(d / "slot-a.img", std::string(2 << 20, '\0'));
      WriteText(d / "slot-b.img", std::string(2 << 20, '\0'));
      WriteText(d / "bootloader.sh",
                "#!/bin/sh\ndir=" + d.string() +
                    "\necho \"$*\" >> $dir/bootloader.log\n"
                    "case \"$1\" in\n"
                    "  get-primary) cat $dir/primary 2>/dev/null || echo A ;;\n"
                    "  set-primary) echo \"$2\" > $dir/primary ;;\n"
                    "  get-state) cat $dir/state.$2 2>/dev/null || echo good ;;\n"
                    "  set-state) echo \"$3\" > $dir/state.$2 ;;\n"
                    "  get-current) cat $dir/booted ;;\n"
                    "esac\n");
      std::filesystem::permissions(d / "bootloader.sh", std::filesystem::perms::owner_all);
      WriteText(d / "system.conf",
                "[system]\ncompatible=autoprov-test\nbootloader=custom\nmountprefix=" +
                    (d / "mnt").string() + "\ndata-directory=" + (d / "data").string() +
                    "\n\n[handlers]\nbootloader-custom-backend=" + (d / "bootloader.sh").string() +
                    "\n\n[keyring]\npath=" + (dir_ / "ca/ca.pem").string() +
                    "\n\n[slot.rootfs.0]\ndevice=" + (d / "slot-a.img").string() +
                    "\ntype=raw\nbootname=A\n\n[slot.rootfs.1]\ndevice=" +
                    (d / "slot-b.img").string() + "\ntype=raw\nbootname=B\n");
      WriteText(d / "os-release", "NAME=\"Mediant\"\nVERSION_ID=\"7.20A.250.001\"\n");
      auto pid = RunProgram("dbus-daemon --session --fork --print-pid --address=unix:path=" +
                            (d / "bus.sock").string());
      dbus_pid_ = std::atoi(pid.out.c_str());
      ASSERT_GT(dbus_pid_, 0) << pid.out;
    }
    service_.Stop();
    WriteText(d / "booted", slot + "\n");
    ::setenv("DBUS_SESSION_BUS_ADDRESS", ("unix:path=" + (d / "bus.sock").string()).c_str(), 1);
    ::setenv("DBUS_STARTER_BUS_TYPE", "session", 1);
    ASSERT_TRUE(service_.Start({"rauc", "--conf=" + (d / "system.conf").string(), "service",
                                "--override-boot-slot=" + slot},
                               d / ("service-" + slot + ".log")));
    // Ready when it answers on the bus.
    for (int i = 0; i < 100; ++i) {
      if (Shell("rauc --conf=" + (d / "system.conf").string() + " status >/dev/null 2>&1") == 0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "rauc service did not come up: " << ReadText(d / ("service-" + slot + ".log"));
  }
  std::string RaucEnv() {
    auto d = dir_ / "rauc";
    return "RAUC_CONF=" + (d / "system.conf").string() +
           " DBUS_SESSION_BUS_ADDRESS=unix:path=" + (d / "bus.sock").string() +
           " DBUS_STARTER_BUS_TYPE=session AUTOPROV_OS_RELEASE=" + (d / "os-release").string();
  }
  void BuildBundle(const std::string& version, const std::string& payload, const std::string& ca,
                   const std::filesystem::path& out) {
    auto work = dir_ / ("bundle-" + std::to_string(++builds_));
    std::filesystem::create_directories(work / "content");
    WriteText(work / "content/rootfs.img", payload);
    WriteText(work / "content/manifest.raucm",
              "[update]\ncompatible=autoprov-test\nversion=" + version +
                  "\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n");
    std::string d = (dir_ / ca).string();
    ASSERT_EQ(
        Shell("rauc bundle --cert=" + d + "/signer.pem --key=" + d + "/signer.key --keyring=" + d +
              "/ca.pem " + (work / "content").string() + " " + out.string() + " >/dev/null 2>&1"),
        0);
  }
  int Count(const std::filesystem::path& file, const std::string& line) {
    std::ifstream in(file);
    int n = 0;
    for (std::string l; std::getline(in, l);) n += l == line;
    return n;
  }

  Nginx nginx_;
  std::filesystem::path dir_;
  std::string st_;
  Process service_;
  int dbus_pid_ = 0;
  int builds_ = 0;
};

// S-11.1: SWUpdate installs the .swu autoprov downloaded: the target written, the version the one
// in sw-description (the URL names none); a corrupted .swu and one signed by another CA fail the
// step and leave the target and the running version as they were.
TEST_F(InstallerTest, SwupdateInstallsASignedImageAndRefusesABadOne) {
  auto target = dir_ / "slot-b.img";
  WriteText(target, std::string(2 << 20, '\0'));
  std::string payload = RandomBytes(1 << 20, 1);
  std::filesystem::create_directories(nginx_.root() / "fw");
  BuildSwu("7.40A.100.001", payload, "ca", target, nginx_.root() / "fw/firmware.swu");
  Hooks("InstallCommand = " + kHooks + "/swupdate-install\nVersionCommand = " + kHooks +
        "/swu-version\n");
  std::string env = "SWUPDATE_CA=" + (dir_ / "ca/ca.pem").string() + " SWUPDATE_HW=board:1.0";
  Set("AutoCmpFileUrl", nginx_.Url("/fw/firmware.swu"));
  auto j = Update(env);
  ASSERT_EQ(j["steps"].size(), 1u) << j.dump();
  EXPECT_EQ(j["steps"][0]["outcome"], "applied") << j.dump();
  EXPECT_EQ(j["steps"][0]["version"], "7.40A.100.001") << "from sw-description, not the file name";
  EXPECT_EQ(Head(target, payload.size()), payload) << "SWUpdate wrote the target";
  ASSERT_EQ(RunCommand("restart --no-run" + st_).exit_code, 0);
  EXPECT_NE(Status().find("running version: 7.40A.100.001"), std::string::npos) << Status();

  // Corrupted: the signature no longer matches sw-description.
  BuildSwu("7.50A.100.001", RandomBytes(1 << 20, 2), "ca", target, nginx_.root() / "fw/corrupt.swu",
           /*corrupt=*/true);
  Set("AutoCmpFileUrl", nginx_.Url("/fw/corrupt.swu"));
  j = Update(env);
  EXPECT_EQ(j["steps"][0]["outcome"], "failed") << j.dump();
  EXPECT_NE(j["steps"][0]["error"].get<std::string>().find("installer exited with"),
            std::string::npos)
      << j.dump();
  EXPECT_EQ(Head(target, payload.size()), payload) << "the target is untouched";
  // Signed by a CA the device does not trust.
  BuildSwu("7.50A.100.001", RandomBytes(1 << 20, 3), "other", target,
           nginx_.root() / "fw/foreign.swu");
  Set("AutoCmpFileUrl", nginx_.Url("/fw/foreign.swu"));
  j = Update(env);
  EXPECT_EQ(j["steps"][0]["outcome"], "failed") << j.dump();
  EXPECT_EQ(Head(target, payload.size()), payload) << "the target is untouched";
  EXPECT_NE(Status().find("running version: 7.40A.100.001"), std::string::npos) << Status();
  EXPECT_EQ(Status().find("pending_image_version"), std::string::npos) << Status();
}

// S-11.1, S-11.2: RAUC writes the inactive slot and switches the boot target once; the reset hook
// runs once at the end of the run; a bundle from another CA is refused with nothing changed. After
// "booting" the new slot the running version is the bundle's; when a later install does not come up
// (the bootloader fell back to the old slot), the install is marked failed in status and the next
// report, and the same bundle is not installed again until it changes.
TEST_F(InstallerTest, RaucInstallsABundleAndAFallbackMarksTheInstallFailed) {
  StartRauc("A");
  auto rauc = dir_ / "rauc";
  std::string v1 = RandomBytes(1 << 20, 4);
  std::filesystem::create_directories(nginx_.root() / "fw");
  BuildBundle("7.40A.100.001", v1, "ca", nginx_.root() / "fw/v1.raucb");
  WriteText(dir_ / "reset-hook",
            "#!/bin/sh\necho reset >> " + (dir_ / "reset.log").string() + "\n");
  std::filesystem::permissions(dir_ / "reset-hook", std::filesystem::perms::owner_all);
  Hooks("InstallCommand = " + kHooks + "/rauc-install\nVersionCommand = " + kHooks +
        "/rauc-version\nRunningVersionCommand = " + kHooks + "/rauc-running-version\n" +
        "ResetCommand = " + (dir_ / "reset-hook").string() + "\n");
  Set("AutoCmpFileUrl", nginx_.Url("/fw/v1.raucb"));
  auto j = Update(RaucEnv());
  ASSERT_EQ(j["steps"].size(), 1u) << j.dump();
  EXPECT_EQ(j["steps"][0]["outcome"], "applied") << j.dump() << ReadText(dir_ / "stderr.txt");
  EXPECT_EQ(j["steps"][0]["version"], "7.40A.100.001");
  EXPECT_EQ(Head(rauc / "slot-b.img", v1.size()), v1) << "the inactive slot is written";
  EXPECT_EQ(Head(rauc / "slot-a.img", 16), std::string(16, '\0')) << "the booted slot is not";
  EXPECT_EQ(Count(rauc / "bootloader.log", "set-primary B"), 1);
  EXPECT_EQ(Count(dir_ / "reset.log", "reset"), 1) << "the reset hook, once, at the end of the run";

  // A bundle signed by another CA: refused, nothing changes.
  BuildBundle("7.50A.100.001", RandomBytes(1 << 20, 5), "other",
              nginx_.root() / "fw/foreign.raucb");
  Set("AutoCmpFileUrl", nginx_.Url("/fw/foreign.raucb"));
  j = Update(RaucEnv());
  // Refused by rauc-version (`rauc info` checks the signature) before the installer is asked.
  EXPECT_EQ(j["steps"][0]["outcome"], "rejected") << j.dump();
  EXPECT_EQ(Head(rauc / "slot-b.img", v1.size()), v1);
  EXPECT_EQ(Count(rauc / "bootloader.log", "set-primary B"), 1);
  EXPECT_EQ(Count(rauc / "bootloader.log", "set-primary A"), 0);
  EXPECT_EQ(Count(dir_ / "reset.log", "reset"), 1);

  // The device boots slot B: the running version is the bundle's.
  StartRauc("B");
  auto restart = RunProgram("env " + RaucEnv() + " " + AUTOPROV_BINARY + " restart --no-run" + st_);
  ASSERT_EQ(restart.exit_code, 0) << restart.out;
  EXPECT_NE(restart.out.find("running version: 7.40A.100.001"), std::string::npos) << restart.out;

  // A newer bundle goes to slot A; the bootloader falls back to B: the install failed.
  std::string v2 = RandomBytes(1 << 20, 6);
  BuildBundle("7.50A.100.001", v2, "ca", nginx_.root() / "fw/v2.raucb");
  Set("AutoCmpFileUrl", nginx_.Url("/fw/v2.raucb"));
  j = Update(RaucEnv());
  EXPECT_EQ(j["steps"][0]["outcome"], "applied") << j.dump() << ReadText(dir_ / "stderr.txt");
  EXPECT_EQ(Head(rauc / "slot-a.img", v2.size()), v2);
  EXPECT_EQ(Count(dir_ / "reset.log", "reset"), 2);
  StartRauc("B");  // came back on B
  restart = RunProgram("env " + RaucEnv() + " " + AUTOPROV_BINARY + " restart --no-run" + st_);
  ASSERT_EQ(restart.exit_code, 0) << restart.out;
  EXPECT_NE(restart.out.find("running version: 7.40A.100.001"), std::string::npos) << restart.out;
  EXPECT_NE(restart.out.find("the install failed (S-11.2)"), std::string::npos) << restart.out;
  std::string status = Status();
  EXPECT_NE(status.find("install failed: image 7.50A.100.001"), std::string::npos) << status;
  auto sj = nlohmann::json::parse(RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) +
                                             " status --json" + st_ + " 2>/dev/null'")
                                      .out);
  EXPECT_EQ(sj["install_failure"]["version"], "7.50A.100.001") << sj.dump();
  EXPECT_EQ(sj["install_failure"]["running"], "7.40A.100.001");
  // The next run says so, and does not install the same bundle again, even from another URL.
  std::filesystem::copy_file(nginx_.root() / "fw/v2.raucb", nginx_.root() / "fw/v2-again.raucb");
  Set("AutoCmpFileUrl", nginx_.Url("/fw/v2-again.raucb"));
  j = Update(RaucEnv());
  EXPECT_EQ(j["steps"][0]["outcome"], "rejected") << j.dump();
  EXPECT_NE(j["steps"][0]["error"].get<std::string>().find("not installed again"),
            std::string::npos)
      << j.dump();
  ASSERT_FALSE(j["warnings"].empty()) << j.dump();
  EXPECT_NE(j["warnings"][0].get<std::string>().find("the install failed (S-11.2)"),
            std::string::npos);
  EXPECT_EQ(Count(rauc / "bootloader.log", "set-primary A"), 1) << "installed once only";
  // A changed bundle is installed.
  BuildBundle("7.50A.100.002", RandomBytes(1 << 20, 7), "ca", nginx_.root() / "fw/v3.raucb");
  Set("AutoCmpFileUrl", nginx_.Url("/fw/v3.raucb"));
  j = Update(RaucEnv());
  EXPECT_EQ(j["steps"][0]["outcome"], "applied") << j.dump();
  EXPECT_EQ(Count(rauc / "bootloader.log", "set-primary A"), 2);
  EXPECT_EQ(Status().find("install failed"), std::string::npos) << "a new install clears it";
}

}  // namespace
}  // namespace autoprov
