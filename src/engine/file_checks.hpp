// Content checks the run makes before it applies a file: configuration CRC (S-4), image versions
// (S-1.3), License Key serial (S-1.4), TLS PEM files (S-1.5).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace autoprov {

// AUPDCheckIfIniChanged: 1 = CRC-32 of the whole file, 2 = CRC-32 per line combined independently
// of the line order (blank lines and line endings ignored). The mode is part of the value, so a
// change of mode never matches an old value. Empty for mode 0.
std::string ConfigCrc(std::string_view content, long long mode);

// The first version token of a file name such as "ssbc_7.20A.252.011.cmp" -> "7.20A.252.011".
std::string VersionFromFileName(std::string_view name);
// <0, 0, >0 as a < b, numeric runs compared as numbers, letter runs as text ("7.20A.252.011").
int CompareVersions(std::string_view a, std::string_view b);

// The serial numbers a License Key file is for ("S/N<serial>", spaces and ':' allowed).
std::vector<std::string> LicenseSerials(std::string_view content);

// TLS files. Each returns an error that says what is wrong with the PEM.
Expected<int> CountPemCertificates(std::string_view pem);
Expected<void> CheckPemPrivateKey(std::string_view pem);
Expected<bool> KeyMatchesCertificate(std::string_view cert_pem, std::string_view key_pem);

}  // namespace autoprov
