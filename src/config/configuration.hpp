// The running configuration (SPEC S-7.6): scalar parameters and table rows, validated against the
// schema. A value equal to its default is not stored, so two configurations compare equal exactly
// when every parameter reads the same.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "config/schema.hpp"

namespace autoprov {

using RowKey = std::vector<std::string>;  // canonical index values

// Column name -> canonical value, for the non-default columns of one row. A sorted vector: large
// tables hold tens of thousands of rows of a few columns, where a node-based map costs twice the
// memory.
class RowValues {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  RowValues() = default;
  RowValues(std::initializer_list<value_type> init) {
    for (const auto& kv : init) (*this)[kv.first] = kv.second;
  }

  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const_iterator find(std::string_view key) const {
    auto it = LowerBound(key);
    return it != items_.end() && it->first == key ? it : items_.end();
  }
  bool contains(std::string_view key) const { return find(key) != items_.end(); }
  const std::string& at(std::string_view key) const;
  std::string& operator[](std::string_view key) {
    auto it = LowerBound(key);
    if (it == items_.end() || it->first != key)
      it = items_.insert(it, {std::string(key), std::string()});
    return it->second;
  }
  void emplace(std::string key, std::string value) { (*this)[key] = std::move(value); }
  void erase(std::string_view key) {
    auto it = LowerBound(key);
    if (it != items_.end() && it->first == key) items_.erase(it);
  }
  void clear() { items_.clear(); }
  bool operator==(const RowValues& o) const { return items_ == o.items_; }

 private:
  std::vector<value_type>::iterator LowerBound(std::string_view key) {
    return std::lower_bound(items_.begin(), items_.end(), key,
                            [](const value_type& a, std::string_view k) { return a.first < k; });
  }
  const_iterator LowerBound(std::string_view key) const {
    return std::lower_bound(items_.begin(), items_.end(), key,
                            [](const value_type& a, std::string_view k) { return a.first < k; });
  }
  std::vector<value_type> items_;
};

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
  // Every table and every parameter to its default, except the lifeline parameters (S-9.2).
  void ResetAllButLifeline();

  const std::map<std::string, std::string>& scalars() const { return scalars_; }
  const std::map<std::string, TableRows>& tables() const { return tables_; }
  TableRows& MutableTable(const TableSpec& spec) { return tables_[spec.name]; }
  void DropEmptyTables();

  // Names of restart-needing parameters or tables whose value differs between the two
  // configurations.
  std::vector<std::string> RestartChangesFrom(const Configuration& before) const;

  bool operator==(const Configuration& other) const {
    return scalars_ == other.scalars_ && tables_ == other.tables_;
  }

 private:
  const Schema* schema_;
  std::map<std::string, std::string> scalars_;  // canonical name -> canonical value
  std::map<std::string, TableRows> tables_;     // canonical table name -> rows
};

// One rule for secrets (S-9.5): a value is hidden in every output (`config show`, `config get`, the
// shell, JSON) when its parameter is secret or it is a URL that carries a password
// (user:password@host). `config load` keeps the current value of a hidden line.
bool IsHiddenValue(const ParamSpec& spec, std::string_view value);
// The value as shown: "***" for a secret, the URL with "***" for its password.
std::string ShownValue(const ParamSpec& spec, const std::string& value);
// The comment a hidden value is written as in an ini file, and the name in such a comment.
std::string HiddenLine(const std::string& name);
std::string HiddenLineName(std::string_view line);  // "" when `line` is not one

}  // namespace autoprov
