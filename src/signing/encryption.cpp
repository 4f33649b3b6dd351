#include "signing/encryption.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <vector>

#include "signing/openssl.hpp"

namespace autoprov {
namespace {

constexpr std::string_view kSaltMagic = "Salted__";
constexpr std::string_view kSaltMagicBase64 = "U2FsdGVkX1";  // base64 of "Salted__" + 2 bits
constexpr size_t kSaltSize = 8, kKeySize = 32, kIvSize = 16, kBlock = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using namespace ossl;

// Key material wiped when it goes.
struct Secret {
  std::array<unsigned char, kKeySize + kIvSize> bytes{};
  ~Secret() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  unsigned char* key() { return bytes.data(); }
  unsigned char* iv() { return bytes.data() + kKeySize; }
};

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string_view SkipSpace(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool IsPemCms(std::string_view s) {
  s = SkipSpace(s);
  return s.starts_with("-----BEGIN CMS-----") || s.starts_with("-----BEGIN PKCS7-----");
}

bool IsSmime(std::string_view s) {
  return StartsWithNoCase(s, "MIME-Version:") &&
         s.substr(0, 1024).find("pkcs7-mime") != std::string_view::npos;
}

// The DER of a ContentInfo whose content type is enveloped-data (1.2.840.113549.1.7.3) or
// authenticated-enveloped-data (1.2.840.113549.1.9.16.1.23): the OID follows the outer SEQUENCE's
// tag and length.
bool IsDerEnveloped(std::string_view s) {
  static constexpr unsigned char kEnveloped[] = {0x06, 0x09, 0x2A, 0x86, 0x48, 0x86,
                                                 0xF7, 0x0D, 0x01, 0x07, 0x03};
  static constexpr unsigned char kAuthEnveloped[] = {0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7,
                                                     0x0D, 0x01, 0x09, 0x10, 0x01, 0x17};
  if (s.size() < 16 || static_cast<unsigned char>(s[0]) != 0x30) return false;
  auto len = static_cast<unsigned char>(s[1]);
  size_t at = len < 0x80 ? 2 : 2 + (len & 0x7F);
  auto matches = [&](const unsigned char* oid, size_t n) {
    return at + n <= s.size() &&
           std::equal(oid, oid + n, s.begin() + static_cast<long>(at),
                      [](unsigned char a, char b) { return a == static_cast<unsigned char>(b); });
  };
  return matches(kEnveloped, sizeof kEnveloped) || matches(kAuthEnveloped, sizeof kAuthEnveloped);
}

Expected<Cms> ParseEnveloped(std::string_view content) {
  Bio in = MemoryBio(content);
  Cms cms;
  if (IsPemCms(content))
    cms.reset(PEM_read_bio_CMS(in.get(), nullptr, nullptr, nullptr));
  else if (IsSmime(content))
    cms.reset(SMIME_read_CMS(in.get(), nullptr));
  else
    cms.reset(d2i_CMS_bio(in.get(), nullptr));
  if (!cms)
    return Fail(ErrorCode::kRejected,
                "not a readable CMS EnvelopedData (truncated or corrupt): " + LastError());
  int type = OBJ_obj2nid(CMS_get0_type(cms.get()));
  if (type != NID_pkcs7_enveloped && type != NID_id_smime_ct_authEnvelopedData)
    return Fail(ErrorCode::kRejected,
                "a CMS structure, but not EnvelopedData (" + std::string(OBJ_nid2sn(type)) + ")");
  return cms;
}

std::string Describe(X509* cert) { return Subject(cert) + ", serial " + Serial(cert); }

// Whether one of the file's recipients is `cert`: key transport (RSA) by issuer and serial or key
// identifier, key agreement (EC) likewise.
bool IsRecipient(CMS_ContentInfo* cms, X509* cert, int& recipients) {
  STACK_OF(CMS_RecipientInfo)* infos = CMS_get0_RecipientInfos(cms);
  recipients = infos ? sk_CMS_RecipientInfo_num(infos) : 0;
  for (int i = 0; i < recipients; ++i) {
    CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(infos, i);
    int type = CMS_RecipientInfo_type(ri);
    if (type == CMS_RECIPINFO_TRANS && CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0) return true;
    if (type == CMS_RECIPINFO_AGREE) {
      STACK_OF(CMS_RecipientEncryptedKey)* reks = CMS_RecipientInfo_kari_get0_reks(ri);
      for (int k = 0; reks && k < sk_CMS_RecipientEncryptedKey_num(reks); ++k)
        if (CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(reks, k), cert) ==
            0)
          return true;
    }
  }
  return false;
}

// openssl enc's key and IV from the password and salt.
Expected<void> DeriveKey(const PasswordKey& key, const unsigned char* salt, Secret& out) {
  if (key.password.empty())
    return Fail(ErrorCode::kInvalidArgument, "no password to decrypt with (S-12.3)");
  const auto* pw = key.password.data();
  int pw_len = static_cast<int>(key.password.size());
  if (key.derivation == KeyDerivation::kPbkdf2) {
    if (key.iterations < 1)
      return Fail(ErrorCode::kInvalidArgument, "PBKDF2 needs at least one iteration");
    if (PKCS5_PBKDF2_HMAC(pw, pw_len, salt, kSaltSize, key.iterations, EVP_sha256(),
                          static_cast<int>(out.bytes.size()), out.bytes.data()) != 1)
      return Fail(ErrorCode::kInternal, "PBKDF2 failed: " + LastError());
    return {};
  }
  const EVP_MD* md = key.derivation == KeyDerivation::kMd5 ? EVP_md5() : EVP_sha256();
  if (EVP_BytesToKey(EVP_aes_256_cbc(), md, salt, reinterpret_cast<const unsigned char*>(pw),
                     pw_len, 1, out.key(), out.iv()) != static_cast<int>(kKeySize))
    return Fail(ErrorCode::kInternal, "key derivation failed: " + LastError());
  return {};
}

Expected<std::string> DecodeBase64(std::string_view text) {
  std::unique_ptr<EVP_ENCODE_CTX, void (*)(EVP_ENCODE_CTX*)> ctx(EVP_ENCODE_CTX_new(),
                                                                 EVP_ENCODE_CTX_free);
  std::string out(text.size() / 4 * 3 + 4, '\0');
  int n = 0, total = 0;
  EVP_DecodeInit(ctx.get());
  if (EVP_DecodeUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                       reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0)
    return Fail(ErrorCode::kRejected, "openssl enc -a file: not valid base64");
  total = n;
  if (EVP_DecodeFinal(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &n) < 0)
    return Fail(ErrorCode::kRejected, "openssl enc -a file: not valid base64 (truncated?)");
  out.resize(static_cast<size_t>(total + n));
  return out;
}

}  // namespace

Encryption DetectEncryption(std::string_view content) {
  if (content.starts_with(kSaltMagic) || content.starts_with(kSaltMagicBase64))
    return Encryption::kPassword;
  if (IsDerEnveloped(content)) return Encryption::kEnveloped;
  if (IsPemCms(content) || IsSmime(content)) {
    // PEM and S/MIME may hold other CMS types (a signature): only EnvelopedData is encrypted.
    ERR_set_mark();
    bool enveloped = ParseEnveloped(content).has_value();
    ERR_pop_to_mark();
    if (enveloped) return Encryption::kEnveloped;
  }
  return Encryption::kNone;
}

std::string_view EncryptionName(Encryption e) {
  switch (e) {
    case Encryption::kEnveloped:
      return "CMS EnvelopedData";
    case Encryption::kPassword:
      return "openssl enc";
    case Encryption::kNone:
      break;
  }
  return "none";
}

std::string_view KeyDerivationName(KeyDerivation d) {
  switch (d) {
    case KeyDerivation::kSha256:
      return "sha256";
    case KeyDerivation::kMd5:
      return "md5";
    case KeyDerivation::kPbkdf2:
      break;
  }
  return "pbkdf2";
}

Expected<KeyDerivation> ParseKeyDerivation(std::string_view name) {
  for (auto d : {KeyDerivation::kPbkdf2, KeyDerivation::kSha256, KeyDerivation::kMd5})
    if (name == KeyDerivationName(d)) return d;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown key derivation '" + std::string(name) + "' (pbkdf2, sha256 or md5)");
}

Expected<std::string> DecryptEnveloped(std::string_view content, const DeviceKeyPair& keys) {
  auto cms = ParseEnveloped(content);
  if (!cms) return Unexpected(cms.error());
  if (keys.cert_path.empty() || keys.key_path.empty())
    return Fail(ErrorCode::kRejected,
                "encrypted to a device certificate, but this device has no certificate and key "
                "to decrypt with (hooks.ini DecryptionCert/DecryptionKey, or a mutual-TLS pair)");
  auto cert = LoadCert(keys.cert_path);
  if (!cert) return Unexpected(cert.error());
  auto key = LoadKey(keys.key_path);
  if (!key) return Unexpected(key.error());
  int recipients = 0;
  if (!IsRecipient(cms->get(), cert->get(), recipients))
    return Fail(ErrorCode::kRejected,
                "not encrypted for this device: none of its " + std::to_string(recipients) +
                    " recipient(s) is this device's certificate (" + Describe(cert->get()) + ")");
  Bio out(BIO_new(BIO_s_mem()));
  if (CMS_decrypt(cms->get(), key->get(), cert->get(), nullptr, out.get(), CMS_BINARY) != 1)
    return Fail(ErrorCode::kRejected,
                "cannot decrypt the CMS EnvelopedData (corrupt, or the "
                "key does not match the certificate): " +
                    LastError());
  return BioText(out.get());
}

Expected<std::string> DecryptWithPassword(std::string_view content, const PasswordKey& key) {
  std::string decoded;
  if (content.starts_with(kSaltMagicBase64)) {
    auto d = DecodeBase64(content);
    if (!d) return Unexpected(d.error());
    decoded = std::move(*d);
    content = decoded;
  }
  if (!content.starts_with(kSaltMagic) || content.size() < kSaltMagic.size() + kSaltSize)
    return Fail(ErrorCode::kRejected, "not an openssl enc file with a salt (\"Salted__\")");
  auto salt = reinterpret_cast<const unsigned char*>(content.data() + kSaltMagic.size());
  std::string_view cipher = content.substr(kSaltMagic.size() + kSaltSize);
  if (cipher.empty() || cipher.size() % kBlock != 0)
    return Fail(ErrorCode::kRejected, "truncated or corrupt: the ciphertext is " +
                                          std::to_string(cipher.size()) +
                                          " bytes, not a whole number of 16-byte AES blocks");
  Secret secret;
  if (auto d = DeriveKey(key, salt, secret); !d) return Unexpected(d.error());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(cipher.size() + kBlock, '\0');
  int n = 0, last = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, secret.key(), secret.iv()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char*>(cipher.data()),
                        static_cast<int>(cipher.size())) != 1)
    return Fail(ErrorCode::kInternal, "AES-256-CBC failed: " + LastError());
  if (EVP_DecryptFinal_ex(ctx.get(), o + n, &last) != 1) {
    ERR_clear_error();
    OPENSSL_cleanse(out.data(), out.size());
    return Fail(ErrorCode::kRejected,
                "wrong password or corrupt file (the padding does not check after decrypting "
                "with the " +
                    std::string(KeyDerivationName(key.derivation)) + " key derivation, S-12.3)");
  }
  out.resize(static_cast<size_t>(n + last));
  return out;
}

