// S-12.3 on files made by the openssl command line: CMS EnvelopedData to a device's certificate
// (DER, PEM, S/MIME; RSA and EC), and `openssl enc -aes-256-cbc` under each key derivation; what is
// refused (another device's file, a wrong password, a truncated file) says why; and our own
// encryption is read by the openssl command line.
#include "signing/encryption.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "support/signing_pki.hpp"

namespace autoprov {
namespace {

using test_support::SigningPki;

class EncryptionTest : public ::testing::Test {
 protected:
  static const SigningPki& pki() { return SigningPki::Get(); }
  void SetUp() override { Write("plain.ini", plain_); }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(pki().dir / name, std::ios::binary) << content;
  }
  std::string Openssl(const std::string& args) {
    EXPECT_TRUE(pki().Shell("openssl " + args + " -out out.bin")) << args;
    return pki().Read("out.bin");
  }
  static DeviceKeyPair Device(const std::string& name) {
    return {pki().Cert(name), pki().Key(name)};
  }
  std::string plain_ =
      "[ SYSTEM ]\nAUPDUserPassword = 'admin:s3cret'\n[ \\SYSTEM ]\n; a comment\r\n";
};

TEST_F(EncryptionTest, AFileEncryptedToTheDeviceDecryptsInEveryFormOpensslWrites) {
  for (std::string form : {"-outform DER", "-outform PEM", ""}) {  // "": S/MIME, the default
    for (std::string device : {"device-a", "device-ec"}) {
      std::string file = Openssl("cms -encrypt -binary -aes256 -in plain.ini -recip " +
                                 pki().Cert(device) + " " + form);
      ASSERT_EQ(DetectEncryption(file), Encryption::kEnveloped) << form << " " << device;
      auto plain = DecryptEnveloped(file, Device(device));
      ASSERT_TRUE(plain) << form << " " << device << ": " << plain.error().message;
      EXPECT_EQ(*plain, plain_) << form << " " << device;
    }
  }
}

TEST_F(EncryptionTest, AnotherDevicesFileIsNotEncryptedForThisDevice) {
  std::string file =
      Openssl("cms -encrypt -binary -aes256 -in plain.ini -recip " + pki().Cert("device-b"));
  auto plain = DecryptEnveloped(file, Device("device-a"));
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, ErrorCode::kRejected);
  EXPECT_NE(plain.error().message.find("not encrypted for this device"), std::string::npos)
      << plain.error().message;
  EXPECT_NE(plain.error().message.find("CN=device-a"), std::string::npos) << plain.error().message;
  // A file for several devices is read by each of them.
  file = Openssl("cms -encrypt -binary -aes256 -in plain.ini -recip " + pki().Cert("device-b") +
                 " -recip " + pki().Cert("device-a") + " -outform DER");
  auto both = DecryptEnveloped(file, Device("device-a"));
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(*both, plain_);
}

TEST_F(EncryptionTest, ATruncatedOrAlteredEnvelopeIsACorruptFileNotGarbage) {
  std::string file = Openssl("cms -encrypt -binary -aes256 -in plain.ini -recip " +
                             pki().Cert("device-a") + " -outform DER");
  auto cut =
      DecryptEnveloped(std::string_view(file).substr(0, file.size() - 20), Device("device-a"));
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message.find("truncated or corrupt"), std::string::npos)
      << cut.error().message;
  std::string altered = file;
  altered[altered.size() - 5] ^= 0x55;  // the last ciphertext block: its padding breaks
  auto bad = DecryptEnveloped(altered, Device("device-a"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kRejected);
}

TEST_F(EncryptionTest, NoDeviceKeyIsSaidPlainly) {
  std::string file =
      Openssl("cms -encrypt -binary -aes256 -in plain.ini -recip " + pki().Cert("device-a"));
  auto plain = DecryptEnveloped(file, DeviceKeyPair{});
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("no certificate and key"), std::string::npos);
}

struct Derivation {
  KeyDerivation kind;
  std::string options;  // openssl enc's
};

