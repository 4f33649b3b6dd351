// The state directory of one device: where its database, files, identity and extra schema files
// live.
//   <dir>/state.db      running configuration, validators, CRCs, run reports (SQLite)
//   <dir>/identity.ini  ProductName, MacAddress, SerialNumber, SoftwareVersion
//   <dir>/schema.d/     appliance schema files (*.json), merged over the built-in schema
//   <dir>/files/<kind>/ installed auxiliary files
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/configuration.hpp"
#include "config/schema.hpp"
#include "store/state_store.hpp"

namespace autoprov {

inline constexpr long long kLocalDevice = 0;  // device id of the one real device in its database

// The built-in schema plus every *.json in <dir>/schema.d (sorted) plus `extra_files`.
Expected<Schema> LoadSchema(const std::filesystem::path& state_dir,
                            const std::vector<std::string>& extra_files);

class StateDirectory {
 public:
  enum class Access { kReadWrite, kReadOnly };
  // kReadOnly: for commands that only read (status, config show); works on a read-only state
  // directory. kReadWrite fails up front, with the cause, when the directory cannot be written.
  static Expected<std::unique_ptr<StateDirectory>> Open(
      const std::filesystem::path& dir, const std::vector<std::string>& extra_schema_files,
      Access access = Access::kReadWrite);

  const std::filesystem::path& path() const { return dir_; }
  const Schema& schema() const { return *schema_; }
  StateStore& store() { return *store_; }

  // Reading only: every change goes through WriteConfiguration (engine/config_writer.hpp, S-9.1).
  Expected<Configuration> LoadConfiguration() {
    return store_->LoadConfiguration(kLocalDevice, *schema_);
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Schema> schema_;
  std::unique_ptr<StateStore> store_;
};

}  // namespace autoprov
