// S-12.3 end to end: files encrypted by the openssl command line (CMS EnvelopedData to a device's
// certificate; `openssl enc -aes-256-cbc` under each key derivation), served by nginx and
// tftpd-hpa, fetched by the agent as a user runs it. What cannot be decrypted is refused, changes
// nothing, and is reported rejected on every poll; what is decrypted is judged as its plaintext
// (signature, CRC).
#include <gtest/gtest.h>
#include <utime.h>

#include <fstream>

#include "support/device_fixture.hpp"
#include "support/signing_pki.hpp"

namespace autoprov {
namespace {

using namespace testing;
using test_support::SigningPki;

class EncryptionTest : public DeviceTest {
 protected:
  EncryptionTest() : DeviceTest("encryption", "00:90:8f:00:00:29", "29") {}
  void SetUp() override {
    DeviceTest::SetUp();
    std::filesystem::create_directories(dir_ / "state");
  }
  static const SigningPki& pki() { return SigningPki::Get(); }
  // The device decrypts with device-a's pair, named in hooks.ini.
  void HooksFor(const std::string& device, const std::string& more = "") {
    WriteText(dir_ / "state/hooks.ini", "DecryptionCert = " + pki().Cert(device) +
                                            "\nDecryptionKey = " + pki().Key(device) + "\n" + more);
  }
  // `openssl <args> -in <plain> -out <root/path>` on `plain` written to a scratch file.
  void OpensslFile(const std::filesystem::path& out, const std::string& plain,
                   const std::string& args) {
    std::filesystem::create_directories(out.parent_path());
    WriteText(dir_ / "plain.tmp", plain);
    std::string cmd = "openssl " + args + " -in '" + (dir_ / "plain.tmp").string() + "' -out '" +
                      out.string() + "' 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    struct utimbuf t {
      mtime_, mtime_
    };
    ++mtime_;  // nginx's validators have a resolution of one second
    ::utime(out.c_str(), &t);
  }
  std::string EncryptTo(const std::string& device) {
    return "cms -encrypt -binary -aes256 -outform DER -recip " + pki().Cert(device);
  }
  time_t mtime_ = 1800000000;
};

TEST_F(EncryptionTest, AnIniEncryptedToTheDeviceIsAppliedAndAnotherDevicesFileIsRefused) {
  HooksFor("device-a");
  OpensslFile(nginx_->root() / "e1/dev.ini", "AutoUpdateFrequency = 77\n", EncryptTo("device-a"));
  Bootstrap("IniFileURL = '" + nginx_->Url("/e1/dev.ini") + "'\nAutoUpdateFrequency = 5\n");
  auto [rc, report] = Update();
  const auto& step = Step(report, "ini");
  EXPECT_EQ(step["outcome"], "applied") << step.dump(2);
  EXPECT_NE(Details(step).find("decrypted: CMS EnvelopedData"), std::string::npos) << step.dump();
  EXPECT_EQ(Get("AutoUpdateFrequency"), "77");
  // The same kind of file made for another device: refused on this one, on every poll.
  OpensslFile(nginx_->root() / "e1/other.ini", "AutoUpdateFrequency = 1\n", EncryptTo("device-b"));
  Command("config set IniFileURL " + nginx_->Url("/e1/other.ini"));
  for (int poll = 1; poll <= 2; ++poll) {
    auto [rc2, other] = Update();
    EXPECT_EQ(rc2, 1) << "poll " << poll;
    const auto& refused = Step(other, "ini");
    EXPECT_EQ(refused["outcome"], "rejected") << refused.dump(2);
    EXPECT_NE(refused.value("error", "").find("not encrypted for this device"), std::string::npos)
        << refused.dump();
    EXPECT_EQ(Get("AutoUpdateFrequency"), "77") << "nothing applied";
    auto status = StatusJson();
    EXPECT_NE(status.dump().find("not encrypted for this device"), std::string::npos)
        << "status says what the run said";
  }
  EXPECT_EQ(nginx_->Requests("/e1/other.ini").back().status, 304)
      << "the second poll asks with the rejected file's validators (S-7.8)";
}

TEST_F(EncryptionTest, TheMutualTlsPairDecryptsWhenHooksNameNoneAndAuxFilesAreInstalledPlain) {
  // No DecryptionCert: the device's mutual-TLS pair (S-1.5) decrypts.
  std::filesystem::create_directories(dir_ / "state/files/tls");
  std::filesystem::copy_file(pki().Cert("device-ec"), dir_ / "state/files/tls/device-cert.pem");
  std::filesystem::copy_file(pki().Key("device-ec"), dir_ / "state/files/tls/device-key.pem");
  const std::string plan = "<DialPlan>\n 0[2-9]xxxxxxx\n</DialPlan>\n";
  OpensslFile(nginx_->root() / "e2/plan.txt", plan, EncryptTo("device-ec"));
  OpensslFile(nginx_->root() / "e2/dev.ini",
              "AutoUpdateFrequency = 42\nDialPlanFileURL = '" + nginx_->Url("/e2/plan.txt") + "'\n",
              EncryptTo("device-ec"));
  Bootstrap("IniFileURL = '" + nginx_->Url("/e2/dev.ini") + "'\n");
  auto [rc, report] = Update();
  EXPECT_EQ(rc, 0) << report.dump(2);
  EXPECT_EQ(Step(report, "ini")["outcome"], "applied") << report.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "42");
  const auto& aux = Step(report, "dial-plan");
  EXPECT_EQ(aux["outcome"], "applied") << aux.dump(2);
  EXPECT_EQ(ReadText(dir_ / "state/files/dial-plan/plan.txt"), plan) << "installed decrypted";
}

