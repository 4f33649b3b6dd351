// autoprov sign | verify | encrypt | decrypt (SPEC S-12): the operator's tools, on the library code
// the device uses. They make and check the same files as `openssl cms -sign -binary -outform DER`,
// `openssl cms -verify -purpose any -binary`, `openssl cms -encrypt -binary -aes256 -outform DER`
// and `openssl enc -aes-256-cbc -salt`.
#include <ctime>
#include <iostream>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "common/digest.hpp"
#include "common/text.hpp"
#include "device/hooks.hpp"
#include "engine/decryption.hpp"
#include "engine/signature_check.hpp"
#include "signing/encryption.hpp"
#include "signing/signature.hpp"

namespace autoprov::app {
namespace {

struct PasswordOpts {
  std::string password_file, derivation = "pbkdf2";
  int iterations = 10000;
};

void AddPasswordOptions(CLI::App* cmd, PasswordOpts& p) {
  cmd->add_option("--password-file", p.password_file,
                  "the password: the file's first line (as openssl's -pass file:)");
  cmd->add_option("--key-derivation", p.derivation,
                  "pbkdf2 (openssl enc -pbkdf2, the default), sha256 (OpenSSL 1.1+ without "
                  "-pbkdf2) or md5 (-md md5)");
  cmd->add_option("--iterations", p.iterations, "PBKDF2 iterations (default 10000, as openssl)");
}

Expected<PasswordKey> PasswordFrom(const PasswordOpts& p) {
  auto text = ReadFile(p.password_file, 4096);
  if (!text) return Unexpected(AsUsageError(text.error()));
  auto derivation = ParseKeyDerivation(p.derivation);
  if (!derivation) return Unexpected(derivation.error());
  std::string password = text->substr(0, text->find_first_of("\r\n"));
  if (password.empty())
    return Fail(ErrorCode::kInvalidArgument, p.password_file + ": the first line is empty");
  return PasswordKey{password, *derivation, p.iterations};
}

void RegisterEncryptionCommands(CLI::App& app, GlobalOptions& g) {
  struct EncryptOpts {
    std::string file, to, output;
    PasswordOpts password;
  };
  auto eo = std::make_shared<EncryptOpts>();
  auto* encrypt = app.add_subcommand(
      "encrypt",
      "encrypt FILE to a device's certificate (FILE.p7m, CMS EnvelopedData) or with a password "
      "(FILE.enc, as openssl enc -aes-256-cbc -salt)");
  encrypt->add_option("file", eo->file, "the file to encrypt")->required();
  encrypt->add_option("--to", eo->to, "the device's certificate (PEM)");
  AddPasswordOptions(encrypt, eo->password);
  encrypt->add_option("-o,--output", eo->output,
                      "where to write it (default FILE.p7m or FILE.enc)");
  encrypt->fallthrough();
  OnRun(encrypt, g, [eo]() -> Expected<void> {
    if (eo->to.empty() == eo->password.password_file.empty())
      return Fail(ErrorCode::kInvalidArgument, "give one of --to CERT and --password-file FILE");
    auto content = ReadFile(eo->file, 256u << 20);
    if (!content) return Unexpected(AsUsageError(content.error()));
    Expected<std::string> out = Fail(ErrorCode::kInternal, "");
    if (!eo->to.empty()) {
      out = EncryptEnveloped(*content, eo->to);
    } else {
      auto key = PasswordFrom(eo->password);
      if (!key) return Unexpected(key.error());
      out = EncryptWithPassword(*content, *key);
    }
    if (!out) return Unexpected(AsUsageError(out.error()));
    std::string path =
        !eo->output.empty() ? eo->output : eo->file + (eo->to.empty() ? ".enc" : ".p7m");
    if (auto w = WriteFileAtomically(path, *out); !w) return w;
    std::cout << path << ": encrypted "
              << (eo->to.empty() ? "with the password (" + eo->password.derivation + ")"
                                 : "to " + eo->to)
              << "\n";
    return {};
  });

  struct DecryptOpts {
    std::string file, cert, key, output;
    PasswordOpts password;
  };
  auto d = std::make_shared<DecryptOpts>();
  auto* decrypt = app.add_subcommand(
      "decrypt", "decrypt FILE as a device would, to check it: to standard output or -o (S-12.3)");
  decrypt->add_option("file", d->file, "the encrypted file")->required();
  decrypt->add_option("--cert", d->cert,
                      "the device's certificate (default: hooks.ini DecryptionCert, or the "
                      "device's mutual-TLS certificate)");
  decrypt->add_option("--key", d->key, "the device's private key (likewise)");
  AddPasswordOptions(decrypt, d->password);
  decrypt->add_option("-o,--output", d->output, "where to write the plaintext");
  decrypt->fallthrough();
  OnRun(decrypt, g, [&g, d]() -> Expected<void> {
    auto content = ReadFile(d->file, 256u << 20);
    if (!content) return Unexpected(AsUsageError(content.error()));
    Encryption kind = DetectEncryption(*content);
    Expected<std::string> plain = Fail(ErrorCode::kInternal, "");
    if (kind == Encryption::kNone) {
      return Fail(ErrorCode::kRejected, d->file +
                                            ": not encrypted (neither CMS EnvelopedData "
                                            "nor openssl enc with a salt)");
    } else if (kind == Encryption::kEnveloped) {
      DeviceKeyPair keys{d->cert, d->key};
      if (keys.cert_path.empty() || keys.key_path.empty()) {
        auto hooks = LoadHooks(g.state_dir);
        if (!hooks) return Unexpected(AsUsageError(hooks.error()));
        keys = DecryptionKeysOf(*hooks, g.state_dir);
      }
      plain = DecryptEnveloped(*content, keys);
    } else {
      if (d->password.password_file.empty())
        return Fail(ErrorCode::kInvalidArgument,
                    d->file + ": encrypted with a password: give --password-file");
      auto key = PasswordFrom(d->password);
      if (!key) return Unexpected(key.error());
      plain = DecryptWithPassword(*content, *key);
    }
    if (!plain) return Fail(plain.error().code, d->file + ": " + plain.error().message);
    if (d->output.empty()) {
      std::cout << *plain << std::flush;
      return {};
    }
    return WriteFileAtomically(d->output, *plain, 0600);
  });
}

}  // namespace

void RegisterSigningCommands(CLI::App& app, GlobalOptions& g) {
  struct SignOpts {
    std::string file, cert, key, output;
  };
  auto so = std::make_shared<SignOpts>();
  auto* sign = app.add_subcommand(
      "sign", "write FILE's detached CMS signature (FILE.p7s, DER) with a signer's certificate");
  sign->add_option("file", so->file, "the file to sign")->required();
  sign->add_option("--cert", so->cert, "the signer's certificate (PEM)")->required();
  sign->add_option("--key", so->key, "the signer's private key (PEM)")->required();
  sign->add_option("-o,--output", so->output, "where to write the signature (default FILE.p7s)");
  sign->fallthrough();
  OnRun(sign, g, [so]() -> Expected<void> {
    auto content = ReadFile(so->file, 8ull << 30);
    if (!content) return Unexpected(AsUsageError(content.error()));
    if (Encryption e = DetectEncryption(*content); e != Encryption::kNone)
      return Fail(ErrorCode::kInvalidArgument,
                  so->file + " is encrypted (" + std::string(EncryptionName(e)) +
                      "): a device verifies the signature of the plaintext after decrypting it; "
                      "sign the plaintext, then encrypt it (S-12.3)");
    auto signature = SignDetached(*content, so->cert, so->key);
    if (!signature) return Unexpected(signature.error());
    std::string out = so->output.empty() ? so->file + ".p7s" : so->output;
    if (auto w = WriteFileAtomically(out, *signature); !w) return w;
    std::cout << out << ": signed by " << so->cert << "\n";
    return {};
  });

  struct VerifyOpts {
    std::string file, signature, signers;
  };
  auto vo = std::make_shared<VerifyOpts>();
  auto* verify = app.add_subcommand(
      "verify",
      "check FILE's detached signature as a device would (chain, signing time, key "
      "usage, content)");
  verify->add_option("file", vo->file, "the signed file")->required();
  verify->add_option("--signature", vo->signature, "its signature (default FILE.p7s)");
  verify->add_option("--signers", vo->signers,
                     "the signers bundle (PEM CA certificates; default: hooks.ini SignersBundle)");
  verify->fallthrough();
  OnRun(verify, g, [&g, vo]() -> Expected<void> {
    std::shared_ptr<const SignersBundle> bundle;
    if (!vo->signers.empty()) {
      auto b = SignersBundle::Load(vo->signers);
      if (!b) return Unexpected(AsUsageError(b.error()));
      bundle = std::make_shared<SignersBundle>(std::move(*b));
    } else {
      auto hooks = LoadHooks(g.state_dir);
      if (!hooks) return Unexpected(AsUsageError(hooks.error()));
      auto b = LoadSigners(g.state_dir, *hooks);
      if (!b) return Unexpected(AsUsageError(b.error()));
      if (!*b)
        return Fail(ErrorCode::kInvalidArgument,
                    "no signers bundle: give --signers, or SignersBundle in hooks.ini");
      bundle = std::move(*b);
    }
    auto content = ReadFile(vo->file, 8ull << 30);
    if (!content) return Unexpected(AsUsageError(content.error()));
    std::string sig_path = vo->signature.empty() ? vo->file + ".p7s" : vo->signature;
    auto signature = ReadFile(sig_path, 1u << 20);
    if (!signature) return Unexpected(AsUsageError(signature.error()));
    auto v = VerifyDetached(*content, *signature, *bundle,
                            VerifyOptions{static_cast<long long>(std::time(nullptr)), true});
    if (!v && DetectEncryption(*content) != Encryption::kNone)
      return Fail(ErrorCode::kRejected,
                  vo->file + ": refused: " + v.error->Text() +
                      "; the file is encrypted, and a signature is over the plaintext (S-12.3): "
                      "autoprov decrypt it first and verify the plaintext");
    if (!v) return Fail(ErrorCode::kRejected, vo->file + ": refused: " + v.error->Text());
    std::cout << vo->file << ": verified: " << v.signer->subject << ", serial " << v.signer->serial
              << ", signed " << UtcTimeText(v.signer->signed_at) << "\n";
    return {};
  });
  RegisterEncryptionCommands(app, g);
}

}  // namespace autoprov::app
