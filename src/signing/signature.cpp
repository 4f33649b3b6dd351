#include "signing/signature.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <charconv>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "common/text.hpp"
#include "signing/openssl.hpp"

namespace autoprov {
namespace {

// A signing time ahead of the device's clock by more than this is refused (clocks drift).
constexpr long long kClockSkew = 300;

struct CtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
using namespace ossl;

Cms ParseCms(std::string_view signature) {
  ERR_clear_error();
  if (signature.starts_with("-----BEGIN")) {
    auto bio = MemoryBio(signature);
    return Cms(PEM_read_bio_CMS(bio.get(), nullptr, nullptr, nullptr));
  }
  auto bio = MemoryBio(signature);
  return Cms(d2i_CMS_bio(bio.get(), nullptr));
}

// What one signature says before any check of trust: its one signer info and the signing time.
struct Parsed {
  Cms cms;
  CMS_SignerInfo* si = nullptr;
  long long signed_at = 0;
};

std::optional<SignatureError> Parse(std::string_view signature, Parsed& p) {
  p.cms = ParseCms(signature);
  if (!p.cms)
    return SignatureError{SignatureFault::kMalformed,
                          "not a CMS signature (DER or PEM): " + LastError(), std::nullopt};
  if (OBJ_obj2nid(CMS_get0_type(p.cms.get())) != NID_pkcs7_signed)
    return SignatureError{SignatureFault::kMalformed, "a CMS structure, but not SignedData",
                          std::nullopt};
  if (CMS_is_detached(p.cms.get()) != 1)
    return SignatureError{SignatureFault::kMalformed,
                          "the signature carries its content: a detached signature is expected "
                          "(openssl cms -sign without -nodetach)",
                          std::nullopt};
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(p.cms.get());
  if (!infos || sk_CMS_SignerInfo_num(infos) != 1)
    return SignatureError{SignatureFault::kMalformed,
                          "one signer expected, the signature has " +
                              std::to_string(infos ? sk_CMS_SignerInfo_num(infos) : 0),
                          std::nullopt};
  p.si = sk_CMS_SignerInfo_value(infos, 0);
  X509_ALGOR* digest = nullptr;
  CMS_SignerInfo_get0_algs(p.si, nullptr, nullptr, &digest, nullptr);
  const ASN1_OBJECT* digest_oid = nullptr;
  if (digest) X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest);
  if (!digest_oid || OBJ_obj2nid(digest_oid) != NID_sha256)
    return SignatureError{SignatureFault::kNoSignedAttributes,
                          "the signature's digest is not SHA-256 (sign with -md sha256)",
                          std::nullopt};
  int idx = CMS_signed_get_attr_by_NID(p.si, NID_pkcs9_signingTime, -1);
  ASN1_TYPE* value =
      idx >= 0 ? X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(p.si, idx), 0) : nullptr;
  std::tm tm{};
  if (!value || (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME) ||
      ASN1_TIME_to_tm(value->value.utctime, &tm) != 1)
    return SignatureError{SignatureFault::kNoSignedAttributes,
                          "the signature has no signing time among its signed attributes "
                          "(signed with -noattr?)",
                          std::nullopt};
  p.signed_at = static_cast<long long>(timegm(&tm));
  return std::nullopt;
}

// The signer's certificate among the signature's and the bundle's certificates.
X509* FindSigner(CMS_SignerInfo* si, STACK_OF(X509) * certs) {
  for (int i = 0; i < sk_X509_num(certs); ++i)
    if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0) return sk_X509_value(certs, i);
  return nullptr;
}

}  // namespace

std::string_view SignatureFaultName(SignatureFault fault) {
  switch (fault) {
    case SignatureFault::kMissing:
      return "no signature";
    case SignatureFault::kMalformed:
      return "malformed signature";
    case SignatureFault::kUnknownSigner:
      return "unknown signer";
    case SignatureFault::kBadSignature:
      return "bad signature";
    case SignatureFault::kNotValidAtSigningTime:
      return "signer not valid at the signing time";
    case SignatureFault::kWrongKeyUsage:
      return "wrong key usage";
    case SignatureFault::kNoSignedAttributes:
      return "no SHA-256 signed attributes";
    case SignatureFault::kFutureSigningTime:
      return "signed in the future";
    case SignatureFault::kReplayed:
      return "replayed";
    case SignatureFault::kTooOld:
      return "too old";
  }
  return "refused";
}

std::string SignatureError::Text() const {
  std::string t = std::string(SignatureFaultName(fault));
  if (!detail.empty()) t += ": " + detail;
  if (signer)
    t += " (signer " + signer->subject + ", serial " + signer->serial + ", signed " +
         UtcTimeText(signer->signed_at) + ")";
  return t;
}