struct Derivation {
  const char* name;     // AupdPasswordKeyDerivation
  const char* options;  // openssl enc's
};

TEST_F(EncryptionTest, PasswordFilesUnderEachDerivationAndAWrongPasswordIsSaid) {
  Bootstrap("AutoUpdateFrequency = 10\n");
  int value = 10;
  for (auto d : {Derivation{"pbkdf2", "-pbkdf2 -iter 20000"}, Derivation{"sha256", "-md sha256"},
                 Derivation{"md5", "-md md5"}}) {
    SCOPED_TRACE(d.name);
    std::string path = std::string("/e3/") + d.name + ".ini";
    ++value;
    OpensslFile(nginx_->root() / path.substr(1),
                "AutoUpdateFrequency = " + std::to_string(value) + "\n",
                std::string("enc -aes-256-cbc -salt ") + d.options + " -pass pass:open-sesame");
    Command("config set AupdPasswordKeyDerivation " + std::string(d.name));
    Command("config set AupdPasswordIterations 20000");
    Command("config set AupdDecryptionPassword wrong-sesame");
    Command("config set IniFileURL " + nginx_->Url(path));
    auto [rc, wrong] = Update();
    EXPECT_EQ(rc, 1);
    const auto& refused = Step(wrong, "ini");
    EXPECT_EQ(refused["outcome"], "rejected") << refused.dump(2);
    EXPECT_NE(refused.value("error", "").find("wrong password or corrupt"), std::string::npos)
        << refused.dump();
    EXPECT_EQ(Get("AutoUpdateFrequency"), std::to_string(value - 1)) << "nothing applied";
    // The right password: the same file, fetched again (the password is not a validator).
    Command("config set AupdDecryptionPassword open-sesame");
    Command("config set IniFileURL ''");
    Command("config set IniFileURL " + nginx_->Url(path));
    auto [rc2, right] = Update();
    EXPECT_EQ(Step(right, "ini")["outcome"], "applied") << right.dump(2);
    EXPECT_NE(Details(Step(right, "ini")).find(std::string(d.name) + " key derivation"),
              std::string::npos);
    EXPECT_EQ(Get("AutoUpdateFrequency"), std::to_string(value));
  }
  // The password is a secret: not shown.
  auto show = RunCommand("config show" + st_);
  EXPECT_EQ(show.out.find("open-sesame"), std::string::npos) << show.out;
}