TEST_F(EncryptionTest, OpensslEncFilesDecryptUnderEachDerivationAndAWrongPasswordIsSaid) {
  Write("pw.txt", "correct horse\n");
  const Derivation derivations[] = {{KeyDerivation::kPbkdf2, "-pbkdf2 -iter 10000"},
                                    {KeyDerivation::kSha256, "-md sha256"},
                                    {KeyDerivation::kMd5, "-md md5"}};
  for (const auto& d : derivations) {
    for (std::string armour : {"", "-a"}) {
      std::string file = Openssl("enc -aes-256-cbc -salt " + d.options + " " + armour +
                                 " -in plain.ini -pass file:pw.txt");
      ASSERT_EQ(DetectEncryption(file), Encryption::kPassword) << d.options << armour;
      PasswordKey key{"correct horse", d.kind, 10000};
      auto plain = DecryptWithPassword(file, key);
      ASSERT_TRUE(plain) << d.options << armour << ": " << plain.error().message;
      EXPECT_EQ(*plain, plain_);
      // A wrong password: the padding fails (255 in 256) or the bytes are not text.
      key.password = "wrong horse";
      auto wrong = DecryptWithPassword(file, key);
      EXPECT_TRUE(!wrong || !LooksLikeText(*wrong)) << d.options << armour;
      if (!wrong) {
        EXPECT_NE(wrong.error().message.find("wrong password or corrupt"), std::string::npos);
      }
    }
    // The right password under another derivation is as wrong as a wrong password.
    std::string file =
        Openssl("enc -aes-256-cbc -salt " + d.options + " -in plain.ini -pass file:pw.txt");
    KeyDerivation other =
        d.kind == KeyDerivation::kMd5 ? KeyDerivation::kPbkdf2 : KeyDerivation::kMd5;
    auto mixed = DecryptWithPassword(file, PasswordKey{"correct horse", other, 10000});
    EXPECT_TRUE(!mixed || !LooksLikeText(*mixed)) << d.options;
  }
}

TEST_F(EncryptionTest, ATruncatedPasswordFileIsSaidTruncated) {
  Write("pw.txt", "pw\n");
  std::string file = Openssl("enc -aes-256-cbc -salt -pbkdf2 -in plain.ini -pass file:pw.txt");
  PasswordKey key{"pw", KeyDerivation::kPbkdf2, 10000};
  auto cut = DecryptWithPassword(std::string_view(file).substr(0, file.size() - 7), key);
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message.find("truncated or corrupt"), std::string::npos)
      << cut.error().message;
  auto header_only = DecryptWithPassword(std::string_view(file).substr(0, 16), key);
  ASSERT_FALSE(header_only);
  // Cut on a block boundary: the padding no longer checks (or the end is lost): never accepted
  // as the whole file.
  auto block = DecryptWithPassword(std::string_view(file).substr(0, file.size() - 16), key);
  EXPECT_TRUE(!block || *block != plain_);
  auto none = DecryptWithPassword(file, PasswordKey{"", KeyDerivation::kPbkdf2, 10000});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no password"), std::string::npos);
}

TEST_F(EncryptionTest, PlaintextAndSignaturesAreNotTakenForEncryptedFiles) {
  EXPECT_EQ(DetectEncryption(plain_), Encryption::kNone);
  EXPECT_EQ(DetectEncryption(""), Encryption::kNone);
  EXPECT_EQ(DetectEncryption("Salted"), Encryption::kNone);
  std::string sig =
      pki().SignWithOpenssl((pki().dir / "plain.ini").string(), "signer", "-outform PEM");
  EXPECT_EQ(DetectEncryption(sig), Encryption::kNone);
  sig = pki().SignWithOpenssl((pki().dir / "plain.ini").string(), "signer", "-outform DER");
  EXPECT_EQ(DetectEncryption(sig), Encryption::kNone);
  EXPECT_EQ(DetectEncryption(pki().Read("ca.pem")), Encryption::kNone);
  EXPECT_TRUE(LooksLikeText(plain_));
  EXPECT_FALSE(LooksLikeText(std::string("a\0b", 3)));
}

TEST_F(EncryptionTest, OurEncryptionIsReadByTheOpensslCommandLine) {
  auto env = EncryptEnveloped(plain_, pki().Cert("device-a"));
  ASSERT_TRUE(env) << env.error().message;
  Write("ours.p7m", *env);
  std::string back = Openssl("cms -decrypt -binary -inform DER -in ours.p7m -recip " +
                             pki().Cert("device-a") + " -inkey " + pki().Key("device-a"));
  EXPECT_EQ(back, plain_);
  for (auto [kind, options] : {std::pair{KeyDerivation::kPbkdf2, "-pbkdf2 -iter 20000"},
                               std::pair{KeyDerivation::kSha256, "-md sha256"},
                               std::pair{KeyDerivation::kMd5, "-md md5"}}) {
    auto enc = EncryptWithPassword(plain_, PasswordKey{"pw", kind, 20000});
    ASSERT_TRUE(enc) << enc.error().message;
    auto again = EncryptWithPassword(plain_, PasswordKey{"pw", kind, 20000});
    EXPECT_NE(*enc, *again) << "a fresh salt each time";
    Write("ours.enc", *enc);
    back = Openssl(std::string("enc -d -aes-256-cbc ") + options + " -in ours.enc -pass pass:pw");
    EXPECT_EQ(back, plain_) << options;
  }
}

TEST_F(EncryptionTest, KeyDerivationNamesRoundTrip) {
  for (auto d : {KeyDerivation::kPbkdf2, KeyDerivation::kSha256, KeyDerivation::kMd5}) {
    auto parsed = ParseKeyDerivation(KeyDerivationName(d));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_FALSE(ParseKeyDerivation("sha1"));
}

}  // namespace
}  // namespace autoprov
