#include "line_editor.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace autoprov::app {
namespace {

// From libedit's histedit.h (a stable ABI, libedit.so.2); the header is not needed to build.
struct EditLine;
struct History;
struct LineInfo {
  const char* buffer;
  const char* cursor;
  const char* lastchar;
};
struct HistEvent {
  int num;
  const char* str;
};
constexpr int kElPrompt = 0, kElEditor = 2, kElSignal = 3, kElBind = 4, kElAddFn = 9, kElHist = 10,
              kElClientData = 14;
constexpr int kHSetSize = 1, kHEnter = 10, kHSetUnique = 20;
constexpr unsigned char kCcRefresh = 4, kCcError = 6, kCcRedisplay = 8;

using ElFunction = unsigned char (*)(EditLine*, int);
using PromptFunction = const char* (*)(EditLine*);

}  // namespace

struct LineEditor::Lib {
  void* handle = nullptr;
  EditLine* (*el_init)(const char*, FILE*, FILE*, FILE*) = nullptr;
  void (*el_end)(EditLine*) = nullptr;
  int (*el_set)(EditLine*, int, ...) = nullptr;
  int (*el_get)(EditLine*, int, ...) = nullptr;
  const char* (*el_gets)(EditLine*, int*) = nullptr;
  const LineInfo* (*el_line)(EditLine*) = nullptr;
  int (*el_insertstr)(EditLine*, const char*) = nullptr;
  History* (*history_init)() = nullptr;
  void (*history_end)(History*) = nullptr;
  int (*history)(History*, HistEvent*, int, ...) = nullptr;
  EditLine* el = nullptr;
  History* hist = nullptr;
  std::string prompt;
  Completer completer;
  Helper helper;
  ~Lib() {
    if (el) el_end(el);
    if (hist) history_end(hist);
    // libedit stays loaded: the shell ends with the process, and a leak checker can still name it.
  }
  template <class T>
  bool Get(T& out, const char* name) {
    out = reinterpret_cast<T>(::dlsym(handle, name));
    return out != nullptr;
  }
  std::string LineToCursor() const {
    const LineInfo* li = el_line(el);
    return std::string(li->buffer, static_cast<size_t>(li->cursor - li->buffer));
  }
};

namespace {

LineEditor::Lib* g_lib = nullptr;              // for the C callbacks, which get only the EditLine
volatile std::sig_atomic_t g_interrupted = 0;  // Ctrl-C while a line was read

const char* Prompt(EditLine*) { return g_lib ? g_lib->prompt.c_str() : "# "; }

// Tab: a single candidate is completed (and a space added); several extend to their common prefix,
// or are listed when there is nothing to extend.
unsigned char OnTab(EditLine*, int) {
  LineEditor::Lib* lib = g_lib;
  if (!lib || !lib->completer) return kCcError;
  std::string line = lib->LineToCursor();
  auto candidates = lib->completer(line);
  if (candidates.empty()) return kCcError;
  size_t start = line.find_last_of(' ');
  std::string typed = start == std::string::npos ? line : line.substr(start + 1);
  std::string common = candidates[0];
  for (const auto& c : candidates) {
    size_t n = 0;
    while (n < common.size() && n < c.size() && std::tolower(common[n]) == std::tolower(c[n])) ++n;
    common.resize(n);
  }
  if (candidates.size() == 1) common += " ";
  if (common.size() > typed.size()) {
    lib->el_insertstr(lib->el, common.substr(typed.size()).c_str());
    return kCcRefresh;
  }
  std::string list = "\n";
  for (const auto& c : candidates) list += "  " + c + "\n";
  std::fputs(list.c_str(), stdout);
  std::fflush(stdout);
  return kCcRedisplay;
}

// `?`: what can follow, at once (no Enter), then the line as it was. Inside a quoted value a `?` is
// just a character (URLs have them).
unsigned char OnQuestion(EditLine*, int) {
  LineEditor::Lib* lib = g_lib;
  if (!lib) return kCcError;
  std::string line = lib->LineToCursor();
  if (std::count(line.begin(), line.end(), '\'') % 2 == 1 ||
      std::count(line.begin(), line.end(), '"') % 2 == 1 || !lib->helper) {
    lib->el_insertstr(lib->el, "?");
    return kCcRefresh;
  }
  std::string text = "?\n" + lib->helper(line);
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  return kCcRedisplay;
}

}  // namespace

