// The parameter schema (SPEC S-7.4): every parameter's ini name, CLI place, type, default and
// whether a change needs a restart. The agent ships the Automatic Update schema; appliances add
// schema files.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"

namespace autoprov {

enum class ValueType { kInteger, kEnum, kString, kUrl, kTime, kList };

struct EnumChoice {
  std::string cli_name;  // "regular"
  long long value = 0;   // 1 (what ini files carry)
};

// Type, range and default of one value: a scalar parameter or a table column.
struct ValueSpec {
  ValueType type = ValueType::kString;
  long long min = 0;
  long long max = 0;
  size_t max_length = 0;  // 0: unlimited
  std::vector<EnumChoice> choices;
  std::vector<std::string> allowed;  // list items allowed (empty: any word)
  std::string default_value;         // canonical form
  bool secret = false;
  std::string format;  // a string's syntax: "" (any) or "backoff" (config/backoff.hpp)
};

struct ParamSpec {
  std::string name;  // canonical ini name, e.g. "IniFileURL"
  ValueSpec value;
  std::vector<std::string> cli_modes;  // {"configure system", "automatic-update"}
  std::string cli_command;             // "ini-file"; empty: ini only
  bool restart = false;                // a change needs a device restart
  bool transient = false;              // an action in a file (ResetNow), never stored
  // S-9.2: keeps the device reachable (its URLs, credentials, certificate checks); a replace-mode
  // file or a startup script leaves it as it is unless the file sets it.
  bool lifeline = false;
  std::string description;
};

struct ColumnSpec {
  std::string name;  // without the table prefix, e.g. "IpAddress"
  ValueSpec value;
  std::string cli_command;
};

struct TableSpec {
  std::string name;                        // "ProxyIp"
  std::vector<std::string> index_columns;  // {"Index"} or two for multi-index tables
  std::vector<ColumnSpec> columns;
  std::vector<std::string> cli_modes;
  std::string cli_command;  // enters a row: "<command> <index...>"
  bool restart = false;
  std::string description;

  const ColumnSpec* FindColumn(std::string_view name) const;  // accepts "Table_Column" too
};

class Schema {
 public:
  // The built-in Automatic Update schema.
  static const Schema& BuiltIn();
  static Expected<Schema> FromJson(std::string_view json_text, std::string_view origin);
  // The built-in schema from its generated tables (BuiltIn() keeps one).
  static Expected<Schema> FromBuiltinTables();

  // Adds the parameters and tables of another schema file; a name defined twice is an error.
  Expected<void> Merge(const Schema& other);
  Expected<void> MergeFile(const std::string& path);

  const ParamSpec* FindParam(std::string_view ini_name) const;  // case-insensitive
  const TableSpec* FindTable(std::string_view name) const;      // case-insensitive
  // By ini name, else by CLI command when exactly one parameter has it ("crc-check").
  const ParamSpec* FindParamOrCommand(std::string_view name) const;
  // "; did you mean 'AutoUpdateFrequency'?" for a mistyped parameter name (its CLI command too with
  // `commands`), or "" when no name is close.
  std::string DidYouMean(std::string_view name, bool commands = false) const;
  const std::vector<ParamSpec>& params() const { return params_; }
  const std::vector<TableSpec>& tables() const { return tables_; }

 private:
  // One parameter or table merged in, as Merge does with a whole schema.
  Expected<void> MergeParam(ParamSpec spec);
  Expected<void> MergeTable(TableSpec spec);

  std::vector<ParamSpec> params_;
  std::vector<TableSpec> tables_;
  // Case-insensitive (ASCII) and transparent: looking a name up allocates nothing and hashes once.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  struct NameEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  std::unordered_map<std::string, size_t, NameHash, NameEqual> param_index_;
  // Changes with every copy and merge: FindParam's per-thread memo of recent lookups is keyed by
  // it.
  struct Generation {
    uint64_t value = Next();
    Generation() = default;
    Generation(const Generation&) : value(Next()) {}
    Generation& operator=(const Generation&) {
      value = Next();
      return *this;
    }
    static uint64_t Next();
  };
  Generation generation_;
  std::unordered_map<std::string, size_t, NameHash, NameEqual> table_index_;
};

// Checks a raw value (as written in an ini file or typed at the CLI, quotes already removed)
// against its spec and returns the canonical form stored in the running configuration. `from_cli`
// accepts enum names.
Expected<std::string> NormalizeValue(const ValueSpec& spec, std::string_view raw, bool from_cli);

// The CLI spelling of a canonical value (enum number -> name, list "a,b").
std::string CliValue(const ValueSpec& spec, const std::string& canonical);

// Every parameter of the schema as the agent reads it (built-in, schema.d/, --schema): the source
// of the parameter reference (docs/parameters.md, autoprov-parameters(7)) and of completion
// (`config params --json`).
nlohmann::json SchemaJson(const Schema& schema);

}  // namespace autoprov