struct SignersBundle::Impl {
  X509_STORE* store = nullptr;
  STACK_OF(X509) * certs = nullptr;
  // The verdicts of the cryptography (all but the clock's check), by the signature's and the
  // content's SHA-256: the same bytes under the same bundle always get the same one. A fleet's
  // devices fetch the same signed files: each pair is verified once. Bounded; emptied when full.
  static constexpr size_t kMaxVerdicts = 4096;
  mutable std::mutex mu;
  mutable std::unordered_map<std::string, SignatureVerdict> verdicts;
  ~Impl() {
    X509_STORE_free(store);
    sk_X509_pop_free(certs, X509_free);
  }
};

SignersBundle::SignersBundle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SignersBundle::SignersBundle(SignersBundle&&) noexcept = default;
SignersBundle& SignersBundle::operator=(SignersBundle&&) noexcept = default;
SignersBundle::~SignersBundle() = default;
size_t SignersBundle::size() const { return static_cast<size_t>(sk_X509_num(impl_->certs)); }

Expected<SignersBundle> SignersBundle::FromPem(std::string_view pem, std::string_view origin) {
  auto impl = std::make_unique<Impl>();
  impl->store = X509_STORE_new();
  impl->certs = sk_X509_new_null();
  auto bio = MemoryBio(pem);
  ERR_clear_error();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(impl->store, cert);
    sk_X509_push(impl->certs, cert);
  }
  ERR_clear_error();  // the end of the PEM text
  if (sk_X509_num(impl->certs) == 0)
    return Fail(ErrorCode::kRejected,
                std::string(origin) + ": no PEM certificate in the signers bundle");
  return SignersBundle(std::move(impl));
}

Expected<SignersBundle> SignersBundle::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, "cannot read the signers bundle " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return FromPem(ss.str(), path);
}

namespace {

// One path for every caller: the signature is checked over its signed attributes and their
// messageDigest compared with `digest`, the content's SHA-256 (raw bytes). The content is never
// read here (an image was hashed while it downloaded), and the unsigned parts of the structure
// (its list of digest algorithms) cannot make two callers disagree.
SignatureVerdict VerifyCrypto(const std::string& digest, std::string_view signature,
                              const SignersBundle& bundle) {
  SignatureVerdict v;
  auto refuse = [&v](SignatureFault f, std::string detail, std::optional<Signer> who) {
    v.error = SignatureError{f, std::move(detail), std::move(who)};
    return std::move(v);
  };
  Parsed p;
  if (auto e = Parse(signature, p)) {
    v.error = std::move(*e);
    return v;
  }
  // The signature's certificates, then the bundle's: where the signer and its chain are found.
  Certs certs(CMS_get1_certs(p.cms.get()));
  if (!certs) certs.reset(sk_X509_new_null());
  for (int i = 0; i < sk_X509_num(bundle.impl().certs); ++i) {
    X509* c = sk_X509_value(bundle.impl().certs, i);
    X509_up_ref(c);
    sk_X509_push(certs.get(), c);
  }
  X509* cert = FindSigner(p.si, certs.get());
  if (!cert)
    return refuse(SignatureFault::kUnknownSigner,
                  "the signer's certificate is neither in the signature nor in the bundle",
                  std::nullopt);
  Signer who{Subject(cert), Serial(cert), p.signed_at};

  // The signature over the signed attributes, and the content's digest among them.
  CMS_SignerInfo_set1_signer_cert(p.si, cert);
  // CMS_verify wants content even when it does not read it: a null BIO (a memory BIO would be
  // copied by OpenSSL 3.0 into one it leaks when the structure is broken).
  Bio data(BIO_new(BIO_s_null()));
  unsigned flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NO_CONTENT_VERIFY;
  ERR_clear_error();
  if (CMS_verify(p.cms.get(), certs.get(), nullptr, data.get(), nullptr, flags) != 1)
    return refuse(SignatureFault::kBadSignature,
                  "the file or its signature was altered (" + LastError() + ")", who);
  const ASN1_OCTET_STRING* signed_digest =
      static_cast<const ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
          p.si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
  if (!signed_digest ||
      std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(signed_digest)),
                       static_cast<size_t>(ASN1_STRING_length(signed_digest))) != digest)
    return refuse(SignatureFault::kBadSignature,
                  "the file was altered: its SHA-256 is not the one signed", who);

  // The chain to a CA of the bundle, as it stood at the signing time. Purpose "any": the key
  // usage is checked below, by the agent's rule.
  std::unique_ptr<X509_STORE_CTX, CtxFree> ctx(X509_STORE_CTX_new());
  Certs untrusted(CMS_get1_certs(p.cms.get()));
  if (!ctx || X509_STORE_CTX_init(ctx.get(), bundle.impl().store, cert, untrusted.get()) != 1)
    return refuse(SignatureFault::kUnknownSigner, "cannot check the chain: " + LastError(), who);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(p.signed_at));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    std::string why = X509_verify_cert_error_string(err);
    ERR_clear_error();
    if (err == X509_V_ERR_CERT_NOT_YET_VALID || err == X509_V_ERR_CERT_HAS_EXPIRED)
      return refuse(SignatureFault::kNotValidAtSigningTime,
                    why + " at the signing time " + UtcTimeText(p.signed_at), who);
    return refuse(SignatureFault::kUnknownSigner, why + ": not signed under the signers bundle",
                  who);
  }

  // Key usage: a certificate that names its uses must name signing.
  uint32_t uses = X509_get_extension_flags(cert);
  if ((uses & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(cert) & (XKU_CODE_SIGN | XKU_SMIME)))
    return refuse(SignatureFault::kWrongKeyUsage,
                  "the signer's extended key usage allows neither code signing nor email "
                  "protection",
                  who);
  if ((uses & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage(cert) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
    return refuse(SignatureFault::kWrongKeyUsage,
                  "the signer's key usage allows no digital signature", who);

  v.signer = std::move(who);
  return v;
}

SignatureVerdict Verify(const std::string& digest, std::string_view signature,
                        const SignersBundle& bundle, const VerifyOptions& options) {
  unsigned char sig_md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(signature.data()), signature.size(), sig_md);
  std::string key(reinterpret_cast<const char*>(sig_md), sizeof sig_md);
  key += digest;
  const SignersBundle::Impl& impl = bundle.impl();
  std::optional<SignatureVerdict> cached;
  {
    std::lock_guard lock(impl.mu);
    if (auto it = impl.verdicts.find(key); it != impl.verdicts.end()) cached = it->second;
  }
  SignatureVerdict v = cached ? std::move(*cached) : VerifyCrypto(digest, signature, bundle);
  if (!cached) {
    std::lock_guard lock(impl.mu);
    if (impl.verdicts.size() >= SignersBundle::Impl::kMaxVerdicts) impl.verdicts.clear();
    impl.verdicts.emplace(std::move(key), v);
  }
  // The clock's check, on every call: a signing time ahead of the device's clock.
  if (v.signer && options.clock_trusted && v.signer->signed_at > options.now + kClockSkew) {
    Signer who = *v.signer;
    v.signer.reset();
    v.error = SignatureError{SignatureFault::kFutureSigningTime,
                             "signed " + UtcTimeText(who.signed_at) +
                                 ", after the device's clock (" + UtcTimeText(options.now) + ")",
                             who};
  }
  return v;
}

}  // namespace

