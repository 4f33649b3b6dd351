// Runs the autoprov binary as a user would and captures its exit status and output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace autoprov::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr, in order
};

// Any shell command line, its output captured as RunCommand does.
inline CommandResult RunProgram(const std::string& command_line,
                                const std::string& stdin_text = "") {
  std::string cmd = command_line + " 2>&1";
  std::string input_file;
  if (!stdin_text.empty()) {
    input_file =
        std::filesystem::temp_directory_path() / ("autoprov-stdin-" + std::to_string(::getpid()));
    std::ofstream(input_file) << stdin_text;
    cmd += " < " + input_file;
  }
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (!input_file.empty()) std::filesystem::remove(input_file);
  return r;
}

inline CommandResult RunCommand(const std::string& args, const std::string& stdin_text = "") {
  return RunProgram(std::string(AUTOPROV_BINARY) + " " + args, stdin_text);
}

inline std::filesystem::path FreshDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("autoprov-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace autoprov::testing