TEST_F(EncryptionTest, ATruncatedCiphertextIsRefusedAndChangesNothing) {
  Bootstrap("AutoUpdateFrequency = 5\nAupdDecryptionPassword = 'pw'\n");
  OpensslFile(nginx_->root() / "e4/dev.ini", "AutoUpdateFrequency = 9\nIniFileURL = ''\n",
              "enc -aes-256-cbc -salt -pbkdf2 -pass pass:pw");
  std::string whole = ReadText(nginx_->root() / "e4/dev.ini");
  WriteText(nginx_->root() / "e4/dev.ini", whole.substr(0, whole.size() - 5));
  Command("config set IniFileURL " + nginx_->Url("/e4/dev.ini"));
  auto [rc, report] = Update();
  const auto& step = Step(report, "ini");
  EXPECT_EQ(step["outcome"], "rejected") << step.dump(2);
  EXPECT_NE(step.value("error", "").find("truncated or corrupt"), std::string::npos) << step.dump();
  EXPECT_EQ(Get("AutoUpdateFrequency"), "5");
  // The CMS form, cut: the same.
  HooksFor("device-a");
  OpensslFile(nginx_->root() / "e4/cms.ini", "AutoUpdateFrequency = 9\n", EncryptTo("device-a"));
  whole = ReadText(nginx_->root() / "e4/cms.ini");
  WriteText(nginx_->root() / "e4/cms.ini", whole.substr(0, whole.size() / 2));
  Command("config set IniFileURL " + nginx_->Url("/e4/cms.ini"));
  auto [rc2, cms] = Update();
  EXPECT_EQ(Step(cms, "ini")["outcome"], "rejected") << cms.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "5");
}

// Sign, then encrypt: the signature is over the plaintext and judged after decryption.
TEST_F(EncryptionTest, ASignedThenEncryptedFileIsJudgedByItsPlaintextsSignature) {
  HooksFor("device-a", "SignersBundle = " + pki().Cert("ca") + "\nSignaturePolicy = required\n");
  const std::string plain = "AutoUpdateFrequency = 61\n";
  WriteText(dir_ / "signed.ini", plain);
  std::string sig = pki().SignWithOpenssl((dir_ / "signed.ini").string(), "signer");
  ASSERT_FALSE(sig.empty());
  WriteText(nginx_->root() / "e5/dev.ini.p7s", sig);
  OpensslFile(nginx_->root() / "e5/dev.ini", plain, EncryptTo("device-a"));
  Bootstrap("IniFileURL = '" + nginx_->Url("/e5/dev.ini") + "'\nAutoUpdateFrequency = 5\n");
  auto [rc, report] = Update();
  const auto& step = Step(report, "ini");
  EXPECT_EQ(step["outcome"], "applied") << step.dump(2);
  EXPECT_NE(Details(step).find("decrypted"), std::string::npos);
  EXPECT_NE(Details(step).find("signature verified"), std::string::npos) << step.dump();
  EXPECT_EQ(Get("AutoUpdateFrequency"), "61");
  // Another plaintext under the same signature, encrypted to the device: the inner signature fails.
  OpensslFile(nginx_->root() / "e5/dev.ini", "AutoUpdateFrequency = 1\n", EncryptTo("device-a"));
  auto [rc2, bad] = Update();
  const auto& refused = Step(bad, "ini");
  EXPECT_EQ(refused["outcome"], "rejected") << refused.dump(2);
  EXPECT_NE(refused.value("error", "").find("bad signature"), std::string::npos) << refused.dump();
  EXPECT_EQ(Get("AutoUpdateFrequency"), "61");
  // The signature of the ciphertext is not the signature of the file.
  WriteText(dir_ / "cipher.ini", ReadText(nginx_->root() / "e5/dev.ini"));
  WriteText(nginx_->root() / "e5/dev.ini.p7s",
            pki().SignWithOpenssl((dir_ / "cipher.ini").string(), "signer"));
  auto [rc3, outer] = Update();
  EXPECT_EQ(Step(outer, "ini")["outcome"], "rejected") << outer.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "61");
}

