// The transfer layer against real servers (SPEC S-3): nginx, a misbehaving server, tftpd-hpa,
// vsftpd.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <utime.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/digest.hpp"
#include "common/log.hpp"
#include "support/servers.hpp"
#include "transfer/fetcher.hpp"

namespace autoprov {
namespace {

using namespace testing;

class TransferTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nginx_ = new Nginx();
    hostile_ = new HostileServer();
    WriteText(nginx_->root() / "files/a.txt", "alpha file\n");
    WriteText(nginx_->root() / "files/b.txt", std::string(1024, 'b'));
  }
  static void TearDownTestSuite() {
    delete nginx_;
    delete hostile_;
  }
  void SetUp() override {
    ASSERT_TRUE(nginx_->ok()) << nginx_->ErrorLog();
    ASSERT_TRUE(hostile_->ok());
    dir_ = MakeTempDir("transfer");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  FetchRequest Request(const std::string& url, const std::string& name = "out.bin") {
    FetchRequest r;
    r.url = url;
    r.target = dir_ / name;
    r.user_agent = "autoprov-test/1 (00908F000001)";
    r.tls.ca_file = TestPki::Get().ca_cert.string();
    r.limits.connect_timeout_s = 5;
    r.limits.max_time_s = 60;
    return r;
  }
  // Files in dir_ other than `keep`: temporaries must never remain.
  size_t OtherFiles(const std::string& keep = "") {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir_))
      if (e.path().filename() != keep) ++n;
    return n;
  }

  static Nginx* nginx_;
  static HostileServer* hostile_;
  std::filesystem::path dir_;
  Fetcher fetcher_;
};

Nginx* TransferTest::nginx_ = nullptr;
HostileServer* TransferTest::hostile_ = nullptr;

TEST_F(TransferTest, DownloadsStreamsHashesAndRenames) {
  auto req = Request(nginx_->Url("/files/a.txt"), "a.txt");
  req.compute_crc32 = true;
  auto r = fetcher_.Fetch(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->outcome, FetchOutcome::kDownloaded);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->bytes, 11u);
  EXPECT_EQ(r->sha256, Sha256Hex("alpha file\n"));
  EXPECT_EQ(r->crc32, Crc32Of("alpha file\n"));
  EXPECT_FALSE(r->validators.last_modified.empty());
  EXPECT_FALSE(r->validators.etag.empty());
  EXPECT_EQ(ReadText(dir_ / "a.txt"), "alpha file\n");
  EXPECT_EQ(OtherFiles("a.txt"), 0u);
}

// S-3.1: the server itself answers 304 (nginx, default if_modified_since exact), nothing is
// downloaded.
TEST_F(TransferTest, ConditionalGetAnsweredNotModifiedThenChangedFile) {
  WriteText(nginx_->root() / "files/cond.ini", "IniFileURL = 'x'\n");
  auto first = fetcher_.Fetch(Request(nginx_->Url("/files/cond.ini"), "cond.ini"));
  ASSERT_TRUE(first);
  WriteText(dir_ / "cond.ini", "kept by the device\n");
  auto req = Request(nginx_->Url("/files/cond.ini"), "cond.ini");
  req.condition = first->validators;
  auto second = fetcher_.Fetch(req);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->outcome, FetchOutcome::kNotModified);
  EXPECT_EQ(second->status, 304);
  EXPECT_EQ(second->bytes, 0u);
  EXPECT_EQ(ReadText(dir_ / "cond.ini"), "kept by the device\n");
  EXPECT_EQ(OtherFiles("cond.ini"), 0u);

  // Last-Modified alone is enough for nginx.
  req.condition = Validators{first->validators.last_modified, ""};
  auto third = fetcher_.Fetch(req);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->outcome, FetchOutcome::kNotModified);

  // The file changes (new content, later mtime): the same condition now gets a 200.
  WriteText(nginx_->root() / "files/cond.ini", "IniFileURL = 'y'\n");
  struct utimbuf later {
    time(nullptr) + 5, time(nullptr) + 5
  };
  ::utime((nginx_->root() / "files/cond.ini").c_str(), &later);
  req.condition = first->validators;
  auto fourth = fetcher_.Fetch(req);
  ASSERT_TRUE(fourth);
  EXPECT_EQ(fourth->outcome, FetchOutcome::kDownloaded);
  EXPECT_EQ(ReadText(dir_ / "cond.ini"), "IniFileURL = 'y'\n");

  auto log = nginx_->Requests("/files/cond.ini");
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[0].if_modified_since, "");
  EXPECT_EQ(log[1].status, 304);
  EXPECT_EQ(log[1].if_modified_since, first->validators.last_modified);
  EXPECT_EQ(log[1].if_none_match, first->validators.etag);
  EXPECT_EQ(log[1].bytes, 0);
  EXPECT_EQ(log[2].status, 304);
  EXPECT_EQ(log[3].status, 200);
  EXPECT_EQ(log[0].user_agent, "autoprov-test/1 (00908F000001)");
}

