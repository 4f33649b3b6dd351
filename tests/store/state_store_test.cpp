// SPEC S-7.6 and S-8 "nothing lost": the running configuration persists; state tables round-trip.
#include "store/state_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/atomic_file.hpp"
#include "config/schema.hpp"
#include "support/test_dir.hpp"

namespace autoprov {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test_support::FreshDir("store"); }
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
    if (auto s = store->PutUrlState(0, "http://s/a.ini", UrlState{"x", "y", 1, "z", "ini", ""}); !s)
      return s;
    return Fail(ErrorCode::kIo, "simulated failure after the writes");
  });
  EXPECT_FALSE(r);
  EXPECT_EQ(*store->LoadConfiguration(0, schema), a);
  EXPECT_FALSE(store->GetUrlState(0, "http://s/a.ini")->has_value());
}

TEST_F(StateStoreTest, UrlKindValuesAndRuns) {
  auto store = StateStore::Open(dir_ / "state.db", Durability::kRelaxed);
  ASSERT_TRUE(store->PutUrlState(
      3, "http://u", UrlState{"Mon, 01 Jan 2024 00:00:00 GMT", "\"abc\"", 42, "ff", "ini", ""}));
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
  for (int i = 0; i < 60; ++i)
    ASSERT_TRUE(store->AddRun(3, i, "{\"n\":" + std::to_string(i) + "}"));
  EXPECT_EQ(**store->LastRun(3), "{\"n\":59}");
}

// A device runs one short process per command; the WAL stays between them, and the first connection
// of each process reads every frame in it. Without a bound it only grew (a process cannot restart a
// WAL it has just recovered): after 300 processes that each add a run report, it stays under 64
// frames plus one process's writes, and every report is still there.
TEST_F(StateStoreTest, TheWalLeftBetweenProcessesStaysSmall) {
  const std::string report(6000, 'r');  // a report with overflow pages, as a real one has
  auto wal = dir_ / "state.db-wal";
  uintmax_t largest = 0;
  for (int i = 0; i < 300; ++i) {
    {  // one process
      auto store = StateStore::Open(dir_ / "state.db", Durability::kFull);
      ASSERT_TRUE(store) << store.error().message;
      ASSERT_TRUE(store->AddRun(0, i, report + std::to_string(i)));
    }
    if (std::filesystem::exists(wal)) largest = std::max(largest, std::filesystem::file_size(wal));
  }
  EXPECT_LE(largest, (64u + 16u) * (4096u + 24u) + 32u);
  auto store = StateStore::Open(dir_ / "state.db", Durability::kFull);
  EXPECT_EQ(**store->LastRun(0), report + "299");
}

