#include "device/state_dir.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "store/atomic_file.hpp"

namespace autoprov {

Expected<Schema> LoadSchema(const std::filesystem::path& state_dir, const std::vector<std::string>& extra_files) {
  Schema schema = Schema::BuiltIn();
  std::vector<std::string> files;
  std::error_code ec;
  auto dir = state_dir / "schema.d";
  if (std::filesystem::is_directory(dir, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  }
  files.insert(files.end(), extra_files.begin(), extra_files.end());
  for (const auto& f : files)
    if (auto r = schema.MergeFile(f); !r) return Unexpected(r.error());
  return schema;
}

Expected<std::unique_ptr<StateDirectory>> StateDirectory::Open(const std::filesystem::path& dir,
                                                               const std::vector<std::string>& extra_schema_files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create state directory " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // holds credentials and keys
  auto state = std::unique_ptr<StateDirectory>(new StateDirectory());
  state->dir_ = dir;
  auto schema = LoadSchema(dir, extra_schema_files);
  if (!schema) return Unexpected(schema.error());
  state->schema_ = std::make_unique<Schema>(std::move(*schema));
  auto store = StateStore::Open(dir / "state.db", Durability::kFull);
  if (!store) return Unexpected(store.error());
  state->store_ = std::make_unique<StateStore>(std::move(*store));
  RemoveStaleTemporaries(dir / "files");
  return state;
}

Expected<void> StateDirectory::SaveConfiguration(const Configuration& config) {
  return store_->Transaction([&] { return store_->SaveConfiguration(kLocalDevice, config); });
}

}  // namespace autoprov
