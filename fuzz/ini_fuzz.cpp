// libFuzzer target: any bytes through the ini parser, validation and writer must neither crash nor
// make a configuration that does not load back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/ini.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autoprov;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Configuration empty(Schema::BuiltIn());
  auto r = LoadIni(text, "fuzz.ini", empty);
  if (r.errors.empty()) {
    // Secrets are written as comments, so compare without them.
    Configuration c = r.config;
    for (const auto& p : Schema::BuiltIn().params())
      if (p.value.secret) c.Reset(p);
    // Loaded onto the empty configuration incrementally: the same as replace mode there, and a
    // configuration with every parameter at its default writes a file with no setting, which
    // replace mode rejects (S-9.2).
    auto back = LoadIni(WriteIni(c), "again.ini", empty, IniApplyMode::kIncremental);
    if (!back.errors.empty() || !(back.config == c)) std::abort();
  }
  return 0;
}
