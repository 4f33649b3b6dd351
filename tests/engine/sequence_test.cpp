// DownloadSequence on its own (S-1, S-2, S-4, S-9): canned fetch results, a temporary state
// database, no server. Each rule of the sequence is checked in milliseconds; tests/integration/
// runs the same rules against real servers.
#include "engine/sequence.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "config/configuration.hpp"
#include "engine/config_writer.hpp"
#include "engine/device_state.hpp"
#include "store/state_dir.hpp"
#include "support/test_dir.hpp"

namespace autoprov {
namespace {

// A file the fake server serves.
struct Served {
  long status = 200;
  std::string body;
  std::string final_url;  // a redirect's target
  bool not_modified = false;
  bool no_validators = false;  // TFTP, file:, an HTTP server that sends no Last-Modified
};

// A self-signed certificate and its key (EC P-256), as PEM.
struct Pair {
  std::string cert, key;
};

Pair MakePair(const char* cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  auto pem = [](auto write) {
    BIO* b = BIO_new(BIO_s_mem());
    write(b);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(b);
    return out;
  };
  Pair p{pem([&](BIO* b) { PEM_write_bio_X509(b, x); }), pem([&](BIO* b) {
           PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
         })};
  X509_free(x);
  EVP_PKEY_free(key);
  return p;
}

class SequenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::FreshDir("seq");
    auto state = StateDirectory::Open(dir_, {});
    ASSERT_TRUE(state) << state.error().message;
    state_ = std::move(*state);
  }
  void TearDown() override {
    state_.reset();
    std::filesystem::remove_all(dir_);
  }
  StateStore& store() { return state_->store(); }
  void Set(const std::string& name, const std::string& value) {
    auto r = SetParameter(store(), kLocalDevice, state_->schema(), name, value, false);
    ASSERT_TRUE(r) << r.error().message;
  }
  Configuration Config() { return *state_->LoadConfiguration(); }
  std::string Url(const std::string& path) { return "http://prov.test/" + path; }

  // One run against the canned files; `during` runs inside each fetch (another writer, a fault).
  RunReport Run(RunOptions options = {},
                const std::function<void(const FetchRequest&)>& during = nullptr) {
    RunEnvironment env;
    env.store = &store();
    env.device = kLocalDevice;
    env.schema = &state_->schema();
    env.identity = identity_;
    env.hooks = hooks_;
    env.state_dir = dir_;
    env.now = [] { return 1'800'000'000LL; };
    auto seq = DownloadSequence::Start(std::move(env), options);
    EXPECT_TRUE(seq);
    if (!seq) return {};
    requests_.clear();
    while (auto req = (*seq)->Next()) {
      requests_.push_back(*req);
      if (during) during(*req);
      (*seq)->Complete(Fetch(*req));
    }
    return (*seq)->Finish();
  }
  Fetched Fetch(const FetchRequest& req) {
    if (auto f = failures_.find(req.url); f != failures_.end()) return Unexpected(f->second);
    auto it = served_.find(req.url);
    if (it == served_.end()) {
      return Unexpected(TransferError(MakeError(ErrorCode::kHttpStatus, "HTTP 404 Not Found"),
                                      {.http_status = 404}));
    }
    const Served& s = it->second;
    FetchResult r;
    r.status = s.not_modified ? 304 : s.status;
    r.final_url = s.final_url.empty() ? req.url : s.final_url;
    if (s.not_modified) {
      r.outcome = FetchOutcome::kNotModified;
      return r;
    }
    r.bytes = s.body.size();
    r.sha256 = Sha256Hex(s.body);
    if (!s.no_validators) r.validators.last_modified = "Mon, 02 Nov 2026 10:00:00 GMT";
    if (req.sink == BodySink::kMemory) r.body = s.body;
    if (req.sink == BodySink::kFile) std::ofstream(req.target, std::ios::binary) << s.body;
    return r;
  }
  static std::string Outcome(const RunReport& r, const std::string& kind) {
    for (const auto& s : r.steps)
      if (s.kind == kind)
        return std::string(OutcomeName(s.outcome)) + (s.error.empty() ? "" : ": " + s.error);
    return "(no step)";
  }
  std::string Value(const std::string& key) {
    auto v = store().GetValue(kLocalDevice, key);
    return v && v->has_value() ? **v : "";
  }

  std::filesystem::path dir_;
  std::unique_ptr<StateDirectory> state_;
  DeviceIdentity identity_{"Mediant", "00908F000001", "4837234", "7.20A.250.001"};
  DeviceHooks hooks_;
  std::map<std::string, Served> served_;
  std::map<std::string, TransferError> failures_;  // URLs whose fetch fails so
  std::vector<FetchRequest> requests_;
};

// S-1.3, S-9.3: the image's version decides.
TEST_F(SequenceTest, ImageVersionRules) {
  Set("AutoCmpFileUrl", Url("fw/Mediant_7.20A.252.011.cmp"));
  served_[Url("fw/Mediant_7.20A.252.011.cmp")] = {200, "image-252", "", false};
  auto r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "applied");
  EXPECT_EQ(Value("pending_image_version"), "7.20A.252.011");
  EXPECT_EQ(r.restart, RestartWhen::kAtEnd);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "images/pending.cmp"));

  // Older than the pending image: discarded, no restart.
  Set("AutoCmpFileUrl", Url("fw/Mediant_7.20A.251.000.cmp"));
  served_[Url("fw/Mediant_7.20A.251.000.cmp")] = {200, "image-251", "", false};
  r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "older-image");
  EXPECT_EQ(r.restart, RestartWhen::kNone);

  // The same image again: unchanged.
  Set("AutoCmpFileUrl", Url("fw/Mediant_7.20A.252.011.cmp"));
  EXPECT_EQ(Outcome(Run(), "auto-firmware"), "unchanged");

  // No version in the configured URL: the final URL's name gives it.
  Set("AutoCmpFileUrl", Url("fw/latest"));
  served_[Url("fw/latest")] = {200, "image-300", Url("fw/Mediant_7.20A.300.001.cmp"), false};
  r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "applied");
  EXPECT_EQ(Value("pending_image_version"), "7.20A.300.001");

  // No version anywhere: rejected, the pending version stays.
  Set("AutoCmpFileUrl", Url("fw/current"));
  served_[Url("fw/current")] = {200, "image-x", "", false};
  EXPECT_NE(Outcome(Run(), "auto-firmware").find("rejected: image version unknown"),
            std::string::npos);
  EXPECT_EQ(Value("pending_image_version"), "7.20A.300.001");
}

