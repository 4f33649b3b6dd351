// Benchmark: parse + validate + apply a generated ini file of N lines (scalars and a large table),
// then persist it to SQLite. Prints wall time per phase and the process's peak RSS.
//   build/release/bench/ini_bench [lines=100000] [repeat=5]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "config/ini.hpp"
#include "store/state_store.hpp"

using namespace autoprov;
using Clock = std::chrono::steady_clock;

static double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

int main(int argc, char** argv) {
  size_t lines = argc > 1 ? std::stoul(argv[1]) : 100000;
  int repeat = argc > 2 ? std::stoi(argv[2]) : 5;
  const size_t scalars = 5000;

  // A schema with `scalars` parameters of mixed types and a three-column table.
  std::string schema_json = R"({"parameters":[)";
  for (size_t i = 0; i < scalars; ++i) {
    if (i) schema_json += ",";
    switch (i % 3) {
      case 0:
        schema_json += R"({"name":"BenchInt)" + std::to_string(i) +
                       R"(","type":"integer","min":0,"max":100000})";
        break;
      case 1:
        schema_json +=
            R"({"name":"BenchStr)" + std::to_string(i) + R"(","type":"string","max_length":64})";
        break;
      default:
        schema_json += R"({"name":"BenchEnum)" + std::to_string(i) +
                       R"(","type":"enum","values":{"off":0,"on":1}})";
    }
  }
  schema_json += R"(],"tables":[{"name":"BenchRoute","index":["Index"],"columns":[
    {"name":"Prefix","type":"string","max_length":50},
    {"name":"Dest","type":"string","max_length":99},
    {"name":"Weight","type":"integer","min":0,"max":1000}]}]})";
  Schema schema = Schema::BuiltIn();
  auto extra = Schema::FromJson(schema_json, "bench");
  if (!extra || !schema.Merge(*extra)) return 1;

  std::string text = ";generated benchmark file\n[SYSTEM Params]\n";
  for (size_t i = 0; i < scalars; ++i) {
    switch (i % 3) {
      case 0:
        text += "BenchInt" + std::to_string(i) + " = " + std::to_string(i * 7 % 100000) + "\n";
        break;
      case 1:
        text += "BenchStr" + std::to_string(i) + " = 'value-" + std::to_string(i) + "'\n";
        break;
      default:
        text += "BenchEnum" + std::to_string(i) + " = 1\n";
    }
  }
  size_t rows = lines > scalars + 5 ? lines - scalars - 5 : 1;
  text +=
      "[ BenchRoute ]\nFORMAT BenchRoute_Index = BenchRoute_Prefix, BenchRoute_Dest, "
      "BenchRoute_Weight;\n";
  for (size_t i = 0; i < rows; ++i)
    text += "BenchRoute " + std::to_string(i) + " = \"+" + std::to_string(4900000 + i) +
            "\", \"sip" + std::to_string(i % 50) + ".example.com;transport=tls\", " +
            std::to_string(i % 1000) + ";\n";
  text += "[ \\BenchRoute ]\n";
  size_t total_lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));

  auto dir =
      std::filesystem::temp_directory_path() / ("autoprov-ini-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<double> load_ms, save_ms;
  for (int r = 0; r < repeat; ++r) {
    Configuration current(schema);
    auto t0 = Clock::now();
    IniLoadResult result = LoadIni(text, "bench.ini", current);
    auto t1 = Clock::now();
    if (!result.errors.empty()) {
      std::fprintf(stderr, "unexpected error: %s\n", result.errors[0].ToString().c_str());
      return 1;
    }
    if (r == 0) {
      rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      std::printf("  peak RSS after the first parse+validate+apply: %.1f MiB\n",
                  ru.ru_maxrss / 1024.0);
    }
    auto store = StateStore::Open(dir / "state.db", Durability::kFull);
    if (!store) return 1;
    auto t2 = Clock::now();
    if (!store->Transaction([&] { return store->SaveConfiguration(0, result.config); })) return 1;
    auto t3 = Clock::now();
    load_ms.push_back(Ms(t1 - t0));
    save_ms.push_back(Ms(t3 - t2));
  }
  std::filesystem::remove_all(dir);
  std::sort(load_ms.begin(), load_ms.end());
  std::sort(save_ms.begin(), save_ms.end());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("ini_bench: %zu lines (%zu bytes), %d runs\n", total_lines, text.size(), repeat);
  std::printf("  parse+validate+apply: median %.1f ms (min %.1f, max %.1f)\n",
              load_ms[load_ms.size() / 2], load_ms.front(), load_ms.back());
  std::printf("  persist to SQLite (one transaction, synchronous=FULL): median %.1f ms\n",
              save_ms[save_ms.size() / 2]);
  std::printf("  peak RSS: %.1f MiB (includes the %.1f MiB input text)\n", ru.ru_maxrss / 1024.0,
              text.size() / 1048576.0);
  return 0;
}
