// S-12.1 on files made by the openssl command line: a detached CMS signature holds only for the
// content it signed, by a signer under the bundle, valid at the signing time, for signing, with
// SHA-256 signed attributes; each refusal says why.
#include "signing/signature.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>

#include "common/digest.hpp"
#include "support/signing_pki.hpp"
#include "support/test_dir.hpp"

namespace autoprov {
namespace {

using test_support::SigningPki;

class SignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = (dir_.path() / "dev.ini").string();
    std::ofstream(file_, std::ios::binary) << content_;
    auto b = SignersBundle::Load(pki().Cert("ca"));
    ASSERT_TRUE(b) << b.error().message;
    bundle_.emplace(std::move(*b));
  }
  static const SigningPki& pki() { return SigningPki::Get(); }
  SignatureVerdict Verify(const std::string& content, const std::string& signature,
                          VerifyOptions o = {std::time(nullptr), true}) {
    return VerifyDetached(content, signature, *bundle_, o);
  }
  static SignatureFault FaultOf(const SignatureVerdict& v) {
    EXPECT_TRUE(v.error);
    return v.error ? v.error->fault : SignatureFault::kMalformed;
  }
  test_support::TestDir dir_{"signature"};
  std::string file_;
  std::string content_ = "[ SYSTEM ]\nAutoUpdateFrequency = 60\n";
  std::optional<SignersBundle> bundle_;
};

TEST_F(SignatureTest, AFileSignedByTheOpensslCommandLineVerifiesInDerAndPem) {
  for (const char* form : {"-outform DER", "-outform PEM"}) {
    std::string sig = pki().SignWithOpenssl(file_, "signer", form);
    ASSERT_FALSE(sig.empty()) << form;
    auto v = Verify(content_, sig);
    ASSERT_TRUE(v) << form << ": " << v.error->Text();
    EXPECT_NE(v.signer->subject.find("CN=signer"), std::string::npos) << v.signer->subject;
    EXPECT_FALSE(v.signer->serial.empty());
    EXPECT_LE(std::abs(v.signer->signed_at - static_cast<long long>(std::time(nullptr))), 120);
  }
}

TEST_F(SignatureTest, AnAlteredFileIsRefusedAsABadSignature) {
  std::string sig = pki().SignWithOpenssl(file_, "signer");
  auto v = Verify(content_ + "IniFileURL = 'http://attacker/x.ini'\n", sig);
  EXPECT_EQ(FaultOf(v), SignatureFault::kBadSignature);
  ASSERT_TRUE(v.error->signer) << "the refusal names the signer";
  EXPECT_NE(v.error->Text().find("bad signature"), std::string::npos) << v.error->Text();
}

// The signed attributes are what the signature covers: a signing time moved by one second (to
// pass the no-rollback check, say) breaks it.
TEST_F(SignatureTest, AlteredSignedAttributesAreABadSignature) {
  std::string sig = pki().SignWithOpenssl(file_, "signer");
  size_t at = std::string::npos;
  for (size_t i = 0; i + 15 <= sig.size(); ++i)
    if (sig[i] == 0x17 && sig[i + 1] == 0x0d && sig[i + 14] == 'Z') at = i + 13;  // UTCTime
  ASSERT_NE(at, std::string::npos) << "the signing time in the DER";
  sig[at] = sig[at] == '0' ? '1' : '0';
  EXPECT_EQ(FaultOf(Verify(content_, sig)), SignatureFault::kBadSignature);
}

TEST_F(SignatureTest, ASignerOutsideTheBundleIsUnknown) {
  auto v = Verify(content_, pki().SignWithOpenssl(file_, "outsider"));
  EXPECT_EQ(FaultOf(v), SignatureFault::kUnknownSigner);
  EXPECT_NE(v.error->Text().find("CN=outsider"), std::string::npos) << v.error->Text();
}

TEST_F(SignatureTest, ATlsCertificateIsTheWrongKeyUsage) {
  // OpenSSL's default purpose would refuse even a code-signing certificate; the agent verifies
  // with purpose "any" and checks the usage itself.
  EXPECT_EQ(FaultOf(Verify(content_, pki().SignWithOpenssl(file_, "tls-signer"))),
            SignatureFault::kWrongKeyUsage);
}

TEST_F(SignatureTest, ASignerNotValidAtTheSigningTimeIsRefused) {
  auto v = Verify(content_, pki().SignWithOpenssl(file_, "expired-signer"));
  EXPECT_EQ(FaultOf(v), SignatureFault::kNotValidAtSigningTime);
  EXPECT_NE(v.error->Text().find("expired"), std::string::npos) << v.error->Text();
}

