// The fixture of the engine's integration tests: a state directory, nginx serving files under the
// test's own prefix, and helpers to configure, run and inspect the result.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "config/ini.hpp"
#include "engine/config_writer.hpp"
#include "engine/run.hpp"
#include "support/curl_fetch.hpp"
#include "support/servers.hpp"

namespace autoprov {

using namespace testing;

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { nginx_ = new Nginx(); }
  static void TearDownTestSuite() { delete nginx_; }

  void SetUp() override {
    ASSERT_TRUE(nginx_->ok());
    prefix_ = "/" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_ = MakeTempDir("engine");
    std::filesystem::create_directories(dir_ / "state/schema.d");
    std::filesystem::copy_file(std::string(AUTOPROV_SOURCE_DIR) + "/examples/schema/appliance.json",
                               dir_ / "state/schema.d/appliance.json");
    Reopen();
    identity_ = DeviceIdentity{"Mediant", "00908F000001", "4837234", "7.20A.250.001"};
  }
  void TearDown() override {
    state_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    state_.reset();
    auto s = StateDirectory::Open(dir_ / "state", {});
    ASSERT_TRUE(s) << s.error().message;
    state_ = std::move(*s);
  }
  // A file on the server under this test's own prefix; @BASE@ becomes the server's address +
  // prefix.
  std::string Serve(const std::string& path, const std::string& content) {
    std::string text = content;
    std::string base = nginx_->Url(prefix_);
    for (size_t p; (p = text.find("@BASE@")) != std::string::npos;) text.replace(p, 6, base);
    WriteText(nginx_->root() / (prefix_.substr(1) + path), text);
    return base + path;
  }
  std::string Uri(const std::string& path) const { return prefix_ + path; }
  // Bumps a served file's mtime so nginx reports it as modified.
  void Touch(const std::string& path, int seconds_ahead) {
    struct utimbuf t {
      time(nullptr) + seconds_ahead, time(nullptr) + seconds_ahead
    };
    ::utime((nginx_->root() / (prefix_.substr(1) + path)).c_str(), &t);
  }
  void Configure(const std::string& ini) {
    std::string text = ini;
    std::string base = nginx_->Url(prefix_);
    for (size_t p; (p = text.find("@BASE@")) != std::string::npos;) text.replace(p, 6, base);
    // Through the one writer (S-9.1), as `config load --incremental` does.
    auto w = WriteConfiguration(state_->store(), kLocalDevice, state_->schema(),
                                [&](Configuration& cur, std::set<std::string>&) -> Expected<void> {
                                  auto r = LoadIni(text, "bootstrap.ini", cur,
                                                   IniApplyMode::kIncremental);
                                  if (!r.errors.empty())
                                    return Fail(ErrorCode::kParse, r.errors[0].ToString());
                                  cur = std::move(r.config);
                                  return {};
                                });
    ASSERT_TRUE(w) << w.error().message;
  }
  RunReport Run(RunOptions opts = {}) {
    LocalRunOptions o;
    o.run = opts;
    auto r = RunAutomaticUpdate(*state_, identity_, hooks_, o, CurlFetch());
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : RunReport{};
  }
  Configuration Config() { return *state_->LoadConfiguration(); }
  const StepReport* Step(const RunReport& r, const std::string& kind) {
    for (const auto& s : r.steps)
      if (s.kind == kind) return &s;
    return nullptr;
  }
  std::string Outcome(const RunReport& r, const std::string& kind) {
    auto* s = Step(r, kind);
    return s ? std::string(OutcomeName(s->outcome)) : "absent";
  }
  std::string StateValue(const std::string& key) {
    auto v = state_->store().GetValue(kLocalDevice, key);
    return v && v->has_value() ? **v : "";
  }
  std::filesystem::path Script(const std::string& name, const std::string& body) {
    auto p = dir_ / name;
    WriteText(p, "#!/bin/sh\n" + body);
    ::chmod(p.c_str(), 0755);
    return p;
  }

  inline static Nginx* nginx_ = nullptr;
  std::string prefix_;
  std::filesystem::path dir_;
  std::unique_ptr<StateDirectory> state_;
  DeviceIdentity identity_;
  DeviceHooks hooks_;
};

}  // namespace autoprov