// S-9.3: a VersionCommand is authoritative over the file name, and a failing one rejects the image.
TEST_F(SequenceTest, VersionCommandIsAuthoritative) {
  auto script = dir_ / "version.sh";
  std::ofstream(script)
      << "#!/bin/sh\nhead -c 5 \"$1\" | grep -q good && echo 7.40A.001.001 && exit 0\nexit 3\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  hooks_.version_command = script.string();
  Set("AutoCmpFileUrl", Url("fw/Mediant_7.20A.252.011.cmp"));
  served_[Url("fw/Mediant_7.20A.252.011.cmp")] = {200, "good image", "", false};
  auto r = Run();
  EXPECT_EQ(Outcome(r, "auto-firmware"), "applied");
  EXPECT_EQ(Value("pending_image_version"), "7.40A.001.001");
  served_[Url("fw/Mediant_7.20A.252.011.cmp")] = {200, "bad image", "", false};
  EXPECT_NE(Outcome(Run(), "auto-firmware").find("VersionCommand exited with 3"),
            std::string::npos);
  EXPECT_EQ(Value("pending_image_version"), "7.40A.001.001");
}

// S-4: AUPDCheckIfIniChanged 1 compares the whole file, 2 the lines in any order.
TEST_F(SequenceTest, CrcModes) {
  Set("IniFileURL", Url("dev.ini"));
  Set("AUPDCheckIfIniChanged", "2");
  served_[Url("dev.ini")] = {
      200, "AUPDCheckIfIniChanged = 2\nINIFileVersion = 'a'\nDHCPEnable = 1\n", "", false};
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  // The same lines in another order: unchanged in mode 2.
  served_[Url("dev.ini")] = {
      200, "DHCPEnable = 1\r\n\nINIFileVersion = 'a'\nAUPDCheckIfIniChanged = 2\n", "", false};
  EXPECT_EQ(Outcome(Run(), "ini"), "unchanged-crc");
  // Mode 1: the reordered file is a change.
  served_[Url("dev.ini")] = {
      200, "AUPDCheckIfIniChanged = 1\nINIFileVersion = 'a'\nDHCPEnable = 1\n", "", false};
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Outcome(Run(), "ini"), "unchanged-crc");
  served_[Url("dev.ini")].body += "\n";
  EXPECT_EQ(Outcome(Run(), "ini"), "applied") << "mode 1 counts every byte";
  // Mode 0: no CRC, applied every time the server sends it.
  served_[Url("dev.ini")] = {200, "AUPDCheckIfIniChanged = 0\n", "", false};
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
}

