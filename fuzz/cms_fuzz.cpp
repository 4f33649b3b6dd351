// libFuzzer target: any bytes as a detached CMS signature (S-12.1), read alone and verified over a
// fixed content against a fixed bundle. Invariants: nothing crashes or leaks; a signature that
// verifies can also be read, and names the signing time it was verified with; the content's
// digest path (VerifyDigest) agrees with the content path. The same bytes as an encrypted file
// (S-12.3): told apart, parsed as EnvelopedData, decrypted with a password.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/digest.hpp"
#include "signing/encryption.hpp"
#include "signing/signature.hpp"

namespace {

// The CA of the corpus's signatures (fuzz/corpus/cms), made with openssl once.
constexpr std::string_view kBundle = R"(-----BEGIN CERTIFICATE-----
MIIBezCCASGgAwIBAgIUJvJBL08vP6tPLj+nLt45f+OkbqowCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHZnV6eiBDQTAgFw0yNjEyMDUwNDQyNDdaGA8yMTI2MTExMTA0
NDI0N1owEjEQMA4GA1UEAwwHZnV6eiBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABJPS1tSdk/Mx012pCU184xQCa1Xdi2QlIv+EMV0nxgODrmTccSaY+e7G2a/g
SvN4TZQbFzqiG68LhK5XmZE5iEWjUzBRMB0GA1UdDgQWBBSbSQnh5LUjGfLfM/gY
sBcIrvPzJzAfBgNVHSMEGDAWgBSbSQnh5LUjGfLfM/gYsBcIrvPzJzAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCOMEthdCDVOGjI+HhO/xs97tuQ
03xPldajc0pBR63C9QIgA1k/EH23jsr7nSR+Uij9hN8J1/c12ypFjupvFpNsvbU=
-----END CERTIFICATE-----
)";
constexpr std::string_view kContent = "fuzz content\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autoprov;
  static const SignersBundle bundle = [] {
    auto b = SignersBundle::FromPem(kBundle, "fuzz bundle");
    if (!b) std::abort();
    return std::move(*b);
  }();
  std::string_view signature(reinterpret_cast<const char*>(data), size);
  auto read = ReadSignature(signature);
  VerifyOptions options{4102444800LL, true};  // 2100-01-01
  auto verdict = VerifyDetached(kContent, signature, bundle, options);
  if (verdict) {
    if (!read || read->signed_at != verdict.signer->signed_at) std::abort();
  }
  auto by_digest = VerifyDigest(Sha256Hex(kContent), signature, bundle, options);
  if (static_cast<bool>(by_digest) != static_cast<bool>(verdict)) std::abort();
  switch (DetectEncryption(signature)) {
    case Encryption::kEnveloped:
      if (DecryptEnveloped(signature, DeviceKeyPair{})) std::abort();  // no key: never plaintext
      break;
    case Encryption::kPassword:
      (void)DecryptWithPassword(signature, PasswordKey{"fuzz", KeyDerivation::kPbkdf2, 1});
      (void)DecryptWithPassword(signature, PasswordKey{"fuzz", KeyDerivation::kMd5, 1});
      break;
    case Encryption::kNone:
      break;
  }
  return 0;
}
