// libFuzzer target: any bytes through the CLI script interpreter, both script kinds, and the
// writer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/cli_script.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autoprov;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Configuration empty(Schema::BuiltIn());
  auto r = LoadCliScript(text, "fuzz.cli", empty, CliScriptKind::kIncremental);
  (void)LoadCliScript(text, "fuzz.cli", empty, CliScriptKind::kStartup);
  if (r.errors.empty()) {
    Configuration c = r.config;
    for (const auto& p : Schema::BuiltIn().params())
      if (p.value.secret) c.Reset(p);
    auto back = LoadCliScript(WriteCli(c), "again.cli", empty, CliScriptKind::kIncremental);
    if (!back.errors.empty() || !(back.config == c)) std::abort();
  }
  return 0;
}
