// The running configuration (SPEC S-7.6): scalar parameters and table rows, validated against the schema.
// A value equal to its default is not stored, so two configurations compare equal exactly when every
// parameter reads the same.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "config/schema.hpp"

namespace autoprov {

using RowKey = std::vector<std::string>;                  // canonical index values
using RowValues = std::map<std::string, std::string>;     // column name -> canonical value (non-default)
using TableRows = std::map<RowKey, RowValues>;

// One problem found in a file, with where it is.
struct Diagnostic {
  std::string origin;  // file name or "-c"
  int line = 0;
  std::string message;
  std::string ToString() const;
};

class Configuration {
 public:
  explicit Configuration(const Schema& schema) : schema_(&schema) {}

  const Schema& schema() const { return *schema_; }

  // Value of a scalar parameter (its default when not set). The name must be in the schema.
  const std::string& Get(std::string_view name) const;
  long long GetInt(std::string_view name) const;

  // Validates and stores a value; `from_cli` accepts enum names ("on").
  Expected<void> Set(std::string_view name, std::string_view raw, bool from_cli = false);
  void SetCanonical(const ParamSpec& spec, std::string value);
  void Reset(const ParamSpec& spec) { scalars_.erase(spec.name); }
  void ResetAll() {
    scalars_.clear();
    tables_.clear();
  }

  const std::map<std::string, std::string>& scalars() const { return scalars_; }
  const std::map<std::string, TableRows>& tables() const { return tables_; }
  TableRows& MutableTable(const TableSpec& spec) { return tables_[spec.name]; }
  void DropEmptyTables();

  // Names of restart-needing parameters or tables whose value differs between the two configurations.
  std::vector<std::string> RestartChangesFrom(const Configuration& before) const;

  bool operator==(const Configuration& other) const {
    return scalars_ == other.scalars_ && tables_ == other.tables_;
  }

 private:
  const Schema* schema_;
  std::map<std::string, std::string> scalars_;  // canonical name -> canonical value
  std::map<std::string, TableRows> tables_;     // canonical table name -> rows
};

}  // namespace autoprov
