#pragma once
// Generated at build time from schema/autoupdate.json (see src/CMakeLists.txt).
namespace autoprov {
extern const char* const kBuiltinSchemaJson;
}