TEST_F(EncryptionTest, AnEncryptedFileOverTftp) {
  auto root = dir_ / "files";
  OpensslFile(root / "tftp.ini", "AutoUpdateFrequency = 55\n",
              "enc -aes-256-cbc -salt -md sha256 -pass pass:tftp-pw");
  Tftpd tftpd(root);
  ASSERT_TRUE(tftpd.ok());
  Bootstrap("IniFileURL = '" + tftpd.Url("/tftp.ini") +
            "'\nAupdDecryptionPassword = 'tftp-pw'\nAupdPasswordKeyDerivation = 1\n");
  auto [rc, report] = Update();
  EXPECT_EQ(Step(report, "ini")["outcome"], "applied") << report.dump(2);
  EXPECT_EQ(Get("AutoUpdateFrequency"), "55");
  // TFTP has no validators: the same plaintext encrypted again (a fresh salt) is the same file
  // (S-10.5 on the plaintext).
  OpensslFile(root / "tftp.ini", "AutoUpdateFrequency = 55\n",
              "enc -aes-256-cbc -salt -md sha256 -pass pass:tftp-pw");
  auto [rc2, again] = Update();
  EXPECT_EQ(Step(again, "ini")["outcome"], "unchanged") << again.dump(2);
}

TEST_F(EncryptionTest, TheCrcCheckSeesThePlaintext) {
  Bootstrap("AUPDCheckIfIniChanged = 1\nAupdDecryptionPassword = 'pw'\n");
  // The file sets the check itself: an ini file replaces the configuration (S-7.1).
  const std::string plain = "AUPDCheckIfIniChanged = 1\nAutoUpdateFrequency = 33\n";
  OpensslFile(nginx_->root() / "e7/dev.ini", plain, "enc -aes-256-cbc -salt -pbkdf2 -pass pass:pw");
  Command("config set IniFileURL " + nginx_->Url("/e7/dev.ini"));
  auto [rc, first] = Update();
  EXPECT_EQ(Step(first, "ini")["outcome"], "applied") << first.dump(2);
  // Encrypted again: other bytes, a new modification time (HTTP 200), the same plaintext.
  OpensslFile(nginx_->root() / "e7/dev.ini", plain, "enc -aes-256-cbc -salt -pbkdf2 -pass pass:pw");
  auto [rc2, second] = Update();
  EXPECT_EQ(Step(second, "ini")["http_status"], 200) << second.dump(2);
  EXPECT_EQ(Step(second, "ini")["outcome"], "unchanged-crc") << second.dump(2);
}

TEST_F(EncryptionTest, APlainFileIsRefusedWhereThePolicyRequiresEncryption) {
  HooksFor("device-a", "EncryptionPolicy.ini = required\n");
  WriteText(nginx_->root() / "e8/dev.ini", "AutoUpdateFrequency = 2\n");
  Bootstrap("IniFileURL = '" + nginx_->Url("/e8/dev.ini") + "'\nAutoUpdateFrequency = 5\n");
  auto [rc, report] = Update();
  const auto& step = Step(report, "ini");
  EXPECT_EQ(step["outcome"], "rejected") << step.dump(2);
  EXPECT_NE(step.value("error", "").find("not encrypted"), std::string::npos) << step.dump();
  EXPECT_EQ(Get("AutoUpdateFrequency"), "5");
}

