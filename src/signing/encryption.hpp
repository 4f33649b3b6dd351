// Encrypted provisioning files (SPEC S-12.3): CMS EnvelopedData to the device's certificate, and
// password encryption as `openssl enc -aes-256-cbc` writes it ("Salted__", binary or base64).
// Which one a file is, is told by its content; the password's key derivation cannot be, so the
// caller names it. OpenSSL does the cryptography; no state and no I/O but the key files named.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace autoprov {

enum class Encryption {
  kNone,       // plaintext
  kEnveloped,  // CMS EnvelopedData: DER, PEM ("-----BEGIN CMS-----") or S/MIME
  kPassword,   // openssl enc with a salt: "Salted__" + salt + AES-256-CBC, or that in base64
};
Encryption DetectEncryption(std::string_view content);
std::string_view EncryptionName(Encryption e);  // "CMS EnvelopedData", "openssl enc", "none"

// How `openssl enc` turned the password into a key and IV. PBKDF2 (HMAC-SHA-256, `-pbkdf2 -iter N`)
// is what to use; the legacy one-round EVP_BytesToKey with SHA-256 (OpenSSL 1.1 and later without
// -pbkdf2) or MD5 (OpenSSL 1.0, `-md md5`) is what deployed phone provisioning tools still write.
enum class KeyDerivation { kPbkdf2, kSha256, kMd5 };
std::string_view KeyDerivationName(KeyDerivation d);  // "pbkdf2", "sha256", "md5"
Expected<KeyDerivation> ParseKeyDerivation(std::string_view name);

struct PasswordKey {
  std::string password;
  KeyDerivation derivation = KeyDerivation::kPbkdf2;
  int iterations = 10000;  // PBKDF2 only; openssl enc's default
};

// The device's key pair for files encrypted to it: PEM paths. The certificate is always passed to
// the decryption: without it OpenSSL would turn a file meant for another device into random bytes
// (its countermeasure against padding oracles) instead of an error.
struct DeviceKeyPair {
  std::string cert_path;
  std::string key_path;
};

// The plaintext of a CMS EnvelopedData file. "not encrypted for this device" when none of its
// recipients is the certificate.
Expected<std::string> DecryptEnveloped(std::string_view content, const DeviceKeyPair& keys);
// The plaintext of an `openssl enc -aes-256-cbc -salt` file. A wrong password is found by the
// padding check only about 255 times in 256: callers check that the plaintext makes sense
// (LooksLikeText for the text kinds) and say "wrong password or corrupt file" when not.
Expected<std::string> DecryptWithPassword(std::string_view content, const PasswordKey& key);

// No control bytes but tab, CR, LF, FF and ESC: what configuration files, scripts, PEM files and
// licence keys are. A wrong password's bytes fail it with near certainty beyond a few bytes.
bool LooksLikeText(std::string_view content);

// `autoprov encrypt`: as `openssl cms -encrypt -binary -aes256 -recip CERT -outform DER` ...
Expected<std::string> EncryptEnveloped(std::string_view plaintext, const std::string& cert_path);
// ... and as `openssl enc -aes-256-cbc -salt` with the derivation's options (binary output).
Expected<std::string> EncryptWithPassword(std::string_view plaintext, const PasswordKey& key);

}  // namespace autoprov
