// S-10.4 without a server: the two places a resumable download keeps its bytes (on disk beside the
// target, in a simulated device's memory) behave alike through one interface, and the rules on
// validators and Content-Range are checked on their own.
#include "transfer/resume.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "common/atomic_file.hpp"
#include "common/digest.hpp"
#include "support/test_dir.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {
namespace {

const std::string kUrl = "http://127.0.0.1:8080/image.img";

TEST(ResumeRulesTest, AStrongValidatorAndAKnownSizeMakeADownloadResumable) {
  EXPECT_EQ(ResumeValidator("\"abc\"", "Mon, 01 Jan 2024 00:00:00 GMT", 10), "\"abc\"");
  EXPECT_EQ(ResumeValidator("W/\"abc\"", "Mon, 01 Jan 2024 00:00:00 GMT", 10),
            "Mon, 01 Jan 2024 00:00:00 GMT")
      << "a weak ETag cannot name byte ranges";
  EXPECT_EQ(ResumeValidator("\"abc\"", "", 0), "") << "no size, no resume";
  EXPECT_EQ(ResumeValidator("", "", 10), "");
}

TEST(ResumeRulesTest, A206MustContinueTheKeptBytesOfTheSameFile) {
  KeptPart kept{kUrl, "\"v1\"", 1000, 400};
  EXPECT_TRUE(RangeContinues("bytes 400-999/1000", kept));
  auto other_start = RangeContinues("bytes 0-999/1000", kept);
  ASSERT_FALSE(other_start);
  EXPECT_EQ(other_start.error().code, ErrorCode::kTruncated);
  EXPECT_NE(other_start.error().message.find("'bytes 0-999/1000', not the kept 400 of 1000"),
            std::string::npos)
      << other_start.error().message;
  EXPECT_FALSE(RangeContinues("bytes 400-1999/2000", kept)) << "another file's size";
  EXPECT_FALSE(RangeContinues("", kept)) << "no Content-Range";
  EXPECT_FALSE(RangeContinues("garbage", kept));
}

// The same story told to both stores: a download cut half-way, resumed by a new store (a new
// process for the file store), completed with the whole file's hash.
struct StoreCase {
  const char* name;
  std::function<std::unique_ptr<ResumeStore>(const std::filesystem::path& dir, ResumePoint& p)>
      make;
};

void PrintTo(const StoreCase& c, std::ostream* os) { *os << c.name; }

class ResumeStoreTest : public ::testing::TestWithParam<StoreCase> {
 protected:
  std::unique_ptr<ResumeStore> Make() { return GetParam().make(dir_.path(), point_); }
  test_support::TestDir dir_{"resume"};
  ResumePoint point_;
};

TEST_P(ResumeStoreTest, ACutDownloadIsContinuedAndHashedWhole) {
  const std::string body = std::string(3000, 'a') + std::string(3000, 'b');
  KeptPart fresh{kUrl, "\"v1\"", body.size(), 0};
  {
    auto s = Make();
    EXPECT_FALSE(s->Load(kUrl)) << "nothing kept yet";
    ASSERT_TRUE(s->Open(false, fresh));
    ASSERT_TRUE(s->Write(body.data(), 2500));
    s->Keep();  // the connection was cut
  }
  auto s = Make();
  auto kept = s->Load(kUrl);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->kept, 2500u);
  EXPECT_EQ(kept->total, body.size());
  EXPECT_EQ(kept->validator, "\"v1\"");
  ASSERT_TRUE(s->Open(true, fresh));
  ASSERT_TRUE(s->Write(body.data() + 2500, body.size() - 2500));
  auto sha = s->Complete();
  ASSERT_TRUE(sha);
  EXPECT_EQ(*sha, Sha256Hex(body));
  EXPECT_FALSE(Make()->Load(kUrl)) << "a complete file leaves nothing kept";
}

TEST_P(ResumeStoreTest, AnotherUrlsPartIsDropped) {
  auto s = Make();
  ASSERT_TRUE(s->Open(false, {kUrl, "\"v1\"", 100, 0}));
  ASSERT_TRUE(s->Write(std::string(40, 'x').data(), 40));
  s->Keep();
  EXPECT_FALSE(Make()->Load(kUrl + "?v=2")) << "the URL changed";
  EXPECT_FALSE(Make()->Load(kUrl)) << "and the part is gone, not only ignored";
}

