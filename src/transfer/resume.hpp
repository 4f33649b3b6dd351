// Where a resumable download keeps what it has (SPEC S-10.4): beside the target, its partial file
// (AtomicFile::PartialPath), a record of what it is fetched under (URL, validator, total size) and
// the number of bytes on disk at the last checkpoint.
#pragma once

#include <filesystem>

namespace autoprov {

std::filesystem::path ResumeRecordPath(const std::filesystem::path& target);
std::filesystem::path ResumeOffsetPath(const std::filesystem::path& target);
// Drops the partial file and its records (a URL that changed, or a file no longer configured).
void ForgetResumable(const std::filesystem::path& target);

}  // namespace autoprov
