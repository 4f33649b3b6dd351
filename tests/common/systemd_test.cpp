// journald's native protocol and sd_notify, as the agent speaks them without libsystemd (issue:
// first contact, journald-native logging): the fields of an entry, the binary form of a multi-line
// value, redaction, and delivery to a datagram socket.
#include "common/systemd.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>

namespace autoprov {
namespace {

// KEY=value lines, and KEY\n<le64><value>\n for values with newlines.
std::map<std::string, std::string> ParseEntry(const std::string& e) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < e.size()) {
    size_t nl = e.find('\n', i);
    std::string line = e.substr(i, nl - i);
    auto eq = line.find('=');
    if (eq != std::string::npos) {
      out[line.substr(0, eq)] = line.substr(eq + 1);
      i = nl + 1;
    } else {
      uint64_t n = 0;
      for (int b = 0; b < 8; ++b)
        n |= static_cast<uint64_t>(static_cast<unsigned char>(e[nl + 1 + b])) << (8 * b);
      out[line] = e.substr(nl + 9, n);
      i = nl + 9 + n + 1;
    }
  }
  return out;
}

TEST(SystemdTest, AJournalEntryCarriesThePriorityAndTheEventsFields) {
  auto f = ParseEntry(JournalEntry(LogLevel::kWarning, "step ini http://h/a.ini: failed: HTTP 503",
                                   LogContext{"step", "1/9", "ini", "http://h/a.ini", "failed"}));
  EXPECT_EQ(f["MESSAGE"], "step ini http://h/a.ini: failed: HTTP 503");
  EXPECT_EQ(f["PRIORITY"], "4");
  EXPECT_EQ(f["SYSLOG_IDENTIFIER"], "autoprov");
  EXPECT_EQ(f["MESSAGE_ID"], MessageId("step"));
  EXPECT_EQ(f["MESSAGE_ID"].size(), 32u);
  EXPECT_EQ(f["AUTOPROV_STEP"], "1/9");
  EXPECT_EQ(f["AUTOPROV_KIND"], "ini");
  EXPECT_EQ(f["AUTOPROV_URL"], "http://h/a.ini");
  EXPECT_EQ(f["AUTOPROV_OUTCOME"], "failed");
  auto plain = ParseEntry(JournalEntry(LogLevel::kError, "no fields", {}));
  EXPECT_EQ(plain["PRIORITY"], "3");
  EXPECT_EQ(plain.count("MESSAGE_ID"), 0u);
  EXPECT_EQ(plain.count("AUTOPROV_URL"), 0u);
  EXPECT_NE(MessageId("run"), MessageId("step"));
}

TEST(SystemdTest, AMultiLineMessageUsesTheBinaryForm) {
  auto f = ParseEntry(JournalEntry(LogLevel::kInfo, "line one\nline two", {}));
  EXPECT_EQ(f["MESSAGE"], "line one\nline two");
  EXPECT_EQ(f["PRIORITY"], "6");
}

TEST(SystemdTest, EntriesReachTheSocketRedacted) {
  auto dir =
      std::filesystem::temp_directory_path() / ("autoprov-journal-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "journal.sock").string();
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  // What Log() hands a sink is already redacted: the URL field too.
  std::string received;
  SetLogSink([&](LogLevel l, std::string_view m, const LogContext& c) {
    ASSERT_TRUE(JournalSend(l, m, c, path));
  });
  SetLogLevel(LogLevel::kInfo);
  Log(LogLevel::kInfo, "fetching http://joe:s3cret@h/a.ini",
      LogContext{"step", "2/9", "ini", "http://joe:s3cret@h/a.ini", "applied"});
  SetLogSink(nullptr);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  char buf[8192];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  received.assign(buf, static_cast<size_t>(n));
  ::close(fd);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(received.find("s3cret"), std::string::npos) << received;
  auto f = ParseEntry(received);
  EXPECT_EQ(f["AUTOPROV_STEP"], "2/9");
  EXPECT_EQ(f["AUTOPROV_OUTCOME"], "applied");
  EXPECT_NE(f["AUTOPROV_URL"].find("h/a.ini"), std::string::npos);
}

TEST(SystemdTest, LogLevelsParse) {
  LogLevel l = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("DEBUG", l));
  EXPECT_EQ(l, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("warning", l));
  EXPECT_EQ(l, LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("loud", l));
  EXPECT_EQ(l, LogLevel::kWarning);
}

}  // namespace
}  // namespace autoprov
