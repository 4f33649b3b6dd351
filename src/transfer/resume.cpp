#include "transfer/resume.hpp"

#include <unistd.h>

#include "common/atomic_file.hpp"

namespace autoprov {

std::filesystem::path ResumeRecordPath(const std::filesystem::path& target) {
  return AtomicFile::PartialPath(target).string() + ".record";
}

std::filesystem::path ResumeOffsetPath(const std::filesystem::path& target) {
  return AtomicFile::PartialPath(target).string() + ".offset";
}

void ForgetResumable(const std::filesystem::path& target) {
  AtomicFile::RemovePartial(target);
  ::unlink(ResumeRecordPath(target).c_str());
  ::unlink(ResumeOffsetPath(target).c_str());
}

}  // namespace autoprov
