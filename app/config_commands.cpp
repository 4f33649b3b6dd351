// autoprov config load|show|set|reset (SPEC S-7).
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "common/text.hpp"
#include "config/cli_script.hpp"
#include "config/config_file.hpp"
#include "config/ini.hpp"
#include "engine/config_writer.hpp"
#include "engine/schedule.hpp"
#include "engine/validation.hpp"
#include "signing/encryption.hpp"
#include "store/state_dir.hpp"

namespace autoprov::app {
namespace {

// A file's text, or standard input's for "-" (one that cannot be read: a usage error).
Expected<std::string> ReadInput(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  auto r = ReadFile(file);
  if (!r) return Unexpected(AsUsageError(r.error()));
  // S-12.3: a device decrypts such a file before it reads it; these commands take the plaintext.
  if (Encryption e = DetectEncryption(*r); e != Encryption::kNone)
    return Fail(ErrorCode::kInvalidArgument,
                file + " is encrypted (" + std::string(EncryptionName(e)) +
                    "): a device decrypts it first (S-12.3); give the plaintext, e.g. autoprov "
                    "decrypt " +
                    file + " ... | autoprov config validate -");
  return std::move(*r);
}

ConfigFormat FormatFor(const std::string& asked, const std::string& file, std::string_view text) {
  return asked == "auto"  ? DetectConfigFormat(file, text)
         : asked == "cli" ? ConfigFormat::kCli
                          : ConfigFormat::kIni;
}

void PrintDiagnostics(const std::vector<Diagnostic>& list, std::string_view prefix) {
  for (const auto& d : list) std::cerr << prefix << d.ToString() << "\n";
}

// "unknown parameter 'IniFileUrll'; did you mean 'IniFileURL'?"
Error UnknownParameter(const Schema& schema, const std::string& name) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown parameter '" + name + "'" + schema.DidYouMean(name, true));
}

nlohmann::json ConfigurationJson(const Configuration& c) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& p : c.schema().params()) {
    auto it = c.scalars().find(p.name);
    bool set = it != c.scalars().end();
    params[p.name] = {{"value", ShownValue(p, c.Get(p.name))}, {"default", !set}};
  }
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [name, rows] : c.tables()) {
    nlohmann::json list = nlohmann::json::array();
    const TableSpec* spec = c.schema().FindTable(name);
    for (const auto& [key, row] : rows) {
      nlohmann::json r = nlohmann::json::object();
      for (size_t i = 0; i < key.size(); ++i)
        r[spec && i < spec->index_columns.size() ? spec->index_columns[i]
                                                 : "Index" + std::to_string(i)] = key[i];
      for (const auto& [col, v] : row) r[col] = v;
      list.push_back(r);
    }
    tables[name] = list;
  }
  return {{"parameters", params}, {"tables", tables}};
}

}  // namespace

