// S-3 streaming: a 1 GiB file from nginx goes to disk with a bounded memory footprint.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include "support/servers.hpp"
#include "transfer/fetcher.hpp"

namespace autoprov {
namespace {

using namespace testing;

long CurrentRssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

TEST(TransferLargeTest, OneGibStreamsToDiskWithBoundedMemory) {
  Nginx nginx;
  ASSERT_TRUE(nginx.ok());
  std::filesystem::create_directories(nginx.root() / "files");
  // Sparse: costs no disk on the server side.
  ASSERT_EQ(::truncate((nginx.root() / "files/image.cmp").c_str(), 0), -1);
  { std::ofstream(nginx.root() / "files/image.cmp"); }
  ASSERT_EQ(::truncate((nginx.root() / "files/image.cmp").c_str(), 1ll << 30), 0);
  auto out = MakeTempDir("large");
  Fetcher fetcher;
  long rss_before = CurrentRssKiB();
  long peak_rss = rss_before;
  FetchRequest req;
  req.url = nginx.Url("/files/image.cmp");
  req.target = out / "image.cmp";
  req.limits.max_bytes = 2ull << 30;
  req.progress = [&](uint64_t, uint64_t) {
    peak_rss = std::max(peak_rss, CurrentRssKiB());
    return true;
  };
  auto r = fetcher.Fetch(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bytes, 1ull << 30);
  EXPECT_EQ(std::filesystem::file_size(out / "image.cmp"), 1ull << 30);
  // SHA-256 of 2^30 zero bytes.
  EXPECT_EQ(r->sha256, "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14");
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(peak_rss - rss_before, 16 * 1024)
      << "RSS grew by " << (peak_rss - rss_before) << " KiB";
#endif
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace autoprov
