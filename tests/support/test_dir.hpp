// What many tests share: a fresh directory of their own, and how much of a randomised test to run
// under the sanitizers (slower by several times).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace autoprov::test_support {

// <tmp>/autoprov-<what>-<pid>-<test name>, empty; the caller removes it when done (TestDir does).
inline std::filesystem::path FreshDir(const std::string& what) {
  auto dir = std::filesystem::temp_directory_path() /
             ("autoprov-" + what + "-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A fresh directory for the test's life.
class TestDir {
 public:
  explicit TestDir(const std::string& what) : path_(FreshDir(what)) {}
  ~TestDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// `full` iterations normally, `sanitized` under AddressSanitizer.
constexpr long Iterations(long full, long sanitized) {
#if defined(__SANITIZE_ADDRESS__)
  (void)full;
  return sanitized;
#else
  (void)sanitized;
  return full;
#endif
}

}  // namespace autoprov::test_support