// The operator's tools: what `autoprov encrypt` writes, openssl reads, and the reverse.
TEST_F(EncryptionTest, EncryptAndDecryptCommandsAgreeWithOpenssl) {
  const std::string plain = "AutoUpdateFrequency = 12\n";
  WriteText(dir_ / "dev.ini", plain);
  auto r = RunCommand("encrypt " + (dir_ / "dev.ini").string() + " --to " + pki().Cert("device-a") +
                      " -o " + (dir_ / "dev.ini.p7m").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto o =
      RunProgram("openssl cms -decrypt -binary -inform DER -in " + (dir_ / "dev.ini.p7m").string() +
                 " -recip " + pki().Cert("device-a") + " -inkey " + pki().Key("device-a"));
  EXPECT_EQ(o.out, plain);
  auto d = RunCommand("decrypt " + (dir_ / "dev.ini.p7m").string() + " --cert " +
                      pki().Cert("device-b") + " --key " + pki().Key("device-b"));
  EXPECT_NE(d.exit_code, 0);
  EXPECT_NE(d.out.find("not encrypted for this device"), std::string::npos) << d.out;
  WriteText(dir_ / "pw", "s3cret\n");
  r = RunCommand("encrypt " + (dir_ / "dev.ini").string() + " --password-file " +
                 (dir_ / "pw").string() + " --key-derivation md5 -o " +
                 (dir_ / "dev.ini.enc").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  o = RunProgram("openssl enc -d -aes-256-cbc -md md5 -pass pass:s3cret -in " +
                 (dir_ / "dev.ini.enc").string() + " -out " + (dir_ / "back.ini").string());
  EXPECT_EQ(o.exit_code, 0) << o.out;
  EXPECT_EQ(ReadText(dir_ / "back.ini"), plain);
  OpensslFile(dir_ / "by-openssl.enc", plain, "enc -aes-256-cbc -salt -pbkdf2 -pass pass:s3cret");
  d = RunCommand("decrypt " + (dir_ / "by-openssl.enc").string() + " --password-file " +
                 (dir_ / "pw").string());
  EXPECT_EQ(d.exit_code, 0) << d.out;
  EXPECT_EQ(d.out, plain);
  // sign takes the plaintext too (sign, then encrypt), and verify says why an encrypted file fails.
  auto sig = RunCommand("sign " + (dir_ / "by-openssl.enc").string() + " --cert " +
                        pki().Cert("signer") + " --key " + pki().Key("signer"));
  EXPECT_EQ(sig.exit_code, 2) << sig.out;
  EXPECT_NE(sig.out.find("sign the plaintext, then encrypt"), std::string::npos) << sig.out;
  ASSERT_EQ(RunCommand("sign " + (dir_ / "dev.ini").string() + " --cert " + pki().Cert("signer") +
                       " --key " + pki().Key("signer"))
                .exit_code,
            0);
  auto ver = RunCommand("verify " + (dir_ / "dev.ini.enc").string() + " --signature " +
                        (dir_ / "dev.ini.p7s").string() + " --signers " + pki().Cert("ca"));
  EXPECT_EQ(ver.exit_code, 1) << ver.out;
  EXPECT_NE(ver.out.find("decrypt it first"), std::string::npos) << ver.out;
  // config validate takes the plaintext, and says so of an encrypted file instead of parsing bytes.
  auto v = RunCommand("config validate " + (dir_ / "by-openssl.enc").string());
  EXPECT_EQ(v.exit_code, 2) << v.out;
  EXPECT_NE(v.out.find("is encrypted (openssl enc)"), std::string::npos) << v.out;
  v = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " decrypt " +
                 (dir_ / "by-openssl.enc").string() + " --password-file " + (dir_ / "pw").string() +
                 " | " + AUTOPROV_BINARY + " config validate -'");
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("<stdin>: valid"), std::string::npos) << v.out;
}

}  // namespace
}  // namespace autoprov
