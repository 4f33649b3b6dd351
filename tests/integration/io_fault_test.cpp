// S-9.9 I/O faults, after aktualizr's test_io_failure.py: a read-only state directory, a full disk,
// and failing write/pwrite/fsync/fdatasync/rename (injected with libfiu's fiu-run). Each gives a
// clear error naming the cause, exits 1, applies nothing half-way, leaves no temporary file, and
// the next run after the fault succeeds. Mounts need root (CI runs as root); without it those tests
// are skipped.
#include <gtest/gtest.h>

#include "../app/command_runner.hpp"
#include "support/servers.hpp"

namespace autoprov {
namespace {

using namespace testing;

class IoFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nginx_.ok());
    dir_ = MakeTempDir("iofault");
    WriteText(nginx_.root() / "f/dev.ini",
              "SetDefaultOnINIFileProcess = 0\nINIFileVersion = 'v2'\n");
    WriteText(nginx_.root() / "f/tones.dat", "tones\n");
  }
  void TearDown() override {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it)
      Shell("umount -l " + it->string() + " 2>/dev/null");
    std::filesystem::remove_all(dir_);
  }
  bool Mount(const std::string& args, const std::filesystem::path& at) {
    std::filesystem::create_directories(at);
    if (Shell("mount " + args + " " + at.string() + " 2>/dev/null") != 0) return false;
    mounts_.push_back(at);
    return true;
  }
  std::string Id(const std::filesystem::path& state) const {
    return " --state-dir " + state.string() +
           " --product Mediant --mac 00908F000001 --serial 4837234 --sw-version 7.20A.250.001";
  }
  void Bootstrap(const std::filesystem::path& state, const std::string& extra = "") {
    WriteText(dir_ / "boot.ini", "IniFileURL = '" + nginx_.Url("/f/dev.ini") + "'\nCptFileURL = '" +
                                     nginx_.Url("/f/tones.dat") + "'\n" + extra);
    auto r = RunCommand("config load " + (dir_ / "boot.ini").string() + Id(state));
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  static size_t TempFiles(const std::filesystem::path& d) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(d, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->path().filename().string().find(".autoprov-tmp-") != std::string::npos) ++n;
    return n;
  }
  // After a fault and then a run without one: everything applied.
  void ExpectRecovered(const std::filesystem::path& state, const std::string& what) {
    auto r = RunCommand("update" + Id(state));
    EXPECT_EQ(r.exit_code, 0) << what << ": the run after the fault: " << r.out;
    auto show = RunCommand("config show" + Id(state));
    EXPECT_NE(show.out.find("INIFileVersion = 'v2'"), std::string::npos)
        << what << ": " << show.out;
    EXPECT_EQ(show.out.find("CptFileURL"), std::string::npos)
        << what << ": the one-time URL is done";
    EXPECT_EQ(ReadText(state / "files/cpt/tones.dat"), "tones\n") << what;
    EXPECT_EQ(TempFiles(state), 0u) << what;
  }

  Nginx nginx_;
  std::filesystem::path dir_;
  std::vector<std::filesystem::path> mounts_;
};

// A read-only state directory: read-only commands work, writers say why they cannot.
TEST_F(IoFaultTest, ReadOnlyStateDirectory) {
  auto state = dir_ / "state";
  Bootstrap(state);
  auto ro = dir_ / "ro";
  if (!Mount("--bind " + state.string(), ro) ||
      Shell("mount -o remount,bind,ro " + ro.string() + " 2>/dev/null") != 0)
    GTEST_SKIP() << "cannot make a read-only bind mount here (needs root)";
  auto status = RunCommand("status --json" + Id(ro));
  EXPECT_EQ(status.exit_code, 0) << status.out;
  auto show = RunCommand("config show" + Id(ro));
  EXPECT_EQ(show.exit_code, 0) << show.out;
  EXPECT_NE(show.out.find("IniFileURL"), std::string::npos) << show.out;
  for (std::string cmd : {"update", "config set AutoUpdateFrequency 5"}) {
    auto r = RunCommand(cmd + Id(ro));
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("state directory " + ro.string() + " is read-only"), std::string::npos)
        << cmd << ": " << r.out;
  }
  ExpectRecovered(state, "read-only");
}

