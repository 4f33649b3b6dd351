// What the command line says when it is used wrongly (issue: a CLI that guides): an unknown
// subcommand or option names the closest one, and --version says what the binary is made of.
#include <curl/curl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common/digest.hpp"
#include "common/text.hpp"
#include "store/database.hpp"
#include "transfer/fetcher.hpp"

namespace autoprov::app {
namespace {

CLI::Option* FindOption(const std::vector<CLI::App*>& path, const std::string& name, bool is_long) {
  for (auto it = path.rbegin(); it != path.rend(); ++it)
    for (CLI::Option* o : (*it)->get_options())
      for (const auto& n : is_long ? o->get_lnames() : o->get_snames())
        if (n == name) return o;
  return nullptr;
}

std::string Suggestion(const std::string& word, const std::vector<std::string>& names,
                       const std::string& prefix = "") {
  std::string match = ClosestMatch(word, names);
  return match.empty() ? "" : "; did you mean '" + prefix + match + "'?";
}

}  // namespace

std::string ExplainUsageError(CLI::App& app, int argc, char** argv) {
  std::vector<CLI::App*> path{&app};
  for (int i = 1; i < argc; ++i) {
    std::string t = argv[i];
    if (t == "--") break;
    if (t.starts_with("--")) {
      std::string name =
          t.substr(2, t.find('=') == std::string::npos ? std::string::npos : t.find('=') - 2);
      CLI::Option* o = FindOption(path, name, true);
      if (!o) {
        std::vector<std::string> names;
        for (CLI::App* a : path)
          for (CLI::Option* opt : a->get_options())
            for (const auto& n : opt->get_lnames()) names.push_back(n);
        std::string where = path.size() > 1 ? " for '" + path.back()->get_name() + "'" : "";
        return "unknown option '--" + name + "'" + where + Suggestion(name, names, "--");
      }
      if (o->get_type_size() != 0 && t.find('=') == std::string::npos) ++i;
      continue;
    }
    if (t.size() > 1 && t[0] == '-') {
      CLI::Option* o = FindOption(path, t.substr(1, 1), false);
      if (!o) return "unknown option '" + t.substr(0, 2) + "'";
      if (o->get_type_size() != 0 && t.size() == 2) ++i;
      continue;
    }
    auto subs = path.back()->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) continue;  // a positional argument of the command
    CLI::App* next = nullptr;
    std::vector<std::string> names;
    for (CLI::App* s : subs) {
      names.push_back(s->get_name());
      if (s->check_name(t)) next = s;
    }
    if (!next) {
      std::string of = path.size() > 1 ? " of '" + path.back()->get_name() + "'" : "";
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::string hint = Suggestion(t, names);
      return "unknown subcommand '" + t + "'" + of +
             (hint.empty() ? " (one of: " + list + ")" : hint);
    }
    path.push_back(next);
  }
  // A command that needs a subcommand and got none lists them, as git does.
  CLI::App* last = path.back();
  auto subs = last->get_subcommands([](CLI::App*) { return true; });
  if (!subs.empty() && last->get_require_subcommand_min() > 0) {
    std::string name = "autoprov";
    for (size_t i = 1; i < path.size(); ++i) name += " " + path[i]->get_name();
    size_t width = 0;
    for (CLI::App* sub : subs) width = std::max(width, sub->get_name().size());
    std::string text = "'" + name + "' needs a subcommand, one of:";
    for (CLI::App* sub : subs)
      text += "\n  " + sub->get_name() + std::string(width + 2 - sub->get_name().size(), ' ') +
              sub->get_description();
    return text;
  }
  return {};
}

std::string VersionText() {
  std::string text = std::string("autoprov ") + AUTOPROV_VERSION;
#ifdef AUTOPROV_GIT_COMMIT
  if (std::string(AUTOPROV_GIT_COMMIT).size() > 0)
    text += std::string(" (git ") + AUTOPROV_GIT_COMMIT + ")";
#endif
  text += "\n" + TransferLibraryVersion() + "\n" + CryptoLibraryVersion() + "\n" +
          DatabaseLibraryVersion();
  return text;
}

}  // namespace autoprov::app