TEST_F(TransferTest, UnconditionalRequestCarriesNoCondition) {
  auto r = fetcher_.Fetch(Request(nginx_->Url("/files/b.txt")));
  ASSERT_TRUE(r);
  auto log = nginx_->Requests("/files/b.txt");
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().if_modified_since, "");
  EXPECT_EQ(log.back().if_none_match, "");
}

TEST_F(TransferTest, ConsecutiveFetchesReuseTheConnection) {
  ASSERT_TRUE(fetcher_.Fetch(Request(nginx_->Url("/files/a.txt?reuse1"))));
  ASSERT_TRUE(fetcher_.Fetch(Request(nginx_->Url("/files/b.txt?reuse2"))));
  auto a = nginx_->Requests("/files/a.txt?reuse1");
  auto b = nginx_->Requests("/files/b.txt?reuse2");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].connection, b[0].connection);
}

TEST_F(TransferTest, FollowsEachRedirectKind) {
  for (const char* code : {"301", "302", "303", "307", "308"}) {
    auto r = fetcher_.Fetch(Request(nginx_->Url(std::string("/r/") + code)));
    ASSERT_TRUE(r) << code << ": " << r.error().message;
    EXPECT_EQ(r->redirects, 1) << code;
    EXPECT_EQ(r->final_url, nginx_->Url("/files/a.txt")) << code;
    EXPECT_EQ(ReadText(dir_ / "out.bin"), "alpha file\n");
  }
  auto chain = fetcher_.Fetch(Request(nginx_->Url("/r/chain1")));
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->redirects, 3);
}

TEST_F(TransferTest, RedirectLimitsAndRefusals) {
  auto loop = fetcher_.Fetch(Request(nginx_->Url("/r/loop")));
  ASSERT_FALSE(loop);
  EXPECT_NE(loop.error().message.find("too many redirects (limit 5)"), std::string::npos);
  EXPECT_EQ(nginx_->Requests("/r/loop").size(), 6u);

  auto to_file = fetcher_.Fetch(Request(nginx_->Url("/r/tofile")));
  ASSERT_FALSE(to_file);
  EXPECT_EQ(to_file.error().code, ErrorCode::kRefusedScheme);
  auto to_ftp = fetcher_.Fetch(Request(nginx_->Url("/r/toftp")));
  ASSERT_FALSE(to_ftp);
  EXPECT_EQ(to_ftp.error().code, ErrorCode::kRefusedScheme);

  auto downgrade = fetcher_.Fetch(Request(nginx_->TlsUrl("/r/tohttp")));
  ASSERT_FALSE(downgrade);
  EXPECT_EQ(downgrade.error().code, ErrorCode::kRefusedScheme);
  EXPECT_NE(downgrade.error().message.find("downgrade"), std::string::npos);

  auto upgrade = fetcher_.Fetch(Request(nginx_->Url("/r/tohttps")));
  ASSERT_TRUE(upgrade) << upgrade.error().message;
  EXPECT_EQ(upgrade->final_url, nginx_->TlsUrl("/files/a.txt"));
  EXPECT_EQ(OtherFiles("out.bin"), 0u);
}

