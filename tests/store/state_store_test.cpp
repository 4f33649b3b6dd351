// SPEC S-7.6 and S-8 "nothing lost": the running configuration persists; state tables round-trip.
#include "store/state_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "config/schema.hpp"
#include "store/atomic_file.hpp"

namespace autoprov {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("autoprov-store-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(StateStoreTest, ConfigurationSurvivesReopen) {
  const Schema& schema = Schema::BuiltIn();
  Configuration c(schema);
  ASSERT_TRUE(c.Set("IniFileURL", "http://s/a.ini"));
  ASSERT_TRUE(c.Set("AUPDCheckIfIniChanged", "2"));
  {
    auto store = StateStore::Open(dir_ / "state.db", Durability::kFull);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(store->Transaction([&] { return store->SaveConfiguration(0, c); }));
  }
  auto store = StateStore::Open(dir_ / "state.db", Durability::kFull);
  ASSERT_TRUE(store);
  auto loaded = store->LoadConfiguration(0, schema);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, c);
  // Another device in the same database is independent.
  auto other = store->LoadConfiguration(7, schema);
  EXPECT_EQ(*other, Configuration(schema));
}

TEST_F(StateStoreTest, FailedTransactionChangesNothing) {
  const Schema& schema = Schema::BuiltIn();
  auto store = StateStore::Open(dir_ / "state.db", Durability::kFull);
  Configuration a(schema);
  ASSERT_TRUE(a.Set("IniFileURL", "http://s/a.ini"));
  ASSERT_TRUE(store->Transaction([&] { return store->SaveConfiguration(0, a); }));
  Configuration b(schema);
  ASSERT_TRUE(b.Set("CptFileURL", "http://s/b.dat"));
  auto r = store->Transaction([&]() -> Expected<void> {
    if (auto s = store->SaveConfiguration(0, b); !s) return s;
    if (auto s = store->PutUrlState(0, "http://s/a.ini", UrlState{"x", "y", 1, "z"}); !s) return s;
    return Fail(ErrorCode::kIo, "simulated failure after the writes");
  });
  EXPECT_FALSE(r);
  EXPECT_EQ(*store->LoadConfiguration(0, schema), a);
  EXPECT_FALSE(store->GetUrlState(0, "http://s/a.ini")->has_value());
}

TEST_F(StateStoreTest, UrlKindValuesAndRuns) {
  auto store = StateStore::Open(dir_ / "state.db", Durability::kRelaxed);
  ASSERT_TRUE(store->PutUrlState(3, "http://u", UrlState{"Mon, 01 Jan 2024 00:00:00 GMT", "\"abc\"", 42, "ff"}));
  auto u = store->GetUrlState(3, "http://u");
  ASSERT_TRUE(u && u->has_value());
  EXPECT_EQ((*u)->etag, "\"abc\"");
  EXPECT_EQ((*u)->downloaded_at, 42);
  ASSERT_TRUE(store->PutKindState(3, "ini", KindState{"1234", "", "", "", 0}));
  EXPECT_EQ((*store->GetKindState(3, "ini"))->crc, "1234");
  ASSERT_TRUE(store->PutValue(3, "running_version", "7.20A.252.011"));
  EXPECT_EQ(**store->GetValue(3, "running_version"), "7.20A.252.011");
  ASSERT_TRUE(store->DeleteValue(3, "running_version"));
  EXPECT_FALSE(store->GetValue(3, "running_version")->has_value());
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(store->AddRun(3, i, "{\"n\":" + std::to_string(i) + "}"));
  EXPECT_EQ(**store->LastRun(3), "{\"n\":59}");
}

TEST_F(StateStoreTest, NewerDatabaseVersionIsRefused) {
  {
    auto store = StateStore::Open(dir_ / "state.db", Durability::kFull);
    ASSERT_TRUE(store->db().Exec("PRAGMA user_version = 99"));
  }
  auto store = StateStore::Open(dir_ / "state.db", Durability::kFull);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos);
}

TEST_F(StateStoreTest, AtomicFileLeavesOldOrNew) {
  auto target = dir_ / "files" / "key.pem";
  ASSERT_TRUE(WriteFileAtomically(target, "old"));
  {
    auto f = AtomicFile::Create(target, 0600);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->Write("new-but-abandoned", 17));
    // destroyed without Commit
  }
  EXPECT_EQ(*ReadFile(target), "old");
  size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(target.parent_path())) (void)e, ++entries;
  EXPECT_EQ(entries, 1u) << "temporary file left behind";
  ASSERT_TRUE(WriteFileAtomically(target, "new", 0600));
  EXPECT_EQ(*ReadFile(target), "new");
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StateStoreTest, StaleTemporariesAreRemoved) {
  auto f = AtomicFile::Create(dir_ / "files" / "a.bin");
  ASSERT_TRUE(f);
  auto temp = f->temp_path();
  // Simulate a killed process: the descriptor is gone but the temporary stays.
  std::filesystem::copy_file(temp, dir_ / "files" / (".b.bin.autoprov-tmp-1-1"));
  RemoveStaleTemporaries(dir_ / "files");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "files" / ".b.bin.autoprov-tmp-1-1"));
}

TEST_F(StateStoreTest, ReadFileRefusesOversize) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "big", std::string(1000, 'x')));
  auto r = ReadFile(dir_ / "big", 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
}

}  // namespace
}  // namespace autoprov