TEST_P(ResumeStoreTest, WithoutAValidatorNothingIsKept) {
  auto s = Make();
  ASSERT_TRUE(s->Open(false, {kUrl, "", 100, 0}));
  ASSERT_TRUE(s->Write(std::string(40, 'x').data(), 40));
  s->Keep();
  EXPECT_FALSE(Make()->Load(kUrl));
}

TEST_P(ResumeStoreTest, ForgetDropsTheKeptPart) {
  auto s = Make();
  ASSERT_TRUE(s->Open(false, {kUrl, "\"v1\"", 100, 0}));
  ASSERT_TRUE(s->Write(std::string(40, 'x').data(), 40));
  s->Keep();
  Make()->Forget();  // a 304 or a 416
  EXPECT_FALSE(Make()->Load(kUrl));
}

TEST_P(ResumeStoreTest, AnEmptyFileCompletes) {
  auto s = Make();
  EXPECT_FALSE(s->Load(kUrl));
  auto sha = s->Complete();
  ASSERT_TRUE(sha);
  EXPECT_EQ(*sha, Sha256Hex(""));
}

INSTANTIATE_TEST_SUITE_P(
    BothStores, ResumeStoreTest,
    ::testing::Values(StoreCase{"OnDisk",
                                [](const std::filesystem::path& dir, ResumePoint&) {
                                  return std::unique_ptr<ResumeStore>(
                                      std::make_unique<FileResume>(dir / "image.img"));
                                }},
                      StoreCase{"InMemory",
                                [](const std::filesystem::path&, ResumePoint& p) {
                                  return std::unique_ptr<ResumeStore>(
                                      std::make_unique<MemoryResume>(p));
                                }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FileResumeTest, TheCompleteFileIsRenamedIntoPlaceAndNoRecordStays) {
  test_support::TestDir dir("resume-file");
  auto target = dir.path() / "image.img";
  FileResume s(target);
  ASSERT_TRUE(s.Open(false, {kUrl, "\"v1\"", 6, 0}));
  ASSERT_TRUE(s.Write("abcdef", 6));
  ASSERT_TRUE(s.Complete());
  EXPECT_EQ(*ReadFile(target), "abcdef");
  EXPECT_FALSE(std::filesystem::exists(AtomicFile::PartialPath(target)));
  EXPECT_FALSE(std::filesystem::exists(ResumeRecordPath(target)));
  EXPECT_FALSE(std::filesystem::exists(ResumeOffsetPath(target)));
}

TEST(FileResumeTest, APartialFileShorterThanItsRecordIsNotTrusted) {
  // A kill between the record and the bytes, or a partial file cut by hand: nothing is resumed.
  test_support::TestDir dir("resume-short");
  auto target = dir.path() / "image.img";
  {
    FileResume s(target);
    ASSERT_TRUE(s.Open(false, {kUrl, "\"v1\"", 100, 0}));
    ASSERT_TRUE(s.Write(std::string(50, 'x').data(), 50));
    s.Keep();
  }
  std::filesystem::resize_file(AtomicFile::PartialPath(target), 10);
  FileResume s(target);
  EXPECT_FALSE(s.Load(kUrl));
  EXPECT_FALSE(std::filesystem::exists(ResumeRecordPath(target)));
}

TEST(MemoryResumeTest, APartThatGrewAfterItsBodyWasDroppedIsNotContinued) {
  // A body dropped (a redirect) after some bytes: a 206 for the offset first offered would skip
  // what was counted since; it is refused and the point cleared.
  ResumePoint p;
  {
    MemoryResume s(p);
    ASSERT_TRUE(s.Open(false, {kUrl, "\"v1\"", 100, 0}));
    ASSERT_TRUE(s.Write(std::string(40, 'x').data(), 40));
  }
  MemoryResume s(p);
  ASSERT_TRUE(s.Load(kUrl));
  ASSERT_TRUE(s.Open(true, {}));
  ASSERT_TRUE(s.Write("y", 1));
  s.Close();
  auto again = s.Open(true, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "the kept part changed during the transfer");
  EXPECT_FALSE(MemoryResume(p).Load(kUrl));
}

}  // namespace
}  // namespace autoprov
