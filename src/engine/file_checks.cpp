#include "engine/file_checks.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <regex>

#include "common/digest.hpp"
#include "common/text.hpp"

namespace autoprov {

std::string ConfigCrc(std::string_view content, long long mode) {
  char buf[32];
  if (mode == 1) {
    std::snprintf(buf, sizeof buf, "1:%08x", Crc32Of(content));
    return buf;
  }
  if (mode == 2) {
    std::vector<uint32_t> lines;
    size_t pos = 0;
    while (pos <= content.size()) {
      size_t nl = content.find('\n', pos);
      if (nl == std::string_view::npos) nl = content.size();
      auto line = Trim(content.substr(pos, nl - pos));
      if (!line.empty()) lines.push_back(Crc32Of(line));
      pos = nl + 1;
    }
    std::sort(lines.begin(), lines.end());
    Crc32 c;
    for (uint32_t v : lines) c.Update(&v, sizeof v);
    std::snprintf(buf, sizeof buf, "2:%08x", c.value());
    return buf;
  }
  return "";
}

std::string VersionFromFileName(std::string_view name) {
  static const std::regex kToken(R"((\d+)\.(\d+)([A-Za-z]*)\.(\d+)\.(\d+))");
  std::string s(name);
  auto slash = s.find_last_of('/');
  if (slash != std::string::npos) s = s.substr(slash + 1);
  auto q = s.find_first_of("?#");
  if (q != std::string::npos) s.resize(q);
  // S-9.3: the last version token of the name, not the first dotted quad
  // (10.1.1.1_Mediant_7.20A.252.011.cmp is 7.20A.252.011).
  std::string last;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kToken); it != std::sregex_iterator();
       ++it)
    last = it->str(0);
  return last;
}

int CompareVersions(std::string_view a, std::string_view b) {
  auto tokens = [](std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
      if (!std::isalnum(static_cast<unsigned char>(s[i]))) {
        ++i;
        continue;
      }
      bool digit = std::isdigit(static_cast<unsigned char>(s[i]));
      size_t j = i;
      while (j < s.size() && std::isalnum(static_cast<unsigned char>(s[j])) &&
             static_cast<bool>(std::isdigit(static_cast<unsigned char>(s[j]))) == digit)
        ++j;
      out.emplace_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  };
  auto ta = tokens(a), tb = tokens(b);
  for (size_t i = 0; i < std::max(ta.size(), tb.size()); ++i) {
    if (i >= ta.size()) return -1;
    if (i >= tb.size()) return 1;
    const auto &x = ta[i], &y = tb[i];
    bool dx = std::isdigit(static_cast<unsigned char>(x[0])),
         dy = std::isdigit(static_cast<unsigned char>(y[0]));
    if (dx && dy) {
      auto strip = [](const std::string& v) {
        size_t k = v.find_first_not_of('0');
        return k == std::string::npos ? std::string("0") : v.substr(k);
      };
      std::string nx = strip(x), ny = strip(y);
      if (nx.size() != ny.size()) return nx.size() < ny.size() ? -1 : 1;
      if (nx != ny) return nx < ny ? -1 : 1;
    } else if (dx != dy) {
      return dx ? 1 : -1;  // "7.20.1" > "7.20A"? a number after the same prefix counts as later
    } else {
      std::string ux = ToLower(x), uy = ToLower(y);
      if (ux != uy) return ux < uy ? -1 : 1;
    }
  }
  return 0;
}

std::vector<std::string> LicenseSerials(std::string_view content) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = content.find("S/N", pos)) != std::string_view::npos) {
    size_t i = pos + 3;
    while (i < content.size() && (content[i] == ' ' || content[i] == '\t' || content[i] == ':'))
      ++i;
    size_t j = i;
    while (j < content.size() &&
           (std::isalnum(static_cast<unsigned char>(content[j])) || content[j] == '-'))
      ++j;
    if (j > i) out.emplace_back(content.substr(i, j - i));
    pos = j;
  }
  return out;
}

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioDeleter> Bio(std::string_view pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "no PEM data";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

int NoPassword(char*, int, int, void*) { return -1; }  // encrypted keys cannot be used unattended

}  // namespace

Expected<int> CountPemCertificates(std::string_view pem) {
  auto bio = Bio(pem);
  int count = 0;
  for (;;) {
    std::unique_ptr<X509, X509Deleter> cert(
        PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
    if (!cert) break;
    ++count;
  }
  ERR_clear_error();
  if (count == 0)
    return Fail(ErrorCode::kRejected,
                "not a PEM certificate (no '-----BEGIN CERTIFICATE-----' block parses)");
  return count;
}

Expected<void> CheckPemPrivateKey(std::string_view pem) {
  if (pem.find("ENCRYPTED") != std::string_view::npos)
    return Fail(ErrorCode::kRejected,
                "the private key is encrypted; the device needs an unencrypted PEM key");
  auto bio = Bio(pem);
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (!key) return Fail(ErrorCode::kRejected, "not a PEM private key: " + OpenSslError());
  return {};
}

Expected<bool> KeyMatchesCertificate(std::string_view cert_pem, std::string_view key_pem) {
  auto cb = Bio(cert_pem);
  std::unique_ptr<X509, X509Deleter> cert(
      PEM_read_bio_X509(cb.get(), nullptr, NoPassword, nullptr));
  if (!cert) return Fail(ErrorCode::kRejected, "not a PEM certificate: " + OpenSslError());
  auto kb = Bio(key_pem);
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      PEM_read_bio_PrivateKey(kb.get(), nullptr, NoPassword, nullptr));
  if (!key) return Fail(ErrorCode::kRejected, "not a PEM private key: " + OpenSslError());
  bool match = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  return match;
}

}  // namespace autoprov
