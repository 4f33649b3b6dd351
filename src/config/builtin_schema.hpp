#pragma once
// The built-in schema as tables, generated at build time from schema/autoupdate.json by
// src/config/gen/schema_to_cpp.py (see src/CMakeLists.txt). Fields as the file writes them; absent
// ones are 0, false, "" or an empty list. Lists end with a null entry.
#include <cstddef>

namespace autoprov {

struct BuiltinChoice {
  const char* cli_name;
  long long value;
};

struct BuiltinParam {
  const char* name;  // nullptr ends the table
  const char* type;
  long long min;
  long long max;
  std::size_t max_length;
  bool secret;
  const BuiltinChoice* values;
  const char* const* allowed;
  const char* default_value;
  const char* format;      // a string's syntax: "" or "backoff"
  const char* const* cli;  // modes, then the command
  bool restart;
  bool transient;
  bool lifeline;
  const char* description;
};

extern const BuiltinParam kBuiltinParams[];
extern const char* const kBuiltinSchemaJson;

}  // namespace autoprov