TEST_F(SignatureTest, NoSignedAttributesOrNotSha256IsRefused) {
  EXPECT_EQ(
      FaultOf(Verify(content_, pki().SignWithOpenssl(file_, "signer", "-outform DER -noattr"))),
      SignatureFault::kNoSignedAttributes);
  EXPECT_EQ(
      FaultOf(Verify(content_, pki().SignWithOpenssl(file_, "signer", "-outform DER -md sha1"))),
      SignatureFault::kNoSignedAttributes);
}

TEST_F(SignatureTest, GarbageAndAttachedSignaturesAreMalformed) {
  EXPECT_EQ(FaultOf(Verify(content_, "")), SignatureFault::kMalformed);
  EXPECT_EQ(FaultOf(Verify(content_, "<html>404 Not Found</html>")), SignatureFault::kMalformed);
  std::string sig = pki().SignWithOpenssl(file_, "signer");
  EXPECT_EQ(FaultOf(Verify(content_, sig.substr(0, sig.size() / 2))), SignatureFault::kMalformed)
      << "a truncated signature";
  EXPECT_EQ(
      FaultOf(Verify(content_, pki().SignWithOpenssl(file_, "signer", "-outform DER -nodetach"))),
      SignatureFault::kMalformed);
}

TEST_F(SignatureTest, ASigningTimeAheadOfTheClockIsRefusedUnlessTheClockIsUntrusted) {
  std::string sig = pki().SignWithOpenssl(file_, "signer");
  long long an_hour_ago = std::time(nullptr) - 3600;
  EXPECT_EQ(FaultOf(Verify(content_, sig, {an_hour_ago, true})),
            SignatureFault::kFutureSigningTime);
  EXPECT_TRUE(Verify(content_, sig, {an_hour_ago, false})) << "S-10.8: a clock not yet set";
}

TEST_F(SignatureTest, OurSignatureIsTheOpensslCommandLines) {
  auto sig = SignDetached(content_, pki().Cert("signer"), pki().Key("signer"));
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_TRUE(Verify(content_, *sig));
  std::string sig_path = (dir_.path() / "dev.ini.p7s").string();
  std::ofstream(sig_path, std::ios::binary) << *sig;
  std::string cmd = "openssl cms -verify -purpose any -binary -inform DER -in " + sig_path +
                    " -content " + file_ + " -CAfile " + pki().Cert("ca") +
                    " -out /dev/null 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto read = ReadSignature(*sig);
  ASSERT_TRUE(read);
  EXPECT_NE(read->subject.find("CN=signer"), std::string::npos);
  auto wrong_key = SignDetached(content_, pki().Cert("signer"), pki().Key("outsider"));
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(wrong_key.error().message.find("is not the key of"), std::string::npos);
}

// An image is hashed while it downloads: its signature is checked against that hash, without a
// second pass over the file (S-12.1).
TEST_F(SignatureTest, TheDigestPathAgreesWithTheContentPath) {
  std::string sig = pki().SignWithOpenssl(file_, "signer");
  auto v = VerifyDigest(Sha256Hex(content_), sig, *bundle_, {std::time(nullptr), true});
  ASSERT_TRUE(v) << v.error->Text();
  auto altered = VerifyDigest(Sha256Hex(content_ + "x"), sig, *bundle_, {std::time(nullptr), true});
  EXPECT_EQ(FaultOf(altered), SignatureFault::kBadSignature);
  EXPECT_EQ(FaultOf(VerifyDigest(Sha256Hex(content_), pki().SignWithOpenssl(file_, "outsider"),
                                 *bundle_, {std::time(nullptr), true})),
            SignatureFault::kUnknownSigner);
}

// A verdict is kept by the bytes it judged (the fleet's devices fetch the same files): the same
// pair gets the same answer again, another content or signature its own, and the clock is checked
// on every call.
TEST_F(SignatureTest, KeptVerdictsAnswerAsTheFirstAndTheClockIsCheckedEachTime) {
  std::string sig = pki().SignWithOpenssl(file_, "signer");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Verify(content_, sig)) << i;
    EXPECT_EQ(FaultOf(Verify(content_ + "x", sig)), SignatureFault::kBadSignature) << i;
    EXPECT_EQ(FaultOf(Verify(content_, sig, {std::time(nullptr) - 3600, true})),
              SignatureFault::kFutureSigningTime)
        << i;
  }
}

TEST_F(SignatureTest, ABundleWithoutCertificatesIsRefused) {
  auto empty = SignersBundle::FromPem("not a certificate\n", "hooks.ini SignersBundle");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("no PEM certificate"), std::string::npos);
  EXPECT_FALSE(SignersBundle::Load((dir_.path() / "missing.pem").string()));
}

}  // namespace
}  // namespace autoprov
