// Fetches one URL N times with the transfer layer (streaming to disk, SHA-256 + CRC-32, fsync,
// rename) and prints each run's wall time, the median, and the process's peak RSS.
//   fetch_bench URL TARGET [RUNS] [file|discard]   (discard: hash only, no disk: shows the disk's
//   share)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "transfer/fetcher.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fetch_bench URL TARGET [RUNS]\n");
    return 2;
  }
  int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  bool discard = argc > 4 && std::string(argv[4]) == "discard";
  autoprov::Fetcher fetcher;
  std::vector<double> secs;
  unsigned long long bytes = 0;
  for (int i = 0; i < runs; ++i) {
    autoprov::FetchRequest req;
    req.url = argv[1];
    req.target = argv[2];
    if (discard) req.sink = autoprov::BodySink::kDiscard;
    req.limits.max_bytes = 64ull << 30;
    req.limits.max_time_s = 0;
    std::remove(argv[2]);  // as for curl -o: each run writes a new file, none is replaced
    auto t0 = std::chrono::steady_clock::now();
    auto r = fetcher.Fetch(req);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) {
      std::fprintf(stderr, "fetch failed: %s\n", r.error().message.c_str());
      return 1;
    }
    bytes = r->bytes;
    secs.push_back(s);
    std::printf("transfer layer run %d: %.3f s\n", i + 1, s);
  }
  std::sort(secs.begin(), secs.end());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("transfer layer: %llu bytes, median %.3f s (%.0f MiB/s), peak RSS %.1f MiB\n", bytes,
              secs[secs.size() / 2], bytes / 1048576.0 / secs[secs.size() / 2],
              ru.ru_maxrss / 1024.0);
  return 0;
}