TEST_F(TransferTest, BasicAuthFromUrlOrSeparateCredentials) {
  std::string url =
      "http://joe:s3cret@127.0.0.1:" + std::to_string(nginx_->port()) + "/basic/a.txt";
  auto in_url = fetcher_.Fetch(Request(url));
  ASSERT_TRUE(in_url) << in_url.error().message;
  auto req = Request(nginx_->Url("/basic/a.txt"));
  req.username = "joe";
  req.password = "s3cret";
  ASSERT_TRUE(fetcher_.Fetch(req));
  auto none = fetcher_.Fetch(Request(nginx_->Url("/basic/a.txt")));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kAuth);
  EXPECT_EQ(none.error().stats.http_status, 401);
}

TEST_F(TransferTest, CredentialsNeverLeakIntoErrorsOrLogs) {
  std::vector<std::string> lines;
  std::mutex m;
  SetLogLevel(LogLevel::kDebug);
  SetLogSink([&](LogLevel, std::string_view s, const LogContext&) {
    std::lock_guard l(m);
    lines.emplace_back(s);
  });
  const std::string secret = "Pa55-w0rd-XYZ";
  std::vector<std::string> messages;
  for (const std::string path : {"/basic/a.txt", "/files/missing.txt", "/r/loop", "/r/tofile"}) {
    auto r = fetcher_.Fetch(
        Request("http://joe:" + secret + "@127.0.0.1:" + std::to_string(nginx_->port()) + path));
    ASSERT_FALSE(r) << path;
    messages.push_back(r.error().message);
  }
  auto bad_host = fetcher_.Fetch(Request("http://joe:" + secret + "@127.0.0.1:1/x"));
  ASSERT_FALSE(bad_host);
  messages.push_back(bad_host.error().message);
  auto bad_scheme = fetcher_.Fetch(Request("gopher://joe:" + secret + "@127.0.0.1/x"));
  ASSERT_FALSE(bad_scheme);
  messages.push_back(bad_scheme.error().message);
  SetLogSink(nullptr);
  SetLogLevel(LogLevel::kWarning);
  for (const auto& msg : messages) {
    EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
    EXPECT_NE(msg.find("127.0.0.1"), std::string::npos) << msg;  // but the URL is named
  }
  for (const auto& l : lines) EXPECT_EQ(l.find(secret), std::string::npos) << l;
}

TEST_F(TransferTest, CredentialsStayWithTheirHost) {
  auto req = Request(nginx_->Url("/basic/r-otherhost"));
  req.username = "joe";
  req.password = "s3cret";
  auto r = fetcher_.Fetch(req);
  ASSERT_TRUE(r) << r.error().message;
  auto echo = nginx_->Requests("/echo/a.txt");
  ASSERT_EQ(echo.size(), 1u);
  EXPECT_EQ(echo[0].authorization, "") << "credentials were sent to another host";
  // A redirect on the same host keeps them.
  auto same = fetcher_.Fetch([&] {
    auto q = Request(nginx_->Url("/basic/r-samehost"));
    q.username = "joe";
    q.password = "s3cret";
    return q;
  }());
  ASSERT_TRUE(same) << same.error().message;
}

TEST_F(TransferTest, DigestAuth) {
  auto req = Request(hostile_->Url("/digest/file.ini"));
  req.username = "joe";
  req.password = "s3cret";
  auto r = fetcher_.Fetch(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(ReadText(dir_ / "out.bin"), "digest-ok\n");
  req.password = "wrong";
  auto bad = fetcher_.Fetch(req);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kAuth);
  bool saw_digest = false;
  for (const auto& l : hostile_->Log())
    saw_digest |= l.find("Digest username=\"joe\"") != std::string::npos;
  EXPECT_TRUE(saw_digest);
}

