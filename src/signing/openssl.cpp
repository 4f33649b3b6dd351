#include "signing/openssl.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>

namespace autoprov::ossl {

Bio MemoryBio(std::string_view data) {
  return Bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioText(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string LastError() {
  unsigned long e = ERR_get_error();
  std::string text;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text.empty() ? "no detail from OpenSSL" : text;
}

std::string Subject(X509* cert) {
  Bio out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  return BioText(out.get());
}

std::string Serial(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (!bn) return "?";
  char* hex = BN_bn2hex(bn);
  std::string s = hex ? hex : "?";
  OPENSSL_free(hex);
  BN_free(bn);
  return s;
}

Expected<Cert> LoadCert(const std::string& path) {
  Bio in(BIO_new_file(path.c_str(), "r"));
  if (!in) return Fail(ErrorCode::kIo, "cannot read the certificate " + path);
  Cert cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  if (!cert)
    return Fail(ErrorCode::kInvalidArgument,
                path + ": not a PEM certificate (" + LastError() + ")");
  return cert;
}

Expected<Key> LoadKey(const std::string& path) {
  Bio in(BIO_new_file(path.c_str(), "r"));
  if (!in) return Fail(ErrorCode::kIo, "cannot read the private key " + path);
  Key key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  if (!key)
    return Fail(ErrorCode::kInvalidArgument,
                path + ": not a PEM private key (" + LastError() + ")");
  return key;
}

}  // namespace autoprov::ossl
