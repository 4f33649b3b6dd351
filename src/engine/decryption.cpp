#include "engine/decryption.hpp"

#include <fstream>

#include "common/atomic_file.hpp"
#include "common/digest.hpp"
#include "engine/apply.hpp"
#include "signing/encryption.hpp"

namespace autoprov {
namespace {

constexpr size_t kAuxDecryptLimit = 256u << 20;

std::filesystem::path UnderState(const std::filesystem::path& state_dir, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : state_dir / path;
}

PasswordKey PasswordOf(const Configuration& config) {
  PasswordKey key;
  key.password = config.Get("AupdDecryptionPassword");
  long long d = config.GetInt("AupdPasswordKeyDerivation");
  key.derivation = d == 1   ? KeyDerivation::kSha256
                   : d == 2 ? KeyDerivation::kMd5
                            : KeyDerivation::kPbkdf2;
  key.iterations = static_cast<int>(config.GetInt("AupdPasswordIterations"));
  return key;
}

// The first bytes of a staged file: enough to tell whether it is encrypted.
std::string Head(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

}  // namespace

DeviceKeyPair DecryptionKeysOf(const DeviceHooks& hooks, const std::filesystem::path& state_dir) {
  if (!hooks.decryption_cert.empty() || !hooks.decryption_key.empty())
    return {UnderState(state_dir, hooks.decryption_cert).string(),
            UnderState(state_dir, hooks.decryption_key).string()};
  std::error_code ec;
  auto cert = DeviceCertPath(state_dir), key = DeviceKeyPath(state_dir);
  if (std::filesystem::exists(cert, ec) && std::filesystem::exists(key, ec))
    return {cert.string(), key.string()};
  return {};
}

DecryptionOutcome DecryptDownload(FetchResult& file, FileKind kind, bool in_memory,
                                  const std::filesystem::path& staged, const DeviceHooks& hooks,
                                  const std::filesystem::path& state_dir,
                                  const Configuration& config) {
  const auto& info = InfoOf(kind);
  bool on_disk = !in_memory && !staged.empty();
  if (!in_memory && !on_disk) return {};  // a simulated device's discarded bytes
  std::string head = in_memory ? std::string() : Head(staged);
  Encryption encryption = DetectEncryption(in_memory ? std::string_view(file.body) : head);
  if (encryption == Encryption::kNone) {
    if (EncryptionRequiredFor(hooks, info.keyword, info.name))
      return {true, "not encrypted, and the appliance requires " + std::string(info.name) +
                        " files encrypted (hooks.ini EncryptionPolicy, S-12.3)"};
    return {};
  }
  if (IsImage(kind))
    return {true, "an encrypted software image (" + std::string(EncryptionName(encryption)) +
                      ") is not installed: images are signed, not encrypted (S-12.3)"};
  std::string content;
  if (in_memory) {
    content = std::move(file.body);
  } else {
    auto read = ReadFile(staged, kAuxDecryptLimit);
    if (!read) return {true, "cannot read the encrypted file: " + read.error().message};
    content = std::move(*read);
  }
  Expected<std::string> plain = Fail(ErrorCode::kInternal, "");
  std::string how;
  if (encryption == Encryption::kEnveloped) {
    DeviceKeyPair keys = DecryptionKeysOf(hooks, state_dir);
    plain = DecryptEnveloped(content, keys);
    how = "CMS EnvelopedData to this device's certificate";
  } else {
    PasswordKey key = PasswordOf(config);
    plain = DecryptWithPassword(content, key);
    how = "openssl enc with AupdDecryptionPassword, " +
          std::string(KeyDerivationName(key.derivation)) + " key derivation";
    // The padding check lets about one wrong password in 256 through: the text kinds are text.
    if (plain && in_memory && !LooksLikeText(*plain))
      plain = Fail(ErrorCode::kRejected,
                   "wrong password or corrupt file (the decrypted bytes are not text; check "
                   "AupdDecryptionPassword and AupdPasswordKeyDerivation, S-12.3)");
  }
  if (!plain) {
    if (in_memory) file.body = std::move(content);  // the rejection keeps what arrived
    return {true, "cannot decrypt (" + std::string(EncryptionName(encryption)) +
                      "): " + plain.error().message};
  }
  file.sha256 = Sha256Hex(*plain);
  file.crc32 = Crc32Of(*plain);
  if (in_memory) {
    file.body = std::move(*plain);
  } else if (auto w = WriteFileAtomically(staged, *plain, 0600); !w) {
    return {true, "cannot keep the decrypted file: " + w.error().message};
  }
  return {false, "decrypted: " + how + " (S-12.3)"};
}

}  // namespace autoprov
