#include "engine/config_writer.hpp"

#include "common/text.hpp"
#include "engine/plan.hpp"
#include "engine/schedule.hpp"

namespace autoprov {
namespace {

std::vector<std::string> ChangedNames(const Configuration& a, const Configuration& b) {
  std::vector<std::string> out;
  std::set<std::string> names;
  for (const auto& [n, v] : a.scalars()) names.insert(n);
  for (const auto& [n, v] : b.scalars()) names.insert(n);
  for (const auto& n : names)
    if (a.Get(n) != b.Get(n)) out.push_back(n);
  std::set<std::string> tables;
  for (const auto& [n, v] : a.tables()) tables.insert(n);
  for (const auto& [n, v] : b.tables()) tables.insert(n);
  const TableRows empty;
  for (const auto& t : tables) {
    auto x = a.tables().find(t);
    auto y = b.tables().find(t);
    if ((x == a.tables().end() ? empty : x->second) != (y == b.tables().end() ? empty : y->second))
      out.push_back(t);
  }
  return out;
}

// S-9.4: what a changed parameter makes the device forget.
Expected<void> ForgetFor(StateStore& store, long long device,
                         const std::vector<std::string>& changed) {
  for (const auto& name : changed) {
    if (name == "TemplateUrl" || name == "AupdFilesList") {
      // Any kind may have been fetched from the template.
      if (auto r = store.ForgetUrlStates(device, ""); !r) return r;
      for (const auto& info : DownloadOrder())
        if (IsConfigFile(info.kind))
          if (auto r = store.ForgetKindState(device, std::string(info.name)); !r) return r;
      continue;
    }
    for (const auto& info : DownloadOrder()) {
      if (info.url_param != name) continue;
      if (auto r = store.ForgetUrlStates(device, std::string(info.name)); !r) return r;
      if (IsConfigFile(info.kind))
        if (auto r = store.ForgetKindState(device, std::string(info.name)); !r) return r;
    }
  }
  return {};
}

}  // namespace

Expected<ConfigWrite> WriteConfiguration(StateStore& store, long long device, const Schema& schema,
                                         const ConfigEdit& edit, WriteOptions options) {
  ConfigWrite out;
  auto r = store.Transaction([&]() -> Expected<void> {
    auto current = store.LoadConfiguration(device, schema);
    if (!current) return Unexpected(current.error());
    out.before = *current;
    std::set<std::string> touched;
    if (auto e = edit(*current, touched); !e) return e;
    current->DropEmptyTables();
    if (auto problems = CheckConfiguration(*out.before, *current, options.origin);
        !problems.empty()) {
      std::string text;
      for (const auto& p : problems) text += (text.empty() ? "" : "; ") + p;
      return Fail(ErrorCode::kValidation, text);
    }
    out.changed = ChangedNames(*out.before, *current);
    for (const auto& n : out.changed) touched.insert(n);
    if (!out.changed.empty())
      if (auto e = store.SaveConfiguration(device, *current); !e) return e;
    for (const auto& n : touched)
      if (auto e = store.BumpParamGeneration(device, n); !e) return e;
    if (options.forget_all) {
      if (auto e = store.ForgetUrlStates(device, ""); !e) return e;
      if (auto e = store.ForgetKindStatesExcept(device, "image"); !e) return e;
    } else if (auto e = ForgetFor(store, device, out.changed); !e) {
      return e;
    }
    out.after = std::move(*current);
    return {};
  });
  if (!r && r.error().code == ErrorCode::kDatabase)  // which operation, which device
    return Unexpected(r.error().WithContext("writing the configuration of " + DeviceLabel(device)));
  if (!r) return Unexpected(r.error());
  return out;
}

void ApplyChanges(const Configuration& before, const Configuration& after, Configuration& onto) {
  const Schema& schema = onto.schema();
  for (const auto& p : schema.params()) {
    const std::string& v = after.Get(p.name);
    if (v != before.Get(p.name)) onto.SetCanonical(p, v);
  }
  for (const auto& t : schema.tables()) {
    const TableRows empty;
    auto b = before.tables().find(t.name);
    auto a = after.tables().find(t.name);
    const TableRows& rb = b == before.tables().end() ? empty : b->second;
    const TableRows& ra = a == after.tables().end() ? empty : a->second;
    if (ra == rb) continue;
    TableRows& target = onto.MutableTable(t);
    for (const auto& [key, values] : rb)
      if (!ra.contains(key)) target.erase(key);
    for (const auto& [key, values] : ra) {
      auto old = rb.find(key);
      if (old == rb.end() || !(old->second == values)) target[key] = values;
    }
  }
  onto.DropEmptyTables();
}

Expected<ConfigWrite> SetParameter(StateStore& store, long long device, const Schema& schema,
                                   const std::string& name, const std::string& raw, bool from_cli) {
  return WriteConfiguration(
      store, device, schema,
      [&](Configuration& c, std::set<std::string>& touched) -> Expected<void> {
        const ParamSpec* spec = schema.FindParamOrCommand(name);
        if (!spec) return Fail(ErrorCode::kInvalidArgument, "unknown parameter '" + name + "'");
        if (auto s = c.Set(spec->name, raw, from_cli); !s) return s;
        touched.insert(spec->name);
        // A command is checked as a run would check it: an interval and a daily time exclude each
        // other (S-6.3), so the second one set is refused, naming the first.
        if (from_cli) {
          static const char* const kSchedule[] = {
              "AutoUpdateFreqencySeconds", "AutoUpdateFrequency", "AutoUpdatePredefinedTime"};
          for (const char* p : kSchedule)
            if (IEquals(spec->name, p) && !ScheduleFrom(c).error.empty())
              return Fail(
                  ErrorCode::kValidation,
                  spec->name +
                      ": an update interval and a daily time exclude each other "
                      "(S-6.3); clear " +
                      (IEquals(p, "AutoUpdatePredefinedTime")
                           ? std::string("AutoUpdateFrequency and AutoUpdateFreqencySeconds")
                           : std::string("AutoUpdatePredefinedTime")) +
                      " first");
        }
        return {};
      });
}

}  // namespace autoprov
