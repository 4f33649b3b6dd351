// Detached CMS signatures over provisioning files (SPEC S-12): what a signature says (signer,
// signing time), whether it holds against the signers bundle, and why not. OpenSSL's CMS does the
// cryptography; the rules (signing time, key usage, SHA-256) are the agent's, checked here.
// No state and no I/O but the bundle file: the engine decides what a verdict means for a file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace autoprov {

// Why a signature does not vouch for a file, as the report names it (S-12.1).
enum class SignatureFault {
  kMissing,                // no signature where the policy requires one
  kMalformed,              // not a CMS SignedData, DER or PEM
  kUnknownSigner,          // its signer does not chain to a CA of the bundle
  kBadSignature,           // the content or the signature was altered
  kNotValidAtSigningTime,  // the signer's certificate (or its chain) was not valid then
  kWrongKeyUsage,          // the signer's certificate is not for signing (extended key usage)
  kNoSignedAttributes,     // no signed attributes with a signing time, or not SHA-256
  kFutureSigningTime,      // signed later than the device's clock says it is
  kReplayed,               // signed earlier than the last file accepted from the URL (S-12.2)
  kTooOld,                 // older than AupdSignatureMaxAgeDays (S-12.2)
};
std::string_view SignatureFaultName(SignatureFault fault);  // "unknown signer", ...

struct Signer {
  std::string subject;      // "CN=provisioning signer,O=Example"
  std::string serial;       // hexadecimal
  long long signed_at = 0;  // the signing time, unix seconds
};

// A refusal: the fault, what it is about, and the signer when the signature named one.
struct SignatureError {
  SignatureFault fault = SignatureFault::kMalformed;
  std::string detail;
  std::optional<Signer> signer;
  // "unknown signer: ... (signer CN=x, serial 1A)": for reports and messages.
  std::string Text() const;
};

// The CA certificates a device trusts for signed files. Loaded once; verifications may share it
// across threads (the fleet's devices do).
class SignersBundle {
 public:
  static Expected<SignersBundle> FromPem(std::string_view pem, std::string_view origin);
  static Expected<SignersBundle> Load(const std::string& path);
  SignersBundle(SignersBundle&&) noexcept;
  SignersBundle& operator=(SignersBundle&&) noexcept;
  ~SignersBundle();
  size_t size() const;  // certificates

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit SignersBundle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct VerifyOptions {
  long long now = 0;          // unix seconds: a signing time after now (+ 5 min) is refused
  bool clock_trusted = true;  // false: the future check is skipped (S-10.8)
};

// Verifies a detached signature (DER or PEM) over `content`: the signature and the content's
// SHA-256 (signed attributes), the signer's chain to the bundle at the signing time, its key usage.
// Returns the signer, or why not.
struct SignatureVerdict {
  std::optional<Signer> signer;  // set when the signature holds
  std::optional<SignatureError> error;
  explicit operator bool() const { return signer.has_value(); }
};
SignatureVerdict VerifyDetached(std::string_view content, std::string_view signature,
                                const SignersBundle& bundle, const VerifyOptions& options);

// The same for a file already hashed while it downloaded (an image on disk, a simulated device's
// discarded bytes): the signature over its signed attributes, and their message digest compared
// with `sha256_hex` — no second pass over the file (S-12.1).
SignatureVerdict VerifyDigest(std::string_view sha256_hex, std::string_view signature,
                              const SignersBundle& bundle, const VerifyOptions& options);

// What a signature names without verifying it (the CMS parse alone): for `autoprov verify` and the
// fuzzer. Fails on anything that is not a detached CMS SignedData with one signer.
Expected<Signer> ReadSignature(std::string_view signature);

// Signs `content` as `openssl cms -sign -binary -outform DER` does (detached, SHA-256, a signing
// time, the signer's certificate included): `autoprov sign`.
Expected<std::string> SignDetached(std::string_view content, const std::string& cert_pem_path,
                                   const std::string& key_pem_path);

}  // namespace autoprov