TEST_F(TransferTest, HttpsVerifiesAgainstTrustAnchors) {
  auto ok = fetcher_.Fetch(Request(nginx_->TlsUrl("/files/a.txt")));
  ASSERT_TRUE(ok) << ok.error().message;
  auto system_store = Request(nginx_->TlsUrl("/files/a.txt"));
  system_store.tls.ca_file.clear();
  auto untrusted = fetcher_.Fetch(system_store);
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code, ErrorCode::kTls);
  auto other_ca = Request(nginx_->TlsUrl("/files/a.txt"));
  other_ca.tls.ca_file = (TestPki::Get().dir / "other-ca.pem").string();
  EXPECT_FALSE(fetcher_.Fetch(other_ca));
  auto wrong_host = fetcher_.Fetch(
      Request("https://127.0.0.1:" + std::to_string(nginx_->wrong_host_port()) + "/files/a.txt"));
  ASSERT_FALSE(wrong_host);
  EXPECT_EQ(wrong_host.error().code, ErrorCode::kTls);
  EXPECT_EQ(OtherFiles(), 1u);  // out.bin from the first fetch only
}

TEST_F(TransferTest, VerificationOffIsExplicitAndWarns) {
  std::vector<std::string> warnings;
  SetLogSink([&](LogLevel level, std::string_view s, const LogContext&) {
    if (level == LogLevel::kWarning) warnings.emplace_back(s);
  });
  auto req =
      Request("https://127.0.0.1:" + std::to_string(nginx_->wrong_host_port()) + "/files/a.txt");
  req.tls.verify = false;
  auto r = fetcher_.Fetch(req);
  SetLogSink(nullptr);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("verification is OFF"), std::string::npos);
}

TEST_F(TransferTest, MutualTls) {
  std::string url = "https://127.0.0.1:" + std::to_string(nginx_->mtls_port()) + "/files/a.txt";
  auto without = fetcher_.Fetch(Request(url));
  ASSERT_FALSE(without);
  EXPECT_EQ(without.error().stats.http_status,
            400);  // nginx: "No required SSL certificate was sent"
  auto req = Request(url);
  req.tls.client_cert = TestPki::Get().client_cert.string();
  req.tls.client_key = TestPki::Get().client_key.string();
  auto with = fetcher_.Fetch(req);
  ASSERT_TRUE(with) << with.error().message;
  EXPECT_EQ(ReadText(dir_ / "out.bin"), "alpha file\n");
}

TEST_F(TransferTest, HttpErrorsLeaveTheTargetUntouched) {
  WriteText(dir_ / "out.bin", "previous\n");
  auto missing = fetcher_.Fetch(Request(nginx_->Url("/files/none.txt")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kHttpStatus);
  EXPECT_EQ(missing.error().stats.http_status, 404);
  EXPECT_NE(missing.error().message.find("HTTP 404"), std::string::npos);
  auto err = fetcher_.Fetch(Request(nginx_->Url("/status/500")));
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().stats.http_status, 500);
  // S-10.4: a 206 to a request without Range is a part of the file, never the file.
  auto part = fetcher_.Fetch(Request(nginx_->Url("/status/206")));
  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().stats.http_status, 206);
  auto in_memory = Request(nginx_->Url("/status/206"));
  in_memory.sink = BodySink::kMemory;
  EXPECT_FALSE(fetcher_.Fetch(in_memory));
  EXPECT_EQ(ReadText(dir_ / "out.bin"), "previous\n");
  EXPECT_EQ(OtherFiles("out.bin"), 0u);
}

