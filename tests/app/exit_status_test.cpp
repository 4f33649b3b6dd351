// One error path: a command's error is printed once, by main(), and its exit status comes from one
// table (app/exit_status.hpp), which autoprov(8)'s EXIT STATUS section states in the same words.
#include "exit_status.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "app/command_runner.hpp"
#include "support/test_dir.hpp"

namespace autoprov {
namespace {

// "*N*" then its tab-indented lines, joined, from the EXIT STATUS section.
std::map<int, std::string> ManPageExitStatuses() {
  std::ifstream in(std::string(AUTOPROV_SOURCE_DIR) + "/man/autoprov.8.scd");
  std::map<int, std::string> rows;
  std::string line;
  bool in_section = false;
  int current = -1;
  static const std::regex status_line(R"(^\*(\d+)\*$)");
  while (std::getline(in, line)) {
    if (line.starts_with("# ")) {
      in_section = line == "# EXIT STATUS";
      current = -1;
      continue;
    }
    if (!in_section) continue;
    std::smatch m;
    if (std::regex_match(line, m, status_line)) {
      current = std::stoi(m[1]);
      rows[current];
    } else if (current >= 0 && line.starts_with("\t")) {
      std::string& text = rows[current];
      text += (text.empty() ? "" : " ") + line.substr(1);
    } else if (line.empty()) {
      current = -1;
    }
  }
  return rows;
}

TEST(ExitStatusTest, TheManPageStatesTheTableTheProgramUses) {
  auto documented = ManPageExitStatuses();
  ASSERT_EQ(documented.size(), app::kExitStatuses.size());
  for (const auto& row : app::kExitStatuses) {
    ASSERT_TRUE(documented.count(row.status)) << row.status << " is not in autoprov(8)";
    EXPECT_EQ(documented[row.status], row.meaning) << "exit status " << row.status;
  }
}

TEST(ExitStatusTest, ErrorsMapByKind) {
  EXPECT_EQ(app::ExitStatusFor(ErrorCode::kInvalidArgument), app::kExitUsage);
  EXPECT_EQ(app::ExitStatusFor(ErrorCode::kParse), app::kExitUsage);
  EXPECT_EQ(app::ExitStatusFor(ErrorCode::kValidation), app::kExitUsage);
  EXPECT_EQ(app::ExitStatusFor(ErrorCode::kDatabase), app::kExitFailed);
  EXPECT_EQ(app::ExitStatusFor(ErrorCode::kRejected), app::kExitFailed);
  EXPECT_EQ(app::ExitStatusFor(ErrorCode::kIo), app::kExitFailed);
  EXPECT_EQ(app::ExitStatusFor(ErrorCode::kBusy), app::kExitFailed);
}

// Each failing command prints exactly one "autoprov: " line, and the status of its kind.
TEST(ExitStatusTest, AFailingCommandSaysSoOnceWithItsStatus) {
  test_support::TestDir dir("exit-status");
  auto state = dir.path() / "state";
  std::filesystem::create_directories(state);
  std::string bin =
      std::string(AUTOPROV_BINARY) + " --state-dir " + state.string() + " --mac 00908F000001 ";
  std::ofstream(dir.path() / "bad.ini") << "[ broken\nIniFileURL = 'http://127.0.0.1/x.ini'\n";
  struct Case {
    std::string args;
    int status;
    std::string says;
  };
  const Case cases[] = {
      {"config set IniFileUrll x", app::kExitUsage, "unknown parameter 'IniFileUrll'"},
      {"config set AutoUpdateFrequency -5", app::kExitUsage, "AutoUpdateFrequency"},
      {"config load " + (dir.path() / "missing.ini").string(), app::kExitUsage, "missing.ini"},
      {"config load --incremental --replace x.ini", app::kExitUsage, "exclude each other"},
      {"config show --format cli --with-secrets", app::kExitUsage, "ini format only"},
      {"config load " + (dir.path() / "bad.ini").string(), app::kExitFailed, "rejected"},
      {"fleet check", app::kExitUsage, "no fleet state"},
      {"updte", app::kExitUsage, "did you mean 'update'"},
  };
  for (const auto& c : cases) {
    auto r = testing::RunProgram(bin + c.args);
    EXPECT_EQ(r.exit_code, c.status) << c.args << "\n" << r.out;
    std::istringstream lines(r.out);
    int said = 0;
    for (std::string l; std::getline(lines, l);)
      if (l.starts_with("autoprov: ")) ++said;
    EXPECT_EQ(said, 1) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << "\n" << r.out;
  }
  auto nowhere = testing::RunProgram(std::string(AUTOPROV_BINARY) + " --state-dir " +
                                     (dir.path() / "none").string() + " status");
  EXPECT_EQ(nowhere.exit_code, app::kExitFailed) << nowhere.out;
}

}  // namespace
}  // namespace autoprov