SignatureVerdict VerifyDetached(std::string_view content, std::string_view signature,
                                const SignersBundle& bundle, const VerifyOptions& options) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), md);
  return Verify(std::string(reinterpret_cast<const char*>(md), sizeof md), signature, bundle,
                options);
}

SignatureVerdict VerifyDigest(std::string_view sha256_hex, std::string_view signature,
                              const SignersBundle& bundle, const VerifyOptions& options) {
  std::string raw;
  for (size_t i = 0; i + 1 < sha256_hex.size(); i += 2) {
    unsigned v = 0;
    std::from_chars(sha256_hex.data() + i, sha256_hex.data() + i + 2, v, 16);
    raw.push_back(static_cast<char>(v));
  }
  if (raw.size() != 32) {
    SignatureVerdict v;
    v.error = SignatureError{SignatureFault::kBadSignature, "no SHA-256 of the file to check",
                             std::nullopt};
    return v;
  }
  return Verify(raw, signature, bundle, options);
}

Expected<Signer> ReadSignature(std::string_view signature) {
  Parsed p;
  if (auto e = Parse(signature, p)) return Fail(ErrorCode::kRejected, e->Text());
  Signer who{"", "", p.signed_at};
  Certs certs(CMS_get1_certs(p.cms.get()));
  if (certs)
    if (X509* cert = FindSigner(p.si, certs.get())) {
      who.subject = Subject(cert);
      who.serial = Serial(cert);
    }
  return who;
}

Expected<std::string> SignDetached(std::string_view content, const std::string& cert_pem_path,
                                   const std::string& key_pem_path) {
  ERR_clear_error();
  auto cert = LoadCert(cert_pem_path);
  if (!cert) return Unexpected(cert.error());
  auto key = LoadKey(key_pem_path);
  if (!key) return Unexpected(key.error());
  if (X509_check_private_key(cert->get(), key->get()) != 1)
    return Fail(ErrorCode::kInvalidArgument, key_pem_path + " is not the key of " + cert_pem_path);
  constexpr unsigned kFlags = CMS_BINARY | CMS_DETACHED;
  Cms cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags | CMS_PARTIAL));
  auto data = MemoryBio(content);
  if (!cms || !CMS_add1_signer(cms.get(), cert->get(), key->get(), EVP_sha256(), kFlags) ||
      CMS_final(cms.get(), data.get(), nullptr, kFlags) != 1)
    return Fail(ErrorCode::kInternal, "signing failed: " + LastError());
  Bio out(BIO_new(BIO_s_mem()));
  if (i2d_CMS_bio(out.get(), cms.get()) != 1)
    return Fail(ErrorCode::kInternal, "cannot write the signature: " + LastError());
  return BioText(out.get());
}

}  // namespace autoprov
