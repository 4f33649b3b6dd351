// The one way to change a stored configuration (SPEC S-9.1, S-9.4). Every writer — a run's steps,
// `config set|load|reset`, the shell, `dhcp-hook`, the daemon — hands an edit to
// WriteConfiguration, which applies it to the configuration as stored now, inside one SQLite write
// transaction, never to a copy taken earlier. It also keeps the bookkeeping that belongs to a
// change:
//   - a per-parameter write counter (generation): a run clears a one-time URL only if the parameter
//   has
//     not been written since the fetch began, so setting the same URL again re-arms the download;
//   - validators, CRCs and content hashes belong to the URL they were fetched from: when a URL
//   parameter
//     changes (not when the same value is written again) the ones of its kind of file are
//     forgotten.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/configuration.hpp"
#include "engine/validation.hpp"
#include "store/state_store.hpp"

namespace autoprov {

// Changes `config` (the configuration as stored now). May add to `touched` the parameters it wrote
// explicitly: their generation moves on even when the value stays the same. A failure rolls back.
using ConfigEdit =
    std::function<Expected<void>(Configuration& config, std::set<std::string>& touched)>;

struct ConfigWrite {
  std::optional<Configuration> before, after;
  std::vector<std::string> changed;  // parameters and tables whose value changed
};

struct WriteOptions {
  // `config reset`: every validator, CRC and installed-file record is forgotten too (the pending
  // image's record stays: it is what the next restart activates).
  bool forget_all = false;
  // Who writes (S-7.8, S-9.10): the checks of engine/validation.hpp run on what the edit changed.
  ConfigOrigin origin = ConfigOrigin::kLocal;
};

Expected<ConfigWrite> WriteConfiguration(StateStore& store, long long device, const Schema& schema,
                                         const ConfigEdit& edit, WriteOptions options = {});

// Makes in `onto` the changes that lead from `before` to `after`: the parameters and table rows
// that differ between them, nothing else (a writer that worked on an earlier copy loses no one
// else's change).
void ApplyChanges(const Configuration& before, const Configuration& after, Configuration& onto);

// Sets one parameter from a local command (`config set`, `dhcp-hook`): a write even if the value is
// the same (S-9.1).
Expected<ConfigWrite> SetParameter(StateStore& store, long long device, const Schema& schema,
                                   const std::string& name, const std::string& raw, bool from_cli);

}  // namespace autoprov