// S-3.1: a periodic URL is asked for with the validators of its last download; 304 applies nothing.
TEST_F(SequenceTest, ConditionalRequests) {
  Set("IniFileURL", Url("c.ini"));
  served_[Url("c.ini")] = {200, "INIFileVersion = 'c'\n", "", false};
  Run();
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_FALSE(requests_[0].condition);
  served_[Url("c.ini")].not_modified = true;
  auto r = Run();
  ASSERT_TRUE(requests_[0].condition);
  EXPECT_EQ(requests_[0].condition->last_modified, "Mon, 02 Nov 2026 10:00:00 GMT");
  EXPECT_EQ(Outcome(r, "ini"), "not-modified");
}

// S-1.4: the License Key is installed only for this device's serial number.
TEST_F(SequenceTest, LicenceChecks) {
  Set("FeatureKeyURL", Url("fk.txt"));
  served_[Url("fk.txt")] = {200, "key for nobody\n", "", false};
  EXPECT_NE(Outcome(Run(), "feature-key").find("rejected: no 'S/N"), std::string::npos);
  Set("FeatureKeyURL", Url("fk.txt"));
  served_[Url("fk.txt")] = {200, "S/N 1111 key\n", "", false};
  EXPECT_NE(Outcome(Run(), "feature-key").find("is for S/N 1111, this device is S/N 4837234"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "files/feature-key/license.key"));
  Set("FeatureKeyURL", Url("fk.txt"));
  served_[Url("fk.txt")] = {200, "S/N4837234 key\n", "", false};
  EXPECT_EQ(Outcome(Run(), "feature-key"), "applied");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "files/feature-key/license.key"));
  // Without a serial the device cannot tell: rejected.
  identity_.serial.clear();
  Set("FeatureKeyURL", Url("fk.txt"));
  EXPECT_NE(Outcome(Run(), "feature-key").find("serial number is unknown"), std::string::npos);
}

// S-9.7: a certificate and its key are installed as one pair; a key that does not match is rejected
// and the certificate of the same run with it.
TEST_F(SequenceTest, TlsPairing) {
  Pair a = MakePair("a"), b = MakePair("b");
  Set("TLSCertFileUrl", Url("a-cert.pem"));
  Set("TLSPkeyFileUrl", Url("a-key.pem"));
  served_[Url("a-cert.pem")] = {200, a.cert, "", false};
  served_[Url("a-key.pem")] = {200, a.key, "", false};
  auto r = Run();
  EXPECT_EQ(Outcome(r, "tls-cert"), "applied");
  EXPECT_EQ(Outcome(r, "tls-private-key"), "applied");
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(dir_ / "files/tls/device-cert.pem"), a.cert);
  EXPECT_EQ(read(dir_ / "files/tls/device-key.pem"), a.key);
  EXPECT_EQ(Config().Get("TLSCertFileUrl"), "") << "one-time URLs are cleared with the pair";

  // B's certificate with A's key: the key is rejected, and the certificate does not match the
  // installed key either: nothing changes.
  Set("TLSCertFileUrl", Url("b-cert.pem"));
  Set("TLSPkeyFileUrl", Url("a-key.pem"));
  served_[Url("b-cert.pem")] = {200, b.cert, "", false};
  r = Run();
  EXPECT_NE(Outcome(r, "tls-private-key").find("does not match the certificate of this run"),
            std::string::npos);
  EXPECT_NE(Outcome(r, "tls-cert").find("rejected"), std::string::npos);
  EXPECT_EQ(read(dir_ / "files/tls/device-cert.pem"), a.cert);
  EXPECT_EQ(Config().Get("TLSCertFileUrl"), Url("b-cert.pem")) << "kept for the next run";

  // B's certificate alone does not match the installed key A: rejected.
  Set("TLSPkeyFileUrl", "");
  EXPECT_NE(Outcome(Run(), "tls-cert").find("does not match the installed private key"),
            std::string::npos);
  // The pair B: installed together.
  Set("TLSCertFileUrl", Url("b-cert.pem"));
  Set("TLSPkeyFileUrl", Url("b-key.pem"));
  served_[Url("b-key.pem")] = {200, b.key, "", false};
  r = Run();
  EXPECT_EQ(Outcome(r, "tls-private-key"), "applied");
  EXPECT_EQ(read(dir_ / "files/tls/device-cert.pem"), b.cert);
  EXPECT_EQ(read(dir_ / "files/tls/device-key.pem"), b.key);
}