// Truncated, endless and huge bodies from a misbehaving server: tests/data/hostile/, run by
// hostile_case_test.cpp.
TEST_F(TransferTest, ABodyAboveTheLimitIsRefused) {
  WriteText(dir_ / "out.bin", "previous\n");
  auto small = Request(nginx_->Url("/files/b.txt"));
  small.limits.max_bytes = 100;
  auto too_large = fetcher_.Fetch(small);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, ErrorCode::kTooLarge);
  EXPECT_EQ(ReadText(dir_ / "out.bin"), "previous\n");
  EXPECT_EQ(OtherFiles("out.bin"), 0u);
}

// Dripping and stalled servers: tests/data/hostile/ (drip, stall).
TEST_F(TransferTest, TheWholeTransferLimitHoldsAtTheMinimumSpeed) {
  // The whole-transfer limit applies even to a server that keeps up the minimum speed.
  auto slow = Request(nginx_->Url("/slow/b.txt"));
  WriteText(nginx_->root() / "files/slow.bin", std::string(200000, 's'));
  slow.url = nginx_->Url("/slow/slow.bin");
  slow.limits.max_time_s = 2;
  auto r = fetcher_.Fetch(slow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
}

TEST_F(TransferTest, UnsupportedSchemesAreRefusedBeforeAnyIo) {
  for (const char* url : {"gopher://127.0.0.1/x", "ldap://127.0.0.1/x", "scp://127.0.0.1/x",
                          "dict://x", "nonsense"}) {
    auto r = fetcher_.Fetch(Request(url));
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kRefusedScheme) << url;
  }
  EXPECT_EQ(OtherFiles(), 0u);
}

TEST_F(TransferTest, MemorySinkProgressAndCancel) {
  auto req = Request(nginx_->Url("/files/b.txt"));
  req.sink = BodySink::kMemory;
  uint64_t last = 0;
  int calls = 0;
  req.progress = [&](uint64_t now, uint64_t) {
    EXPECT_GE(now, last);
    last = now;
    ++calls;
    return true;
  };
  auto r = fetcher_.Fetch(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, std::string(1024, 'b'));
  EXPECT_GT(calls, 0);
  EXPECT_EQ(OtherFiles(), 0u);

  std::atomic<bool> cancel{true};
  auto c = Request(hostile_->Url("/drip"));
  c.cancel = &cancel;
  auto cancelled = fetcher_.Fetch(c);
  ASSERT_FALSE(cancelled);
  EXPECT_EQ(cancelled.error().code, ErrorCode::kCancelled);
}

TEST_F(TransferTest, FetchQueueRunsManyWithBoundedConnections) {
  FetchQueue queue(4);
  int ok = 0, failed = 0;
  for (int i = 0; i < 40; ++i) {
    auto req = Request(nginx_->Url("/files/a.txt?q=" + std::to_string(i)), "q" + std::to_string(i));
    req.sink = i % 2 ? BodySink::kDiscard : BodySink::kFile;
    queue.Submit(req, [&](Fetched r) { r ? ++ok : ++failed; });
  }
  queue.Submit(Request(nginx_->Url("/r/chain1"), "chain"), [&](Fetched r) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->redirects, 3);
    ++ok;
  });
  queue.Submit(Request(nginx_->Url("/files/none")), [&](Fetched r) { r ? ++ok : ++failed; });
  EXPECT_EQ(queue.Run(30000), 0u);
  EXPECT_EQ(ok, 41);
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(ReadText(dir_ / "q0"), "alpha file\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "q1"));
  std::set<std::string> connections;
  for (auto& e : nginx_->AccessLog())
    if (e.uri.starts_with("/files/a.txt?q=")) connections.insert(e.connection);
  EXPECT_LE(connections.size(), 4u);
}

