// Misbehaving servers as data (tests/data/hostile/*.json): the hostile server replies as each case
// file says, this test fetches it and checks what the case expects of the agent. A case is one
// file; this test does not change when one is added.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/servers.hpp"
#include "transfer/fetcher.hpp"

namespace autoprov {
namespace {

using namespace testing;

const std::filesystem::path kCases =
    std::filesystem::path(AUTOPROV_SOURCE_DIR) / "tests/data/hostile";

struct HostileCase {
  std::string name;
  nlohmann::json spec;
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

std::vector<HostileCase> LoadCases() {
  std::vector<HostileCase> cases;
  for (const auto& e : std::filesystem::directory_iterator(kCases)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    cases.push_back({e.path().stem().string(), nlohmann::json::parse(in)});
  }
  std::sort(cases.begin(), cases.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

class HostileCaseTest : public ::testing::TestWithParam<HostileCase> {
 protected:
  static void SetUpTestSuite() { server_ = new HostileServer(); }  // one per suite
  static void TearDownTestSuite() { delete server_; }
  static HostileServer* server_;
};
HostileServer* HostileCaseTest::server_ = nullptr;

TEST_P(HostileCaseTest, TheAgentDoesWhatTheCaseExpects) {
  ASSERT_TRUE(server_->ok());
  const nlohmann::json& spec = GetParam().spec;
  const nlohmann::json& expect = spec.at("expect");
  auto dir = MakeTempDir("hostile-case");
  auto target = dir / "file.bin";
  WriteText(target, "previous\n");

  FetchRequest req;
  req.url = server_->Url("/" + GetParam().name);
  req.target = target;
  req.limits.connect_timeout_s = 5;
  req.limits.max_time_s = 60;
  if (spec.contains("request")) {
    const auto& r = spec["request"];
    req.limits.max_bytes = r.value("max_bytes", req.limits.max_bytes);
    req.limits.low_speed_bytes_per_s =
        r.value("low_speed_bytes_per_s", req.limits.low_speed_bytes_per_s);
    req.limits.low_speed_time_s = r.value("low_speed_time_s", req.limits.low_speed_time_s);
    req.limits.max_time_s = r.value("max_time_s", req.limits.max_time_s);
  }
  Fetcher fetcher;
  auto t0 = std::chrono::steady_clock::now();
  auto result = fetcher.Fetch(req);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  ASSERT_FALSE(result) << spec.value("about", "");
  std::string kind = expect.at("error");
  if (kind != "any") {
    EXPECT_EQ(ErrorCodeName(result.error().code), kind) << result.error().message;
  }
  if (expect.contains("message")) {
    EXPECT_NE(result.error().message.find(expect["message"].get<std::string>()), std::string::npos)
        << result.error().message;
  }
  if (expect.contains("within_s")) {
    EXPECT_LT(seconds, expect["within_s"].get<double>());
  }
  // Every case: the file is as it was, and nothing is left beside it.
  EXPECT_EQ(ReadText(target), "previous\n");
  size_t others = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path() != target) ++others;
  EXPECT_EQ(others, 0u) << "a temporary file stayed";
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileCaseTest, ::testing::ValuesIn(LoadCases()),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace autoprov
