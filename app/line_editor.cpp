#include "line_editor.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

namespace autoprov::app {
namespace {

using CompletionFn = char** (*)(const char*, int, int);
using GeneratorFn = char* (*)(const char*, int);

std::vector<std::string> g_matches;

}  // namespace

// libedit's readline interface, resolved by name.
struct LineEditor::Lib {
  void* handle = nullptr;
  char* (*readline)(const char*) = nullptr;
  int (*add_history)(const char*) = nullptr;
  void (*using_history)() = nullptr;
  char** (*completion_matches)(const char*, GeneratorFn) = nullptr;
  char** line_buffer = nullptr;  // rl_line_buffer
  int* point = nullptr;          // rl_point
  int* completion_over = nullptr;
  CompletionFn* completion_function = nullptr;
  Completer completer;
  ~Lib() {
    if (handle) ::dlclose(handle);
  }
  template <class T>
  bool Get(T& out, const char* name) {
    out = reinterpret_cast<T>(::dlsym(handle, name));
    return out != nullptr;
  }
};

namespace {

LineEditor::Lib* g_lib = nullptr;  // the editor whose completer Tab calls

char* Generator(const char*, int state) {
  if (state == 0)
    g_matches =
        g_lib->completer(std::string(*g_lib->line_buffer, static_cast<size_t>(*g_lib->point)));
  if (static_cast<size_t>(state) >= g_matches.size()) return nullptr;
  return ::strdup(g_matches[static_cast<size_t>(state)].c_str());
}

char** Complete(const char* text, int, int) {
  *g_lib->completion_over = 1;
  return g_lib->completion_matches(text, Generator);
}

}  // namespace

LineEditor::LineEditor() {
  auto lib = std::make_unique<Lib>();
  lib->handle = ::dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) return;
  bool ok = lib->Get(lib->readline, "readline") && lib->Get(lib->add_history, "add_history") &&
            lib->Get(lib->using_history, "using_history") &&
            lib->Get(lib->completion_matches, "rl_completion_matches") &&
            lib->Get(lib->line_buffer, "rl_line_buffer") && lib->Get(lib->point, "rl_point") &&
            lib->Get(lib->completion_over, "rl_attempted_completion_over") &&
            lib->Get(lib->completion_function, "rl_attempted_completion_function");
  if (!ok) return;
  lib->using_history();
  lib_ = std::move(lib);
}

LineEditor::~LineEditor() {
  if (g_lib == lib_.get()) g_lib = nullptr;
}

bool LineEditor::editing() const { return lib_ != nullptr; }

void LineEditor::SetCompleter(Completer completer) {
  if (!lib_) return;
  lib_->completer = std::move(completer);
  g_lib = lib_.get();
  *lib_->completion_function = Complete;
}

std::optional<std::string> LineEditor::ReadLine(const std::string& prompt) {
  if (!lib_) {
    std::cout << prompt << std::flush;
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    return line;
  }
  char* input = lib_->readline(prompt.c_str());
  if (!input) return std::nullopt;
  std::string line(input);
  std::free(input);
  if (!line.empty()) lib_->add_history(line.c_str());
  return line;
}

}  // namespace autoprov::app
