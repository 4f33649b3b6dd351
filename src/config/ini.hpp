// AudioCodes ini files (SPEC S-7.1, S-7.2, S-7.5): parsing, validation against the schema, applying
// in replace or incremental mode, and writing the running configuration back as ini.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/configuration.hpp"

namespace autoprov {

// The syntax of an ini file, before any schema is consulted.
struct IniDocument {
  struct Assignment {
    std::string name;
    std::string value;  // quotes removed
    std::string raw;    // as written (lists keep their per-item quotes)
    int line = 0;
  };
  struct Row {
    std::vector<std::string> index;
    std::vector<std::string> values;  // in FORMAT order; "$$" and "" mean the column default
    int line = 0;
  };
  struct Table {
    std::string name;
    std::vector<std::string> index_columns;
    std::vector<std::string> columns;
    std::vector<Row> rows;
    int line = 0;
  };
  std::vector<Assignment> assignments;
  std::vector<Table> tables;
};

struct IniParseResult {
  IniDocument document;
  std::vector<Diagnostic> errors;
};

// Receives what the parser finds, line by line, so a large file is never held twice in memory.
class IniVisitor {
 public:
  virtual ~IniVisitor() = default;
  virtual void OnAssignment(IniDocument::Assignment&& assignment) = 0;
  virtual void OnTable(const IniDocument::Table& header) = 0;  // header without rows
  virtual void OnRow(const IniDocument::Table& header, IniDocument::Row&& row) = 0;
  virtual void OnError(Diagnostic error) = 0;
};

void ParseIni(std::string_view text, std::string_view origin, IniVisitor& visitor);
IniParseResult ParseIni(std::string_view text, std::string_view origin);

enum class IniApplyMode { kFromFile, kReplace, kIncremental };

// Result of loading an ini file on top of a configuration. When `errors` is non-empty `config` must
// not be used: the caller keeps the running configuration (SPEC S-7.5).
struct IniLoadResult {
  Configuration config;
  std::vector<Diagnostic> errors, warnings;  // unknown names, duplicates
  bool reset_now = false;                    // ResetNow = 1 was in the file
  bool replaced = false;                     // absent parameters went back to their defaults
  bool empty = false;  // no setting in the file (S-9.2): an incremental one applies nothing
};

// kFromFile follows SetDefaultOnINIFileProcess (the file's value, else the current one).
IniLoadResult LoadIni(std::string_view text, std::string_view origin, const Configuration& current,
                      IniApplyMode mode = IniApplyMode::kFromFile);

// Writes the configuration as an ini file that LoadIni reads back to the same configuration. Hidden
// values (secrets, URLs with a password: IsHiddenValue) are written as a comment that LoadIni reads
// as "keep the current value", unless `with_secrets` (moving a configuration to another device).
std::string WriteIni(const Configuration& config, bool with_secrets = false);

}  // namespace autoprov
