// The fixture of the tests that drive the agent as a user does: a fresh state directory, a device
// identity on every command line, a bootstrap configuration loaded with `config load`, the
// commands' JSON, and one nginx per test suite (ctest runs each test in a process of its own, so
// each test gets a fresh one; tests use paths of their own).
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../app/command_runner.hpp"
#include "support/servers.hpp"

namespace autoprov::testing {

// The identity flags of a test device: product Mediant, running 7.20A.250.001.
inline std::string DeviceFlags(const std::filesystem::path& state, const std::string& mac,
                               const std::string& serial) {
  return " --state-dir " + state.string() + " --product Mediant --mac " + mac + " --serial " +
         serial + " --sw-version 7.20A.250.001";
}

class DeviceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { nginx_ = new Nginx(); }
  static void TearDownTestSuite() {
    delete nginx_;
    nginx_ = nullptr;
  }
  // `what` names the temporary directory; `mac` and `serial` the device.
  DeviceTest(std::string what, std::string mac, std::string serial)
      : what_(std::move(what)), mac_(std::move(mac)), serial_(std::move(serial)) {}
  void SetUp() override {
    ASSERT_TRUE(nginx_->ok()) << nginx_->ErrorLog();
    dir_ = MakeTempDir(what_);
    st_ = DeviceFlags(dir_ / "state", mac_, serial_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `config load` of `ini` as the device's starting configuration.
  void Bootstrap(const std::string& ini) {
    WriteText(dir_ / "boot.ini", ini);
    auto r = RunCommand("config load " + (dir_ / "boot.ini").string() + st_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  // A command on this device; fails the test unless it exits 0.
  void Command(const std::string& args) {
    auto r = RunCommand(args + st_);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.out;
  }
  // `update --json`: its exit status and its report (standard error left out).
  std::pair<int, nlohmann::json> Update() {
    auto r = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " update --json" + st_ +
                        " 2>/dev/null'");
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out;
    return {r.exit_code, j};
  }
  nlohmann::json StatusJson() {
    auto r = RunCommand("status --json" + st_);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  // `config get NAME`, without its newline.
  std::string Get(const std::string& name) {
    auto r = RunCommand("config get " + name + st_);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  // The step of `kind` in a run's report (null when the run had none).
  static const nlohmann::json& Step(const nlohmann::json& report, const std::string& kind) {
    for (const auto& s : report["steps"])
      if (s["kind"] == kind) return s;
    static const nlohmann::json none;
    return none;
  }
  // A step's details, one a line.
  static std::string Details(const nlohmann::json& step) {
    std::string all;
    for (const auto& d : step.value("details", nlohmann::json::array()))
      all += d.get<std::string>() + "\n";
    return all;
  }

  static Nginx* nginx_;
  std::string what_, mac_, serial_;
  std::filesystem::path dir_;
  std::string st_;  // --state-dir and the identity, for every command
};

inline Nginx* DeviceTest::nginx_ = nullptr;

}  // namespace autoprov::testing