// One handle serves request after request: nothing of one request (a condition, a User-Agent,
// credentials) is sent with the next.
TEST_F(TransferTest, ReusedHandlesCarryNothingOver) {
  FetchQueue queue(1);
  std::vector<Fetched> results;
  auto submit = [&](FetchRequest r) {
    r.sink = BodySink::kMemory;
    queue.Submit(std::move(r), [&](Fetched x) { results.push_back(std::move(x)); });
    EXPECT_EQ(queue.Run(20000), 0u);
  };
  auto first = Request(nginx_->Url("/files/a.txt?reuse=1"));
  submit(first);
  ASSERT_TRUE(results.back()) << results.back().error().message;
  auto conditional = Request(nginx_->Url("/files/a.txt?reuse=2"));
  conditional.condition = results.back()->validators;
  submit(conditional);
  ASSERT_TRUE(results.back());
  EXPECT_EQ(results.back()->status, 304);
  auto plain = Request(nginx_->Url("/files/a.txt?reuse=3"));
  plain.user_agent.clear();
  submit(plain);
  ASSERT_TRUE(results.back());
  EXPECT_EQ(results.back()->status, 200) << "no condition carried over";
  auto with_credentials = Request(nginx_->Url("/basic/a.txt?reuse=4"));
  with_credentials.username = "joe";
  with_credentials.password = "s3cret";
  submit(with_credentials);
  ASSERT_TRUE(results.back()) << results.back().error().message;
  submit(Request(nginx_->Url("/basic/a.txt?reuse=5")));
  ASSERT_FALSE(results.back());
  EXPECT_EQ(results.back().error().stats.http_status, 401) << "no credentials carried over";
  std::map<std::string, AccessLogEntry> by_uri;
  for (auto& e : nginx_->AccessLog()) by_uri[e.uri] = e;
  EXPECT_FALSE(by_uri["/files/a.txt?reuse=2"].if_modified_since.empty());
  EXPECT_EQ(by_uri["/files/a.txt?reuse=3"].if_modified_since, "");
  EXPECT_EQ(by_uri["/files/a.txt?reuse=3"].user_agent, "");
  EXPECT_EQ(by_uri["/files/a.txt?reuse=2"].user_agent, "autoprov-test/1 (00908F000001)");
  EXPECT_EQ(by_uri["/basic/a.txt?reuse=5"].authorization, "");
  EXPECT_EQ(by_uri["/basic/a.txt?reuse=5"].status, 401);
}

// Connections parked between requests stay watched lazily by the queue: a server that closes them
// (after 2 requests, or when idle) must not stall or fail later transfers.
TEST_F(TransferTest, FetchQueueSurvivesServerClosingParkedConnections) {
  FetchQueue queue(3);
  int ok = 0;
  auto batch = [&](const std::string& tag) {
    for (int i = 0; i < 12; ++i) {
      auto req = Request(nginx_->Url("/shortkeep/a.txt?" + tag + std::to_string(i)),
                         tag + std::to_string(i));
      req.sink = BodySink::kMemory;
      queue.Submit(req, [&](Fetched r) {
        EXPECT_TRUE(r) << r.error().message;
        if (r) ok += r->body == "alpha file\n";
      });
    }
    EXPECT_EQ(queue.Run(20000), 0u);
  };
  batch("a");
  std::this_thread::sleep_for(
      std::chrono::milliseconds(1500));  // idle: the server closes what is left
  batch("b");
  EXPECT_EQ(ok, 24);
  std::set<std::string> connections;
  for (auto& e : nginx_->AccessLog())
    if (e.uri.starts_with("/shortkeep/")) connections.insert(e.connection);
  EXPECT_GE(connections.size(), 12u) << "the server closed connections after 2 requests each";
}

class FileProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("ftproot");
    out_ = MakeTempDir("ftpout");
    WriteText(root_ / "cpt.dat", "call progress tones\n");
    WriteText(root_ / "big.bin", std::string(300000, 'z'));
  }
  void TearDown() override {
    std::filesystem::permissions(root_, std::filesystem::perms::owner_all);
    std::filesystem::remove_all(root_);
    std::filesystem::remove_all(out_);
  }
  FetchRequest Request(const std::string& url) {
    FetchRequest r;
    r.url = url;
    r.target = out_ / "out.bin";
    r.limits.max_time_s = 30;
    return r;
  }
  std::filesystem::path root_, out_;
  Fetcher fetcher_;
};

