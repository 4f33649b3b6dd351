// The signing module's own OpenSSL helpers (signature.cpp, encryption.cpp): owners for OpenSSL's
// objects, memory BIOs, the error queue as text, a certificate's subject and serial, PEM files.
// Internal to the module: the engine and the tools see only signature.hpp and encryption.hpp.
#pragma once

// clang-format off
// pem.h first: cms.h declares PEM_read_bio_CMS only after it.
#include <openssl/pem.h>
#include <openssl/cms.h>
// clang-format on
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace autoprov::ossl {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CmsFree {
  void operator()(CMS_ContentInfo* c) const { CMS_ContentInfo_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CertsFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cms = std::unique_ptr<CMS_ContentInfo, CmsFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Certs = std::unique_ptr<STACK_OF(X509), CertsFree>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

// A read-only BIO over `data` (which must outlive it).
Bio MemoryBio(std::string_view data);
// What a memory BIO holds.
std::string BioText(BIO* b);
// OpenSSL's last error as text, and the queue cleared.
std::string LastError();
// "CN=signer,O=Example" (RFC 2253) and the serial number in hexadecimal.
std::string Subject(X509* cert);
std::string Serial(X509* cert);
// The first certificate / private key of a PEM file; an error that names the file.
Expected<Cert> LoadCert(const std::string& path);
Expected<Key> LoadKey(const std::string& path);

}  // namespace autoprov::ossl