// S-9.7: a certificate whose download fails leaves the new key alone against the installed
// certificate: it does not match, so nothing is installed.
TEST_F(SequenceTest, KeyAloneMustMatchTheInstalledCertificate) {
  Pair a = MakePair("a"), b = MakePair("b");
  Set("TLSCertFileUrl", Url("a-cert.pem"));
  Set("TLSPkeyFileUrl", Url("a-key.pem"));
  served_[Url("a-cert.pem")] = {200, a.cert, "", false};
  served_[Url("a-key.pem")] = {200, a.key, "", false};
  ASSERT_EQ(Outcome(Run(), "tls-private-key"), "applied");
  Set("TLSCertFileUrl", Url("missing-cert.pem"));
  Set("TLSPkeyFileUrl", Url("b-key.pem"));
  served_[Url("b-key.pem")] = {200, b.key, "", false};
  auto r = Run();
  EXPECT_NE(Outcome(r, "tls-cert").find("failed"), std::string::npos);
  EXPECT_NE(Outcome(r, "tls-private-key").find("does not match the installed certificate"),
            std::string::npos)
      << Outcome(r, "tls-private-key");
  std::ifstream key(dir_ / "files/tls/device-key.pem");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(key), {}), a.key);
}

// S-2.2: ResetNow = 1 restarts at once: the remaining steps are skipped, for the start-up run to
// fetch.
TEST_F(SequenceTest, ResetNowSkipsTheRest) {
  Set("IniFileURL", Url("r.ini"));
  Set("CliScriptURL", Url("s.cli"));
  Set("AutoCmpFileUrl", Url("fw/Mediant_7.20A.260.001.cmp"));
  served_[Url("r.ini")] = {200, "SetDefaultOnINIFileProcess = 0\nResetNow = 1\n", "", false};
  served_[Url("s.cli")] = {200, "configure system\n", "", false};
  auto r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_NE(Outcome(r, "cli-script").find("skipped"), std::string::npos);
  EXPECT_NE(Outcome(r, "auto-firmware").find("skipped"), std::string::npos);
  EXPECT_EQ(requests_.size(), 1u) << "nothing fetched after the ini file";
  EXPECT_EQ(r.restart, RestartWhen::kImmediate);
}

// S-1.1, S-9.1: a one-time URL is cleared with its install, unless it was set again during the run.
TEST_F(SequenceTest, OneTimeClearing) {
  Set("CptFileURL", Url("tones.dat"));
  served_[Url("tones.dat")] = {200, "tones", "", false};
  EXPECT_EQ(Outcome(Run(), "cpt"), "applied");
  EXPECT_EQ(Config().Get("CptFileURL"), "");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "files/cpt/tones.dat"));
  // Set again (to the same value) while the file downloads: the new setting stands.
  Set("CptFileURL", Url("tones.dat"));
  auto r = Run({}, [&](const FetchRequest&) { Set("CptFileURL", Url("tones.dat")); });
  EXPECT_EQ(Outcome(r, "cpt"), "applied");
  EXPECT_EQ(Config().Get("CptFileURL"), Url("tones.dat"));
  // A failed download keeps the URL too.
  served_.erase(Url("tones.dat"));
  EXPECT_NE(Outcome(Run(), "cpt").find("failed"), std::string::npos);
  EXPECT_EQ(Config().Get("CptFileURL"), Url("tones.dat"));
}