TEST_F(FileProtocolTest, Tftp) {
  Tftpd tftpd(root_);
  ASSERT_TRUE(tftpd.ok());
  auto r = fetcher_.Fetch(Request(tftpd.Url("/cpt.dat")));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(ReadText(out_ / "out.bin"), "call progress tones\n");
  EXPECT_EQ(r->status, 0);
  auto big = Request(tftpd.Url("/big.bin"));
  big.tftp_block_size = 1428;
  auto b = fetcher_.Fetch(big);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->bytes, 300000u);
  auto missing = fetcher_.Fetch(Request(tftpd.Url("/none.dat")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
  EXPECT_EQ(ReadText(out_ / "out.bin").size(), 300000u);
}

// Truthful reports, reproduction 4: over TFTP a missing file, a file the server may not send, a
// server that is down and a transfer that stops read differently (libcurl leaves a stale
// "getpeername()" message in its error buffer for all of them), and each names the protocol's
// operation, not HTTP's GET.
TEST_F(FileProtocolTest, TftpErrorsNameTheirCause) {
  Tftpd tftpd(root_);
  ASSERT_TRUE(tftpd.ok());
  auto missing = fetcher_.Fetch(Request(tftpd.Url("/none.dat")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("no such file"), std::string::npos)
      << missing.error().message;
  WriteText(root_ / "private.dat", "not world-readable");
  std::filesystem::permissions(root_ / "private.dat", std::filesystem::perms::owner_read |
                                                          std::filesystem::perms::owner_write);
  auto refused = fetcher_.Fetch(Request(tftpd.Url("/private.dat")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAuth) << refused.error().message;
  EXPECT_NE(refused.error().message.find("refused"), std::string::npos) << refused.error().message;
  auto down_request = Request("tftp://127.0.0.1:" + std::to_string(FreeUdpPort()) + "/cpt.dat");
  down_request.limits.connect_timeout_s = 2;
  auto down = fetcher_.Fetch(down_request);
  ASSERT_FALSE(down);
  EXPECT_NE(down.error().message.find("no answer from the TFTP server"), std::string::npos)
      << down.error().message;
  for (const auto* e : {&missing.error(), &refused.error(), &down.error()}) {
    EXPECT_EQ(e->message.find("getpeername"), std::string::npos) << e->message;
    EXPECT_EQ(e->message.rfind("TFTP read tftp://127.0.0.1:", 0), 0u) << e->message;
  }
  EXPECT_NE(missing.error().message, refused.error().message);
}

TEST_F(FileProtocolTest, Ftp) {
  Vsftpd ftpd(root_);
  ASSERT_TRUE(ftpd.ok());
  auto r = fetcher_.Fetch(Request(ftpd.Url("/cpt.dat")));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(ReadText(out_ / "out.bin"), "call progress tones\n");
  auto missing = fetcher_.Fetch(Request(ftpd.Url("/none.dat")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
  EXPECT_EQ(missing.error().message.rfind("FTP RETR ftp://", 0), 0u) << missing.error().message;
  EXPECT_EQ(ReadText(out_ / "out.bin"), "call progress tones\n");
}

TEST_F(FileProtocolTest, LocalFile) {
  auto r = fetcher_.Fetch(Request("file://" + (root_ / "cpt.dat").string()));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(ReadText(out_ / "out.bin"), "call progress tones\n");
  auto missing = fetcher_.Fetch(Request("file://" + (root_ / "none").string()));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message.rfind("read file://", 0), 0u) << missing.error().message;
}

}  // namespace
}  // namespace autoprov