void RegisterConfigCommands(CLI::App& app, GlobalOptions& g) {
  auto* config = app.add_subcommand("config", "show and change the running configuration");
  config->require_subcommand(1);
  config->fallthrough();

  struct LoadOpts {
    std::string file, format = "auto";
    LoadModeRequest mode;
  };
  auto lo = std::make_shared<LoadOpts>();
  auto* load = config->add_subcommand(
      "load", "load an ini file or CLI script into the running configuration");
  load->add_option("file", lo->file, "ini file or CLI script ('-' for standard input)")->required();
  load->add_option("--format", lo->format, "ini, cli or auto (from the extension or content)")
      ->check(CLI::IsMember({"auto", "ini", "cli"}));
  load->add_flag("--incremental", lo->mode.incremental,
                 "ini: keep parameters the file does not name (as SetDefaultOnINIFileProcess = 0)");
  load->add_flag("--replace", lo->mode.replace,
                 "ini: parameters the file does not name return to defaults, lifeline ones "
                 "excepted (the default, unless the file sets SetDefaultOnINIFileProcess = 0)");
  load->add_flag("--startup", lo->mode.startup,
                 "CLI: startup-script semantics (everything to defaults first)");
  load->fallthrough();
  OnRun(load, g, [&g, lo]() -> Expected<void> {
    if (lo->mode.incremental && lo->mode.replace)
      return Fail(ErrorCode::kInvalidArgument, "--incremental and --replace exclude each other");
    auto text = ReadInput(lo->file);
    if (!text) return Unexpected(text.error());
    auto state = OpenState(g);
    if (!state) return Unexpected(state.error());
    ConfigFormat format = FormatFor(lo->format, lo->file, *text);
    ConfigLoadMode mode = LoadModeFor(format, lo->mode);
    std::string origin = lo->file == "-" ? "<stdin>" : lo->file;
    std::vector<Diagnostic> errors, warnings;
    // S-9.1: loaded onto the configuration as stored now, in one write transaction.
    auto written =
        WriteConfiguration((*state)->store(), kLocalDevice, (*state)->schema(),
                           [&](Configuration& current, std::set<std::string>&) -> Expected<void> {
                             auto r = LoadConfigurationFile(*text, origin, format, current, mode);
                             errors = std::move(r.errors);
                             warnings = std::move(r.warnings);
                             if (!errors.empty()) return Fail(ErrorCode::kParse, "rejected");
                             current = std::move(r.config);
                             return {};
                           });
    PrintDiagnostics(warnings, "warning: ");
    if (!errors.empty()) {
      PrintDiagnostics(errors, "error: ");
      return Fail(ErrorCode::kRejected, origin + " rejected (" + std::to_string(errors.size()) +
                                            " error(s)); the running configuration is unchanged");
    }
    if (!written) return Unexpected(written.error());
    std::cout << "loaded " << origin << " (" << (format == ConfigFormat::kCli ? "cli" : "ini")
              << ")\n";
    return {};
  });

  auto format = std::make_shared<std::string>("ini");
  auto* show = config->add_subcommand("show", "print the running configuration");
  show->add_option("--format", *format, "ini, cli or json")
      ->check(CLI::IsMember({"ini", "cli", "json"}));
  auto show_json = std::make_shared<bool>(false);
  show->add_flag("--json", *show_json, "the same as --format json");
  auto with_secrets = std::make_shared<bool>(false);
  auto show_output = std::make_shared<std::string>();
  show->add_flag("--with-secrets", *with_secrets,
                 "ini: print secrets and URL passwords in clear (to move a configuration to "
                 "another device); hidden by default, and a hidden line loads back as 'keep'");
  show->add_option("-o,--output", *show_output,
                   "write to this file instead of standard output (mode 0600)");
  show->fallthrough();
  OnRun(show, g, [&g, format, show_json, with_secrets, show_output]() -> Expected<void> {
    auto state = OpenState(g, StateDirectory::Access::kReadOnly);
    if (!state) return Unexpected(state.error());
    auto current = (*state)->LoadConfiguration();
    if (!current) return Unexpected(current.error());
    if (*with_secrets && (*show_json || *format != "ini"))
      return Fail(ErrorCode::kInvalidArgument, "--with-secrets is for the ini format only");
    std::string text = *show_json || *format == "json" ? ConfigurationJson(*current).dump(2) + "\n"
                       : *format == "ini"              ? WriteIni(*current, *with_secrets)
                                                       : WriteCli(*current);
    if (show_output->empty()) {
      std::cout << text;
      return {};
    }
    return WriteFileAtomically(*show_output, text, 0600);
  });

  auto params_mode = std::make_shared<std::string>("text");
  auto* params = config->add_subcommand(
      "params", "list every parameter the agent knows (built-in, schema.d/, --schema)");
  params->add_flag_callback(
      "--json", [params_mode] { *params_mode = "json"; },
      "as JSON: type, range, default, CLI path, restart-needed");
  params->add_flag_callback(
      "--names", [params_mode] { *params_mode = "names"; },
      "names only, one per line (for completion)");
  params->fallthrough();
  OnRun(params, g, [&g, params_mode]() -> Expected<void> {
    auto schema = LoadSchema(g.state_dir, g.schema_files);  // reads, never creates
    if (!schema) return Unexpected(AsUsageError(schema.error()));
    if (*params_mode == "names") {
      for (const auto& p : schema->params()) std::cout << p.name << "\n";
      for (const auto& t : schema->tables()) std::cout << t.name << "\n";
    } else if (*params_mode == "json") {
      std::cout << SchemaJson(*schema).dump(2) << "\n";
    } else {
      for (const auto& p : schema->params())
        std::cout << p.name << (p.restart ? " (restart)" : "") << ": " << p.description << "\n";
    }
    return {};
  });

  auto get_name = std::make_shared<std::string>();
  auto* get = config->add_subcommand("get", "print one parameter's value (its default if not set)");
  get->add_option("name", *get_name, "parameter name (ini or CLI), e.g. IniFileURL")->required();
  get->fallthrough();
  OnRun(get, g, [&g, get_name]() -> Expected<void> {
    auto state = OpenState(g, StateDirectory::Access::kReadOnly);
    if (!state) return Unexpected(state.error());
    const ParamSpec* spec = (*state)->schema().FindParamOrCommand(*get_name);
    if (!spec) return Unexpected(UnknownParameter((*state)->schema(), *get_name));
    auto current = (*state)->LoadConfiguration();
    if (!current) return Unexpected(current.error());
    std::cout << ShownValue(*spec, current->Get(spec->name)) << "\n";
    return {};
  });

  // An operator's lint before publishing a file: the same parser and checks as a run, on the
  // built-in schema plus --schema files (and the state directory's schema.d/ when it exists),
  // touching no state.
  auto vo = std::make_shared<std::pair<std::string, std::string>>("", "auto");
  auto* validate = config->add_subcommand(
      "validate", "check an ini file or CLI script as a run would, changing nothing");
  validate->add_option("file", vo->first, "ini file or CLI script ('-' for standard input)")
      ->required();
  validate->add_option("--format", vo->second, "ini, cli or auto (from the extension or content)")
      ->check(CLI::IsMember({"auto", "ini", "cli"}));
  auto validate_incremental = std::make_shared<bool>(false);
  validate->add_flag("--incremental", *validate_incremental,
                     "ini: judge it as an incremental file (SetDefaultOnINIFileProcess = 0); "
                     "the default is what a device does with a downloaded ini: replace mode unless "
                     "the file says otherwise");
  validate->fallthrough();
  OnRun(validate, g, [&g, vo, validate_incremental]() -> Expected<void> {
    auto text = ReadInput(vo->first);
    if (!text) return Unexpected(text.error());
    auto schema = LoadSchema(g.state_dir, g.schema_files);
    if (!schema) return Unexpected(AsUsageError(schema.error()));
    ConfigFormat format = FormatFor(vo->second, vo->first, *text);
    std::string origin = vo->first == "-" ? "<stdin>" : vo->first;
    // What a device does with it as a downloaded file (S-7.8): the same load, mode and checks as a
    // run's step, on a device with the default configuration.
    Configuration empty(*schema);
    auto r = LoadConfigurationFile(*text, origin, format, empty,
                                   LoadModeFor(format, {.incremental = *validate_incremental}));
    if (r.errors.empty())
      for (auto& problem : CheckConfiguration(empty, r.config, ConfigOrigin::kDownloaded))
        r.errors.push_back({origin, 0, std::move(problem)});
    PrintDiagnostics(r.warnings, "warning: ");
    PrintDiagnostics(r.errors, "error: ");
    if (!r.errors.empty())
      return Fail(ErrorCode::kRejected, origin + ": " + std::to_string(r.errors.size()) +
                                            " error(s), " + std::to_string(r.warnings.size()) +
                                            " warning(s); a device would reject it");
    std::cout << origin << ": valid (" << (format == ConfigFormat::kCli ? "cli" : "ini") << ", "
              << r.warnings.size() << " warning(s))\n";
    return {};
  });

  auto kv = std::make_shared<std::pair<std::string, std::string>>();
  auto* set = config->add_subcommand(
      "set", "set one parameter (ini name, value as in an ini file or the CLI)");
  set->add_option("name", kv->first, "parameter name, e.g. IniFileURL")->required();
  set->add_option("value", kv->second, "value; empty to clear")->required();
  set->fallthrough();
  OnRun(set, g, [&g, kv]() -> Expected<void> {
    auto state = OpenState(g);
    if (!state) return Unexpected(state.error());
    const ParamSpec* spec = (*state)->schema().FindParamOrCommand(kv->first);
    if (!spec) return Unexpected(UnknownParameter((*state)->schema(), kv->first));
    auto r = SetParameter((*state)->store(), kLocalDevice, (*state)->schema(), spec->name,
                          kv->second, /*from_cli=*/true);
    if (!r) return Unexpected(r.error());
    return {};
  });

  auto* reset = config->add_subcommand("reset", "return every parameter to its default");
  reset->fallthrough();
  OnRun(reset, g, [&g]() -> Expected<void> {
    auto state = OpenState(g);
    if (!state) return Unexpected(state.error());
    // S-9.4: with the configuration go every validator, CRC and installed-file record.
    auto r = WriteConfiguration((*state)->store(), kLocalDevice, (*state)->schema(),
                                [](Configuration& c, std::set<std::string>&) -> Expected<void> {
                                  c.ResetAll();
                                  return {};
                                },
                                WriteOptions{.forget_all = true});
    if (!r) return Unexpected(r.error());
    return {};
  });
}

}  // namespace autoprov::app