// A store that fails in a step's commit: the step fails, the configuration and the URL's validators
// are untouched, and the run goes on to the next step.
TEST_F(SequenceTest, StoreFailureInAStepsCommit) {
  Set("IniFileURL", Url("f.ini"));
  Set("CptFileURL", Url("t.dat"));
  served_[Url("f.ini")] = {200, "INIFileVersion = 'new'\n", "", false};
  served_[Url("t.dat")] = {200, "tones", "", false};
  // The fault: every write of a kind's state is refused by the database.
  ASSERT_TRUE(
      store().db().Exec("CREATE TEMP TRIGGER refuse BEFORE INSERT ON kind_state "
                        "BEGIN SELECT RAISE(ABORT, 'disk refused the write'); END"));
  auto r = Run();
  EXPECT_NE(Outcome(r, "ini").find("failed"), std::string::npos) << Outcome(r, "ini");
  EXPECT_NE(Outcome(r, "cpt").find("failed"), std::string::npos);
  EXPECT_EQ(Config().Get("INIFileVersion"), "")
      << "the file's settings were rolled back with the step";
  EXPECT_EQ(Config().Get("CptFileURL"), Url("t.dat")) << "the one-time URL stays";
  auto url = store().GetUrlState(kLocalDevice, Url("f.ini"));
  ASSERT_TRUE(url);
  EXPECT_FALSE(url->has_value()) << "no validators: the next run downloads it again";
  ASSERT_TRUE(store().db().Exec("DROP TRIGGER refuse"));
  r = Run();
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_EQ(Config().Get("INIFileVersion"), "new");
}

// S-9.2: an empty replace-mode file is refused; 204 is not a file.
TEST_F(SequenceTest, EmptyFilesAndNoContent) {
  Set("IniFileURL", Url("e.ini"));
  Set("SetDefaultOnINIFileProcess", "1");
  served_[Url("e.ini")] = {200, "; nothing\n", "", false};
  EXPECT_NE(Outcome(Run(), "ini").find("rejected: empty configuration file"), std::string::npos);
  EXPECT_EQ(Config().Get("IniFileURL"), Url("e.ini"));
  served_[Url("e.ini")] = {204, "", "", false};
  EXPECT_NE(Outcome(Run(), "ini").find("204 No Content"), std::string::npos);
}

// S-10.1: a run that failed for a reason worth retrying plans the next attempt on
// AupdRetrySchedule: the entry's base plus the run's draw times its spread, the next entry on each
// further failure, the last repeating; a run that goes well starts the count again.
TEST_F(SequenceTest, RetryAfterAFailedRunFollowsTheSchedule) {
  Set("IniFileURL", Url("dev.ini"));
  Set("AupdRetrySchedule", "60+30, 300+120,1800");
  EXPECT_EQ(Config().Get("AupdRetrySchedule"), "60+30,300+120,1800");
  Error down = MakeError(ErrorCode::kNetwork, "connection refused");
  failures_[Url("dev.ini")] = down;
  RunOptions options;
  options.retry_random = 0.5;
  const long long finished = 1'800'000'000LL;  // the fixture's clock
  auto r = Run(options);
  EXPECT_EQ(Outcome(r, "ini"), "failed: connection refused");
  EXPECT_EQ(r.retry_attempt, 1);
  EXPECT_EQ(r.next_retry_at, finished + 60 + 15);
  r = Run(options);
  EXPECT_EQ(r.retry_attempt, 2);
  EXPECT_EQ(r.next_retry_at, finished + 300 + 60);
  for (int i = 0; i < 3; ++i) r = Run(options);
  EXPECT_EQ(r.retry_attempt, 5);
  EXPECT_EQ(r.next_retry_at, finished + 1800) << "the last entry repeats";
  // The report carries the plan, in JSON too (the daemon reads it from the agent's process).
  auto back = RunReportFromJson(ToJson(r));
  EXPECT_EQ(back.next_retry_at, r.next_retry_at);
  EXPECT_EQ(back.retry_attempt, 5);
  EXPECT_TRUE(back.steps.at(0).retryable);
  EXPECT_NE(FormatReport(r).find("next retry:"), std::string::npos);

  failures_.clear();
  served_[Url("dev.ini")] = {
      200, "IniFileURL = '" + Url("dev.ini") + "'\nAupdRetrySchedule = '60+30,300+120,1800'\n", "",
      false};
  r = Run(options);
  EXPECT_EQ(Outcome(r, "ini"), "applied");
  EXPECT_EQ(r.retry_attempt, 0);
  EXPECT_EQ(r.next_retry_at, 0);
  EXPECT_EQ(Value("retry_attempt"), "") << "a run that went well starts the count again";
  failures_[Url("dev.ini")] = down;
  EXPECT_EQ(Run(options).retry_attempt, 1);
}

