#include "fleet/invariants.hpp"

#include "config/schema.hpp"
#include "engine/plan.hpp"
#include "fleet/fleet.hpp"

namespace autoprov {

namespace {

// The state record a one-time kind's install leaves (apply_image, apply_aux, apply_tls); empty for
// a kind whose install keeps none (the licence key: the appliance's own record).
std::string RecordOf(const FileKindInfo& info) {
  switch (info.kind) {
    case FileKind::kOneTimeImage:
      return "image";
    case FileKind::kLicenseKey:
      return "";
    default:
      return std::string(info.name);
  }
}

}  // namespace

Expected<std::vector<InvariantViolation>> CheckDeviceInvariants(StateStore& store,
                                                                const Schema& schema,
                                                                long long first, long long last,
                                                                const std::string& mac_base) {
  std::vector<InvariantViolation> out;
  auto params = store.db().Prepare("SELECT name, value FROM param WHERE device = ?");
  if (!params) return Unexpected(params.error());
  for (long long d = first; d < last; ++d) {
    auto mac = MacForIndex(mac_base, d);
    std::string name = mac ? *mac : std::to_string(d);
    auto report = [&](std::string invariant, std::string detail) {
      out.push_back({d, name, std::move(invariant), std::move(detail)});
    };
    // configuration: every stored value is whole and valid.
    params->Reset();
    auto rows = params->Bind(1, d).EachRow([&](const Statement& row) {
      std::string param = row.Text(0), value = row.Text(1);
      const ParamSpec* spec = schema.FindParam(param);
      if (!spec) {
        report("configuration", "stored parameter " + param + " is not in the schema");
        return;
      }
      if (auto v = NormalizeValue(spec->value, value, false); !v)
        report("configuration",
               param + " = '" + value + "' is not a valid value: " + v.error().message);
    });
    if (!rows) return Unexpected(rows.error());
    // one-time: a cleared one-time URL has its file.
    auto config = store.LoadConfiguration(d, schema);
    if (!config) return Unexpected(config.error());
    for (const auto& info : DownloadOrder()) {
      if (info.mode != DownloadMode::kOneTime) continue;
      std::string record = RecordOf(info);
      if (record.empty()) continue;
      std::string param(info.url_param);
      if (!config->Get(param).empty()) continue;  // not cleared: fetched next run
      auto gen = store.ParamGeneration(d, param);
      if (!gen) return Unexpected(gen.error());
      if (*gen == 0) continue;  // never set
      auto kind = store.GetKindState(d, record);
      if (!kind) return Unexpected(kind.error());
      if (!*kind || (*kind)->sha256.empty())
        report("one-time",
               param + " was cleared without its file: no " + record + " is recorded as installed");
    }
  }
  return out;
}

Expected<std::pair<long long, long long>> FleetDeviceRange(StateStore& store) {
  auto st = store.db().Prepare("SELECT MIN(device), MAX(device) FROM device_state");
  if (!st) return Unexpected(st.error());
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  if (!*row || st->IsNull(0))
    return Fail(ErrorCode::kNotFound, "no simulated devices in this state database");
  return std::make_pair(st->Int(0), st->Int(1) + 1);
}

}  // namespace autoprov
