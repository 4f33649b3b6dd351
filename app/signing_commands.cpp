// autoprov sign | verify (SPEC S-12): the operator's tools, on the library code the device uses.
// They make and check the same files as `openssl cms -sign -binary -outform DER` and
// `openssl cms -verify -purpose any -binary`.
#include <ctime>
#include <iostream>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "common/digest.hpp"
#include "common/text.hpp"
#include "device/hooks.hpp"
#include "engine/signature_check.hpp"
#include "signing/signature.hpp"

namespace autoprov::app {

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
    if (!v) return Fail(ErrorCode::kRejected, vo->file + ": refused: " + v.error->Text());
    std::cout << vo->file << ": verified: " << v.signer->subject << ", serial " << v.signer->serial
              << ", signed " << UtcTimeText(v.signer->signed_at) << "\n";
    return {};
  });
}

}  // namespace autoprov::app