// S-10.1: only failures that another attempt could cure are retried; the server's Retry-After is
// a floor; without a schedule nothing is planned.
TEST_F(SequenceTest, RetryOnlyWhatAnotherAttemptCouldCure) {
  Set("IniFileURL", Url("dev.ini"));
  Set("AupdRetrySchedule", "10");
  RunOptions options;
  options.retry_random = 0;
  auto http = [](long status, long retry_after = 0) {
    return TransferError(MakeError(ErrorCode::kHttpStatus, "HTTP " + std::to_string(status)),
                         {.http_status = status, .retry_after_s = retry_after});
  };
  struct Case {
    TransferError error;
    bool retried;
  };
  const Case cases[] = {
      {MakeError(ErrorCode::kNetwork, "connection refused"), true},
      {MakeError(ErrorCode::kTimeout, "stalled"), true},
      {MakeError(ErrorCode::kTruncated, "cut short"), true},
      {http(500), true},
      {http(503), true},
      {http(408), true},
      {http(429), true},
      {http(404), false},
      {http(400), false},
      {MakeError(ErrorCode::kAuth, "HTTP 401 (credentials rejected)"), false},
      {MakeError(ErrorCode::kTls, "certificate verify failed"), false},
      {MakeError(ErrorCode::kTooLarge, "too large"), false},
  };
  for (const Case& c : cases) {
    failures_[Url("dev.ini")] = c.error;
    auto r = Run(options);
    EXPECT_EQ(r.next_retry_at != 0, c.retried) << c.error.message;
    (void)DeviceState(store(), kLocalDevice).SetRetryAttempt(0);
  }
  // A rejected file would only be rejected again.
  failures_.clear();
  served_[Url("dev.ini")] = {200, "NoSuchParameter = 1\n", "", false};
  auto rejected = Run(options);
  EXPECT_EQ(Outcome(rejected, "ini").substr(0, 8), "rejected");
  EXPECT_EQ(rejected.next_retry_at, 0);
  // Retry-After: 120 outweighs the schedule's 10 s.
  failures_[Url("dev.ini")] = http(503, 120);
  auto later = Run(options);
  EXPECT_EQ(later.next_retry_at, 1'800'000'000LL + 120);
  // Without a schedule: today's behaviour, the next regular trigger.
  Set("AupdRetrySchedule", "");
  EXPECT_EQ(Run(options).next_retry_at, 0);
}

// S-10.5: without validators, a periodic file whose bytes equal the last ones applied from the same
// URL is unchanged and nothing is applied; with the vendor's CRC check on, the CRC decides (and
// says so); another URL, or other bytes, are applied.
TEST_F(SequenceTest, ContentHashMakesPollsWithoutValidatorsCheap) {
  std::string ini = "IniFileURL = '" + Url("a.ini") + "'\nAupdMaxTransferTime = 7\n";
  Set("IniFileURL", Url("a.ini"));
  served_[Url("a.ini")] = Served{200, ini, "", false, true};
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  Set("AupdMaxTransferTime", "9");
  auto again = Run();
  EXPECT_EQ(Outcome(again, "ini"), "unchanged");
  EXPECT_EQ(Config().Get("AupdMaxTransferTime"), "9") << "nothing applied";
  ASSERT_FALSE(again.steps[0].details.empty());
  EXPECT_NE(again.steps[0].details[0].find("SHA-256"), std::string::npos);
  // With validators the server decides (here: a 200 with the same bytes is applied as before).
  served_[Url("a.ini")].no_validators = false;
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  // The vendor's CRC check, when on, keeps its own outcome.
  served_[Url("a.ini")].no_validators = true;
  std::string crc_ini = ini + "AUPDCheckIfIniChanged = 1\n";
  served_[Url("a.ini")].body = crc_ini;
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Outcome(Run(), "ini"), "unchanged-crc");
  // The same bytes from another URL are applied: a URL's record is its own.
  served_[Url("b.ini")] = Served{200, "IniFileURL = '" + Url("b.ini") + "'\n", "", false, true};
  Set("IniFileURL", Url("b.ini"));
  EXPECT_EQ(Outcome(Run(), "ini"), "applied");
  EXPECT_EQ(Outcome(Run(), "ini"), "unchanged");
}

}  // namespace
}  // namespace autoprov
