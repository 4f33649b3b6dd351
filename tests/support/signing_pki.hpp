// A throwaway PKI made with the openssl command line, as an operator would make theirs: a CA the
// device trusts, a code-signing signer under it, a signer for another purpose (TLS server), a
// signer valid only in 2020, and an outsider CA with its own signer. Files are made once per
// process in a temporary directory and signed with `openssl cms -sign`.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace autoprov::test_support {

class SigningPki {
 public:
  static const SigningPki& Get() {
    static SigningPki pki;
    return pki;
  }
  std::filesystem::path dir;
  // "<dir>/<name>.pem" and "<dir>/<name>.key"
  std::string Cert(const std::string& name) const { return (dir / (name + ".pem")).string(); }
  std::string Key(const std::string& name) const { return (dir / (name + ".key")).string(); }
  std::string Read(const std::string& file) const {
    std::ifstream in(dir / file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // `openssl cms -sign` of `file` (a path) by `signer`, with extra options (e.g. "-outform PEM",
  // "-noattr"); returns the signature's bytes, "" when openssl failed.
  std::string SignWithOpenssl(const std::string& file, const std::string& signer,
                              const std::string& options = "-outform DER") const {
    std::string out = (dir / "last.p7s").string();
    std::string cmd = "openssl cms -sign -binary -in '" + file + "' -signer " + Cert(signer) +
                      " -inkey " + Key(signer) + " " + options + " -out " + out + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) return "";
    return Read("last.p7s");
  }

  // Runs a shell command in the PKI's directory; true when it succeeded.
  bool Shell(const std::string& cmd) const {
    std::string quiet = "(cd '" + dir.string() + "' && " + cmd + ") >/dev/null 2>&1";
    return std::system(quiet.c_str()) == 0;
  }

 private:
  SigningPki() {
    dir = std::filesystem::temp_directory_path() /
          ("autoprov-signing-pki-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string d = dir.string();
    Run("cd " + d +
        " && printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\nnew_certs_dir=.\\n"
        "serial=serial\\ndefault_md=sha256\\npolicy=p\\nunique_subject=no\\n[p]\\n"
        "commonName=supplied\\n' > ca.cnf"
        " && printf 'extendedKeyUsage=codeSigning\\nkeyUsage=digitalSignature\\n' > code.ext"
        " && printf 'extendedKeyUsage=serverAuth\\nkeyUsage=digitalSignature\\n' > tls.ext");
    for (const char* ca : {"ca", "outsider-ca"})
      Run("cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout " + ca + ".key -out " +
          ca + ".pem -subj '/CN=" + ca + "' -days 3650");
    Issue("signer", "ca", "code.ext", "");
    Issue("tls-signer", "ca", "tls.ext", "");
    Issue("outsider", "outsider-ca", "code.ext", "");
    Issue("expired-signer", "ca", "code.ext",
          "-startdate 20200101000000Z -enddate 20200102000000Z");
    // S-12.3: devices that files are encrypted to (their mutual-TLS pairs), one with an EC key.
    Run("cd " + d + " && printf 'extendedKeyUsage=clientAuth\\nkeyUsage=digitalSignature," +
        "keyEncipherment,keyAgreement\\n' > device.ext");
    Issue("device-a", "ca", "device.ext", "");
    Issue("device-b", "ca", "device.ext", "");
    Issue("device-ec", "ca", "device.ext", "", "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1");
  }
  ~SigningPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void Issue(const std::string& name, const std::string& ca, const std::string& ext,
             const std::string& dates, const std::string& key = "-newkey rsa:2048") {
    std::string d = dir.string();
    Run("cd " + d + " && : > index.txt && openssl rand -hex 8 > serial && openssl req " + key +
        " -nodes -keyout " + name + ".key -out " + name + ".csr -subj '/CN=" + name +
        "/O=autoprov test'" + " && openssl ca -batch -notext -config ca.cnf -cert " + ca +
        ".pem -keyfile " + ca + ".key -in " + name + ".csr -out " + name + ".pem -extfile " + ext +
        " " + (dates.empty() ? "-days 365" : dates));
  }
  static void Run(const std::string& cmd) {
    std::string quiet = "(" + cmd + ") >/dev/null 2>&1";
    if (std::system(quiet.c_str()) != 0) throw std::runtime_error("PKI set-up failed: " + cmd);
  }
};

}  // namespace autoprov::test_support