bool LooksLikeText(std::string_view content) {
  return std::none_of(content.begin(), content.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B;
  });
}

Expected<std::string> EncryptEnveloped(std::string_view plaintext, const std::string& cert_path) {
  auto cert = LoadCert(cert_path);
  if (!cert) return Unexpected(cert.error());
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> recipients(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_free(s); });
  sk_X509_push(recipients.get(), cert->get());
  Bio in = MemoryBio(plaintext);
  Cms cms(CMS_encrypt(recipients.get(), in.get(), EVP_aes_256_cbc(), CMS_BINARY));
  if (!cms) return Fail(ErrorCode::kInvalidArgument, "cannot encrypt: " + LastError());
  Bio out(BIO_new(BIO_s_mem()));
  if (i2d_CMS_bio(out.get(), cms.get()) != 1)
    return Fail(ErrorCode::kInternal, "cannot write the CMS: " + LastError());
  return BioText(out.get());
}

Expected<std::string> EncryptWithPassword(std::string_view plaintext, const PasswordKey& key) {
  unsigned char salt[kSaltSize];
  if (RAND_bytes(salt, sizeof salt) != 1)
    return Fail(ErrorCode::kInternal, "no random salt: " + LastError());
  Secret secret;
  if (auto d = DeriveKey(key, salt, secret); !d) return Unexpected(d.error());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(kSaltMagic);
  out.append(reinterpret_cast<const char*>(salt), sizeof salt);
  size_t head = out.size();
  out.resize(head + plaintext.size() + kBlock);
  int n = 0, last = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data() + head);
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, secret.key(), secret.iv()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), o + n, &last) != 1)
    return Fail(ErrorCode::kInternal, "AES-256-CBC failed: " + LastError());
  out.resize(head + static_cast<size_t>(n + last));
  return out;
}

}  // namespace autoprov