// A full disk: an image larger than the free space is refused up front; a disk full before the run
// is named.
TEST_F(IoFaultTest, DiskFull) {
  auto mnt = dir_ / "small";
  if (!Mount("-t tmpfs -o size=2m tmpfs", mnt))
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  auto state = mnt / "state";
  WriteText(nginx_.root() / "f/Mediant_7.20A.252.011.cmp", std::string(4 << 20, 'i'));
  Bootstrap(state, "AutoCmpFileUrl = '" + nginx_.Url("/f/Mediant_7.20A.252.011.cmp") + "'\n");
  auto r = RunCommand("update" + Id(state));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("not enough space"), std::string::npos) << r.out;
  EXPECT_EQ(TempFiles(state), 0u);
  auto status = RunCommand("status --json" + Id(state));
  EXPECT_EQ(status.out.find("pending_image_version"), std::string::npos) << status.out;

  // The disk already full before a run.
  Shell("dd if=/dev/zero of=" + (mnt / "filler").string() + " bs=64k 2>/dev/null");
  auto before = RunCommand("config show" + Id(state));
  EXPECT_EQ(before.exit_code, 0) << before.out;
  auto full = RunCommand("update" + Id(state));
  EXPECT_EQ(full.exit_code, 1) << full.out;
  EXPECT_NE(full.out.find("disk full"), std::string::npos) << full.out;
  EXPECT_EQ(RunCommand("config show" + Id(state)).out, before.out) << "nothing applied";
  std::filesystem::remove(mnt / "filler");
  WriteText(nginx_.root() / "f/Mediant_7.20A.252.011.cmp", std::string(64 << 10, 'i'));
  ExpectRecovered(state, "disk full");
}

// Failing system calls, injected: the run fails with the cause, nothing is applied half-way, no
// temporary file stays, and the next run succeeds.
TEST_F(IoFaultTest, FailingWritesSyncsAndRenames) {
  if (!std::filesystem::exists("/usr/lib/fiu/fiu_posix_preload.so"))
    GTEST_SKIP() << "libfiu's preload libraries (Debian fiu-utils) are not installed";
  struct Fault {
    std::string point;
    bool database;  // the state database's own writes fail: the configuration must stay as it was
  };
  for (const Fault& f : {Fault{"posix/io/rw/pwrite", true}, Fault{"posix/io/sync/fdatasync", true},
                         Fault{"posix/io/rw/write", false}, Fault{"posix/io/sync/fsync", false},
                         Fault{"posix/io/dir/rename", false}}) {
    auto state = dir_ / ("state-" + std::to_string(std::hash<std::string>{}(f.point)));
    Bootstrap(state);
    auto before = RunCommand("config show" + Id(state)).out;
    // What `fiu-run -x -c 'enable name=<point>'` does, with AddressSanitizer's runtime first in the
    // preload list when the binary has it (it must come before libfiu's interposers). failinfo=5:
    // every failure sets errno to EIO (libfiu's default is a random errno, EINTR included, which
    // SQLite retries).
    std::string cmd = "FIU_ENABLE='enable name=" + f.point + ",failinfo=5' LD_PRELOAD=\"$(ldd " +
                      AUTOPROV_BINARY +
                      " | awk '/libasan/ {print $3}') /usr/lib/fiu/fiu_run_preload.so "
                      "/usr/lib/fiu/fiu_posix_preload.so\" "
                      "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 " +
                      AUTOPROV_BINARY + " update" + Id(state) + " > " +
                      (dir_ / "fault.log").string() + " 2>&1";
    int rc = Shell(cmd);
    EXPECT_NE(rc, 0) << f.point << ": " << ReadText(dir_ / "fault.log");
    if (f.point != "posix/io/rw/write") {
      // (With write(2) failing, the message itself cannot be printed.)
      // The message names the file the fault hit and says what happened.
      std::string log = ReadText(dir_ / "fault.log");
      EXPECT_NE(log.find(state.string() + "/"), std::string::npos) << f.point << ": " << log;
      EXPECT_TRUE(log.find("disk I/O error") != std::string::npos ||
                  log.find("Input/output error") != std::string::npos)
          << f.point << ": " << log;
    }
    EXPECT_EQ(TempFiles(state), 0u) << f.point;
    auto after = RunCommand("config show" + Id(state)).out;
    if (f.database) {
      EXPECT_EQ(after, before) << f.point << ": the configuration changed";
    }
    if (after.find("CptFileURL") == std::string::npos) {
      EXPECT_EQ(ReadText(state / "files/cpt/tones.dat"), "tones\n")
          << f.point << ": URL cleared, file not installed";
    }
    ExpectRecovered(state, f.point);
  }
}

// A corrupt state database: every command says so, in words a user can act on.
TEST_F(IoFaultTest, CorruptDatabaseIsNamed) {
  auto state = dir_ / "state";
  Bootstrap(state);
  WriteText(state / "state.db", std::string(8192, 'x'));
  std::filesystem::remove(state / "state.db-wal");
  std::filesystem::remove(state / "state.db-shm");
  for (std::string cmd : {"status", "config show", "update"}) {
    auto r = RunCommand(cmd + Id(state));
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("is corrupt or not an autoprov state database"), std::string::npos)
        << cmd << ": " << r.out;
    EXPECT_NE(r.out.find((state / "state.db").string()), std::string::npos) << cmd << ": " << r.out;
  }
}

}  // namespace
}  // namespace autoprov
