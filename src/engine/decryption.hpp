// S-12.3 for one downloaded file: an encrypted file (told by its content) is decrypted before
// anything else looks at it, so that the signature (the plaintext is signed, then encrypted), the
// CRC check (S-4), the content hash (S-10.5) and every apply see the plaintext — a fresh salt or IV
// changes the ciphertext each time the same file is encrypted. A file that cannot be decrypted, or
// a plain one where the appliance's policy requires encryption, is refused and changes nothing.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "config/configuration.hpp"
#include "device/hooks.hpp"
#include "engine/plan.hpp"
#include "signing/encryption.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

// The key pair files encrypted to this device are decrypted with: hooks.ini's DecryptionCert and
// DecryptionKey (a relative path is under the state directory), else the device's mutual-TLS pair
// when it has one, else none.
DeviceKeyPair DecryptionKeysOf(const DeviceHooks& hooks, const std::filesystem::path& state_dir);

struct DecryptionOutcome {
  bool refused = false;
  std::string text;  // the refusal, or what was done ("decrypted: ..."); empty: a plain file
};

// Decrypts `file` in place: its body (small kinds) or its staging file `staged` (auxiliary files),
// and its SHA-256 and CRC-32 become the plaintext's. Images are not decrypted: an encrypted image
// is refused (sign images instead; they stream to the installer unread).
DecryptionOutcome DecryptDownload(FetchResult& file, FileKind kind, bool in_memory,
                                  const std::filesystem::path& staged, const DeviceHooks& hooks,
                                  const std::filesystem::path& state_dir,
                                  const Configuration& config);

}  // namespace autoprov