// The fleet's read cache (one writer per database): reads give what the database holds, preloaded
// or not, writes go to both, and a rolled-back transaction leaves nothing of it in the cache.
TEST_F(StateStoreTest, ReadCacheAgreesWithTheDatabase) {
  const Schema& schema = Schema::BuiltIn();
  Configuration c(schema);
  ASSERT_TRUE(c.Set("IniFileURL", "http://s/<MAC>.ini"));
  {
    auto plain = StateStore::Open(dir_ / "state.db", Durability::kRelaxed);
    ASSERT_TRUE(plain);
    for (long long d = 0; d < 4; ++d) {
      ASSERT_TRUE(plain->SaveConfiguration(d, c));
      ASSERT_TRUE(
          plain->PutUrlState(d, "http://s/a",
                             UrlState{"Mon, 01 Jan 2024 00:00:00 GMT",
                                      "\"e" + std::to_string(d) + "\"", 7, "ab", "ini", ""}));
      ASSERT_TRUE(plain->PutValue(d, "running_version", "1." + std::to_string(d)));
    }
  }
  {
    auto store = StateStore::Open(dir_ / "state.db", Durability::kRelaxed);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->PreloadCache(1, 3, schema));
    for (long long d = 0; d < 4; ++d) {  // 1 and 2 cached, 0 and 3 read from the database
      auto config = store->LoadConfiguration(d, schema);
      ASSERT_TRUE(config);
      EXPECT_EQ(*config, c);
      auto u = store->GetUrlState(d, "http://s/a");
      ASSERT_TRUE(u && u->has_value());
      EXPECT_EQ((*u)->etag, "\"e" + std::to_string(d) + "\"");
      EXPECT_EQ((*u)->downloaded_at, 7);
      auto none = store->GetUrlState(d, "http://s/other");
      ASSERT_TRUE(none);
      EXPECT_FALSE(none->has_value());
      auto v = store->GetValue(d, "running_version");
      ASSERT_TRUE(v && v->has_value());
      EXPECT_EQ(**v, "1." + std::to_string(d));
      EXPECT_FALSE(store->GetValue(d, "pending_image_version")->has_value());
    }
    // A write is read back; a rolled-back one is not, from the cache or the database.
    ASSERT_TRUE(store->PutValue(1, "pending_image_version", "2.0"));
    EXPECT_EQ(**store->GetValue(1, "pending_image_version"), "2.0");
    Configuration changed = c;
    ASSERT_TRUE(changed.Set("IniFileURL", "http://other/x.ini"));
    auto failed = store->Transaction([&]() -> Expected<void> {
      if (auto r = store->SaveConfiguration(2, changed); !r) return r;
      if (auto r = store->PutUrlState(2, "http://s/a", UrlState{"", "\"new\"", 9, "", "ini", ""});
          !r)
        return r;
      if (auto r = store->DeleteValue(2, "running_version"); !r) return r;
      return Fail(ErrorCode::kValidation, "the step fails after its writes");
    });
    ASSERT_FALSE(failed);
    EXPECT_EQ(*store->LoadConfiguration(2, schema), c);
    EXPECT_EQ((*store->GetUrlState(2, "http://s/a"))->etag, "\"e2\"");
    EXPECT_EQ(**store->GetValue(2, "running_version"), "1.2");
    EXPECT_EQ(**store->GetValue(1, "pending_image_version"), "2.0");
    // --power-loss: Discard undoes every write of its body, in the database and in the cache;
    // the writes of another device before it stay.
    ASSERT_TRUE(store->Discard([&] {
      ASSERT_TRUE(store->SaveConfiguration(1, changed));
      ASSERT_TRUE(store->PutUrlState(1, "http://s/b", UrlState{"", "\"b\"", 9, "", "cpt", ""}));
      ASSERT_TRUE(store->PutValue(1, "pending_image_version", "3.0"));
      EXPECT_EQ(**store->GetValue(1, "pending_image_version"), "3.0");
    }));
    EXPECT_EQ(*store->LoadConfiguration(1, schema), c);
    EXPECT_FALSE(store->GetUrlState(1, "http://s/b")->has_value());
    EXPECT_EQ(**store->GetValue(1, "pending_image_version"), "2.0");
    // An entry loaded again inside a transaction that then rolls back holds nothing of it: device
    // 1's entry is dropped (a discarded write), then a transaction writes, reads (loading the entry
    // with its own write) and fails.
    ASSERT_TRUE(store->Discard([&] { ASSERT_TRUE(store->PutValue(1, "x", "y")); }));
    auto rolled = store->Transaction([&]() -> Expected<void> {
      if (auto r = store->PutValue(1, "pending_image_version", "4.0"); !r) return r;
      EXPECT_EQ(**store->GetValue(1, "pending_image_version"), "4.0");
      return Fail(ErrorCode::kValidation, "the step fails after its write");
    });
    ASSERT_FALSE(rolled);
    EXPECT_EQ(**store->GetValue(1, "pending_image_version"), "2.0");
    // Any time survives the cache's compact form, before 1970 and after 2106 too.
    for (long long t : {-5LL, 1LL << 40, 1700000000LL}) {
      ASSERT_TRUE(store->PutUrlState(2, "http://s/t", UrlState{"", "", t, "", "ini", ""}));
      EXPECT_EQ((*store->GetUrlState(2, "http://s/t"))->downloaded_at, t);
    }
    // A value longer than the pool's chunks gets a chunk of its own; the small ones go on around
    // it.
    std::string big(300000, 'x');
    ASSERT_TRUE(store->PutValue(2, "big", big));
    ASSERT_TRUE(store->PutValue(2, "small", "after the big one"));
    EXPECT_EQ(**store->GetValue(2, "big"), big);
    EXPECT_EQ(**store->GetValue(2, "small"), "after the big one");
    // Strings shared by devices are kept once: a thousand equal URLs cost one string.
    auto before = store->CacheUsage();
    for (int i = 0; i < 1000; ++i)
      ASSERT_TRUE(store->PutValue(2, "k" + std::to_string(i % 2), "v"));
    EXPECT_EQ(store->CacheUsage().pool_strings, before.pool_strings + 3) << "k0, k1 and v once";
  }
  // What the cache served is what a fresh reader of the database sees (the fleet's lock is
  // exclusive).
  auto fresh = StateStore::Open(dir_ / "state.db", Durability::kRelaxed);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(**fresh->GetValue(1, "pending_image_version"), "2.0");
  EXPECT_EQ(*fresh->LoadConfiguration(2, schema), c);
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
