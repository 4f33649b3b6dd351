// What the appliance plugs in: its firmware installer, its reset command, and per-kind apply hooks.
// They come from <state-dir>/hooks.ini, a local file: a provisioning server can never set a
// command.
//
//   InstallCommand = /usr/sbin/fw-install     ; run as: CMD <image> <version>; exit 0 = installed
//   VersionCommand = /usr/sbin/fw-version     ; run as: CMD <image>; prints the image's version
//   ResetCommand   = /sbin/reboot             ; restarts the device
//   BusyCommand    = /usr/lib/voice/calls-up  ; exit 0 = busy (calls in progress): a restart waits
//   RunningVersionCommand = /usr/sbin/fw-running  ; prints the version that runs (after a restart)
//   Apply.cpt      = /usr/lib/voice/load-cpt  ; run as: CMD <file>; exit 0 = applied (any aux kind)
//   LogLevel       = info                     ; debug, info, warning or error
//   SignersBundle  = signers.pem              ; S-12.1; SignaturePolicy[.<kind>] =
//   off|if-present|required DecryptionCert = device.pem               ; S-12.3 (and DecryptionKey);
//   default: the mTLS pair EncryptionPolicy.ini = required           ; S-12.3: if-present (default)
//   or required
//
// On a packaged device with the default state directory, /etc/autoprov/hooks.ini stands in for a
// missing <state-dir>/hooks.ini (identity.ini likewise).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"

namespace autoprov {

struct DeviceHooks {
  std::string install_command;
  std::string version_command;
  std::string reset_command;
  std::string running_version_command;  // S-11.2: prints the version that actually runs
  std::string busy_command;             // S-10.2
  std::string log_level;  // "debug", "info", "warning", "error"; empty: the command line's
  std::map<std::string, std::string> apply_commands;  // kind keyword ("cpt") -> command
  // S-12: the appliance maker's signers bundle (PEM CA certificates), and the signature policy:
  // for every kind, and per kind keyword ("ini", "cmp", ...). Empty: the default (off without a
  // bundle, required with one).
  std::string signers_bundle;
  std::string signature_policy;
  std::map<std::string, std::string> signature_policies;
  // S-12.3: the key pair files encrypted to this device are decrypted with (PEM paths; a relative
  // path is under the state directory). Empty: the device's mutual-TLS pair. And the encryption
  // policy, for every kind and per kind: "if-present" (the default: an encrypted file is
  // decrypted, a plain one accepted) or "required" (a plain file is refused).
  std::string decryption_cert, decryption_key;
  std::string encryption_policy;
  std::map<std::string, std::string> encryption_policies;
};

// S-12.2: how a kind of file is checked for a signature.
enum class SignaturePolicy { kOff, kIfPresent, kRequired };
// The policy for a kind of file, named by its template keyword ("cli") or its name ("cli-script"),
// as Apply.<kind> is: SignaturePolicy.<kind>, else SignaturePolicy, else off without a bundle and
// required with one.
SignaturePolicy SignaturePolicyFor(const DeviceHooks& hooks, std::string_view keyword,
                                   std::string_view name);
std::string_view SignaturePolicyName(SignaturePolicy p);
// S-12.3: whether a kind of file must arrive encrypted (EncryptionPolicy.<kind>, else
// EncryptionPolicy, else not).
bool EncryptionRequiredFor(const DeviceHooks& hooks, std::string_view keyword,
                           std::string_view name);

Expected<DeviceHooks> LoadHooks(const std::filesystem::path& state_dir);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, truncated to 4 KiB
};

// Runs `command` (split on spaces, no shell) with extra arguments and, besides the agent's own
// environment, `env` ("NAME=value"); waits at most `timeout_s`.
Expected<CommandResult> RunCommand(const std::string& command, const std::vector<std::string>& args,
                                   int timeout_s = 600, const std::vector<std::string>& env = {});

// The one rule for a process's log level (the agent's commands, the daemon, each run): `asked`
// (--log-level) if given, else hooks.ini's LogLevel, else `otherwise`.
LogLevel ChooseLogLevel(std::string_view asked, const std::filesystem::path& state_dir,
                        LogLevel otherwise);

}  // namespace autoprov