LineEditor::LineEditor() {
  auto lib = std::make_unique<Lib>();
  lib->handle = ::dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) return;
  bool ok = lib->Get(lib->el_init, "el_init") && lib->Get(lib->el_end, "el_end") &&
            lib->Get(lib->el_set, "el_set") && lib->Get(lib->el_get, "el_get") &&
            lib->Get(lib->el_gets, "el_gets") && lib->Get(lib->el_line, "el_line") &&
            lib->Get(lib->el_insertstr, "el_insertstr") &&
            lib->Get(lib->history_init, "history_init") &&
            lib->Get(lib->history_end, "history_end") && lib->Get(lib->history, "history");
  if (!ok) return;
  lib->el = lib->el_init("autoprov", stdin, stdout, stderr);
  lib->hist = lib->history_init();
  if (!lib->el || !lib->hist) return;
  HistEvent ev{};
  lib->history(lib->hist, &ev, kHSetSize, 500);
  lib->history(lib->hist, &ev, kHSetUnique, 1);
  lib->el_set(lib->el, kElEditor, "emacs");
  lib->el_set(lib->el, kElSignal, 1);
  lib->el_set(lib->el, kElClientData, lib.get());
  lib->el_set(lib->el, kElPrompt, static_cast<PromptFunction>(Prompt));
  lib->el_set(lib->el, kElHist, lib->history, lib->hist);
  lib->el_set(lib->el, kElAddFn, "autoprov-complete", "complete the word",
              static_cast<ElFunction>(OnTab));
  lib->el_set(lib->el, kElAddFn, "autoprov-help", "what can follow",
              static_cast<ElFunction>(OnQuestion));
  lib->el_set(lib->el, kElBind, "^I", "autoprov-complete", nullptr);
  lib->el_set(lib->el, kElBind, "?", "autoprov-help", nullptr);
  lib_ = std::move(lib);
  g_lib = lib_.get();
}

LineEditor::~LineEditor() {
  if (g_lib == lib_.get()) g_lib = nullptr;
}

bool LineEditor::editing() const { return lib_ != nullptr; }

void LineEditor::SetCompleter(Completer completer) {
  if (lib_) lib_->completer = std::move(completer);
}

void LineEditor::SetHelper(Helper helper) {
  if (lib_) lib_->helper = std::move(helper);
}

std::optional<std::string> LineEditor::ReadLine(const std::string& prompt) {
  if (!lib_) {
    std::cout << prompt << std::flush;
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    return line;
  }
  lib_->prompt = prompt;
  // Ctrl-C discards the line and prompts again, as bash and IOS-style shells do: while a line is
  // read, SIGINT only interrupts the read (libedit restores the terminal and passes it on). Ctrl-D
  // on an empty line still ends the shell. A script on standard input never gets here.
  for (;;) {
    g_interrupted = 0;
    struct sigaction on_int {
    }, before{};
    on_int.sa_handler = [](int) { g_interrupted = 1; };
    sigemptyset(&on_int.sa_mask);
    on_int.sa_flags = 0;  // no SA_RESTART: the read returns
    ::sigaction(SIGINT, &on_int, &before);
    int count = 0;
    const char* input = lib_->el_gets(lib_->el, &count);
    ::sigaction(SIGINT, &before, nullptr);
    if (g_interrupted) {
      std::fputs("^C\n", stdout);
      std::fflush(stdout);
      continue;
    }
    if (!input || count <= 0) return std::nullopt;
    return Entered(std::string(input, static_cast<size_t>(count)));
  }
}

std::string LineEditor::Entered(std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (!line.empty()) {
    HistEvent ev{};
    lib_->history(lib_->hist, &ev, kHEnter, line.c_str());
  }
  return line;
}

}  // namespace autoprov::app

#if defined(__SANITIZE_ADDRESS__)
// What libedit and the terminal library keep until the process ends is theirs, not the shell's.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libedit.so\nleak:libtinfo.so\nleak:libncurses\nleak:wcsdup\n";
}
#endif
