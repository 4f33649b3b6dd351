#include "store/read_cache.hpp"

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "store/state_store.hpp"

namespace autoprov {

// --- StringPool ---------------------------------------------------------------------------------

size_t StringPool::Slot(std::string_view s) const {
  size_t mask = slots_.size() - 1;
  size_t i = std::hash<std::string_view>{}(s)&mask;
  while (slots_[i] != 0 && Get(slots_[i] - 1) != s) i = (i + 1) & mask;
  return i;
}

std::optional<uint32_t> StringPool::Find(std::string_view s) const {
  if (slots_.empty()) return std::nullopt;
  size_t i = Slot(s);
  if (slots_[i] == 0) return std::nullopt;
  return slots_[i] - 1;
}

uint32_t StringPool::Intern(std::string_view s) {
  if (slots_.empty()) slots_.assign(1024, 0);
  size_t i = Slot(s);
  if (slots_[i] != 0) return slots_[i] - 1;
  // Stored as a 4-byte length and the bytes, in 1 MiB chunks; a long string gets its own chunk.
  constexpr uint32_t kChunk = 1u << kChunkBits;
  size_t need = 4 + s.size();
  uint32_t id;
  if (need > kChunk / 4) {
    chunks_.push_back(std::make_unique<char[]>(need));
    allocated_ += need;
    id = static_cast<uint32_t>(chunks_.size() - 1) << kChunkBits;
    char* at = chunks_.back().get();
    uint32_t n = static_cast<uint32_t>(s.size());
    std::memcpy(at, &n, 4);
    std::memcpy(at + 4, s.data(), s.size());
    // The current small-string chunk is no longer the last: start a new one next time.
    used_ = kChunk;
  } else {
    if (used_ + need > kChunk) {
      chunks_.push_back(std::make_unique<char[]>(kChunk));
      allocated_ += kChunk;
      used_ = 0;
    }
    id = (static_cast<uint32_t>(chunks_.size() - 1) << kChunkBits) | used_;
    char* at = chunks_.back().get() + used_;
    uint32_t n = static_cast<uint32_t>(s.size());
    std::memcpy(at, &n, 4);
    std::memcpy(at + 4, s.data(), s.size());
    used_ += static_cast<uint32_t>((need + 3) & ~size_t{3});
  }
  slots_[i] = id + 1;
  if (++count_ * 2 > slots_.size()) {  // grow: at most half full
    std::vector<uint32_t> old = std::move(slots_);
    slots_.assign(old.size() * 2, 0);
    for (uint32_t v : old)
      if (v != 0) slots_[Slot(Get(v - 1))] = v;
  }
  return id;
}

std::string_view StringPool::Get(uint32_t id) const {
  const char* at = chunks_[id >> kChunkBits].get() + (id & ((1u << kChunkBits) - 1));
  uint32_t n;
  std::memcpy(&n, at, 4);
  return {at + 4, n};
}

size_t StringPool::bytes() const { return slots_.size() * sizeof(uint32_t) + allocated_; }

// --- ReadCache ----------------------------------------------------------------------------------

void ReadCache::Reset(long long first, long long last) {
  first_ = first;
  last_ = std::max(first, last);
  entries_.clear();
  entries_.shrink_to_fit();
  entries_.resize(static_cast<size_t>(last_ - first_));
}

void ReadCache::Invalidate(long long device) {
  if (!Covers(device)) return;
  Entry& e = entry(device);
  e.words.clear();
  e.words.shrink_to_fit();
  e.loaded = false;
  e.stamp = 0;
}

void ReadCache::InvalidateAll() {
  for (long long d = first_; d < last_; ++d) Invalidate(d);
}

ReadCache::Unpacked ReadCache::Unpack(const std::vector<uint32_t>& w) {
  Unpacked u;
  if (w.empty()) return u;
  size_t at = 4;
  auto take = [&](std::vector<uint32_t>& out, size_t n) {
    out.assign(w.begin() + static_cast<long>(at), w.begin() + static_cast<long>(at + n));
    at += n;
  };
  take(u.params, w[0] * 2);
  take(u.rows, w[1] * 3);
  take(u.urls, w[2] * kUrlWords);
  take(u.values, w[3] * 2);
  return u;
}

void ReadCache::Pack(const Unpacked& u, std::vector<uint32_t>& w) {
  w.clear();
  w.reserve(4 + u.params.size() + u.rows.size() + u.urls.size() + u.values.size());
  w.push_back(static_cast<uint32_t>(u.params.size() / 2));
  w.push_back(static_cast<uint32_t>(u.rows.size() / 3));
  w.push_back(static_cast<uint32_t>(u.urls.size() / kUrlWords));
  w.push_back(static_cast<uint32_t>(u.values.size() / 2));
  for (const auto* part : {&u.params, &u.rows, &u.urls, &u.values})
    w.insert(w.end(), part->begin(), part->end());
  w.shrink_to_fit();
}

void ReadCache::SetConfiguration(long long device, const Configuration& config) {
  Entry& e = entry(device);
  Unpacked u = Unpack(e.words);
  u.params.clear();
  u.rows.clear();
  for (const auto& [name, value] : config.scalars()) {
    u.params.push_back(pool_.Intern(name));
    u.params.push_back(pool_.Intern(value));
  }
  for (const auto& [table, rows] : config.tables()) {
    for (const auto& [key, values] : rows) {
      std::string index;
      for (size_t i = 0; i < key.size(); ++i) index += (i ? "," : "") + key[i];
      nlohmann::json data = nlohmann::json::object();
      for (const auto& [col, value] : values) data[col] = value;
      u.rows.push_back(pool_.Intern(table));
      u.rows.push_back(pool_.Intern(index));
      u.rows.push_back(pool_.Intern(data.dump()));
    }
  }
  Pack(u, e.words);
  e.stamp = next_stamp_++;
  if (next_stamp_ == 0) next_stamp_ = 1;
}

Configuration ReadCache::GetConfiguration(long long device, const Schema& schema) const {
  Configuration config(schema);
  const std::vector<uint32_t>& w = entry(device).words;
  if (w.empty()) return config;
  size_t at = 4;
  for (uint32_t i = 0; i < w[0]; ++i, at += 2) {
    // Canonical values, as SetConfiguration took them from a configuration of this schema.
    if (const ParamSpec* spec = schema.FindParam(pool_.Get(w[at])))
      config.SetCanonical(*spec, std::string(pool_.Get(w[at + 1])));
  }
  for (uint32_t i = 0; i < w[1]; ++i, at += 3) {
    const TableSpec* spec = schema.FindTable(std::string(pool_.Get(w[at])));
    if (!spec) continue;
    RowValues values;
    auto data = nlohmann::json::parse(pool_.Get(w[at + 2]), nullptr, false);
    if (data.is_object())
      for (auto& [k, v] : data.items())
        if (v.is_string()) values[k] = v.get<std::string>();
    RowKey key;
    std::string_view index = pool_.Get(w[at + 1]);
    size_t start = 0;
    for (;;) {
      size_t end = index.find(',', start);
      key.emplace_back(
          index.substr(start, end == std::string_view::npos ? index.npos : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    config.MutableTable(*spec)[std::move(key)] = std::move(values);
  }
  return config;
}

std::optional<std::optional<UrlState>> ReadCache::GetUrl(long long device,
                                                         const std::string& url) const {
  const Entry& e = entry(device);
  auto id = pool_.Find(url);
  if (id && !e.words.empty()) {
    size_t at = 4 + e.words[0] * 2 + e.words[1] * 3;
    for (uint32_t i = 0; i < e.words[2]; ++i, at += kUrlWords) {
      if (e.words[at] != *id) continue;
      if (e.words[at + 4] == kAbsent) return std::optional<UrlState>();
      return std::optional<UrlState>(UrlState{
          std::string(pool_.Get(e.words[at + 1])), std::string(pool_.Get(e.words[at + 2])),
          static_cast<long long>(e.words[at + 5] | (uint64_t{e.words[at + 6]} << 32)),
          std::string(pool_.Get(e.words[at + 3])), std::string(pool_.Get(e.words[at + 4])),
          e.words[at + 7] == kAbsent ? std::string() : std::string(pool_.Get(e.words[at + 7]))});
    }
  }
  if (e.loaded) return std::optional<UrlState>();  // loaded: not in the database either
  return std::nullopt;
}

void ReadCache::PutUrl(long long device, const std::string& url, const std::optional<UrlState>& s) {
  Entry& e = entry(device);
  Unpacked u = Unpack(e.words);
  uint32_t id = pool_.Intern(url);
  uint32_t row[kUrlWords] = {id, 0, 0, 0, kAbsent, 0, 0, kAbsent};
  if (s) {
    row[1] = pool_.Intern(s->last_modified);
    row[2] = pool_.Intern(s->etag);
    row[3] = pool_.Intern(s->sha256);
    row[4] = pool_.Intern(s->kind);
    auto at = static_cast<uint64_t>(s->downloaded_at);
    row[5] = static_cast<uint32_t>(at);
    row[6] = static_cast<uint32_t>(at >> 32);
    // Rare (a device that rejected a file): most entries keep no string for it.
    if (!s->rejected.empty()) row[7] = pool_.Intern(s->rejected);
  }
  size_t i = 0;
  while (i < u.urls.size() && u.urls[i] != id) i += kUrlWords;
  if (!s && e.loaded) {  // as PutValue: a loaded entry keeps no word for an absent URL
    if (i < u.urls.size()) {
      u.urls.erase(u.urls.begin() + static_cast<long>(i),
                   u.urls.begin() + static_cast<long>(i + kUrlWords));
      Pack(u, e.words);
    }
    return;
  }
  if (i == u.urls.size()) u.urls.resize(i + kUrlWords);
  std::copy(row, row + kUrlWords, u.urls.begin() + static_cast<long>(i));
  Pack(u, e.words);
}

void ReadCache::ForgetUrls(long long device) {
  // Which URLs the database still holds is not known here: the entry is read again.
  Invalidate(device);
}

std::optional<std::optional<std::string>> ReadCache::GetValue(long long device,
                                                              const std::string& key) const {
  const Entry& e = entry(device);
  auto id = pool_.Find(key);
  if (id && !e.words.empty()) {
    size_t at = 4 + e.words[0] * 2 + e.words[1] * 3 + e.words[2] * kUrlWords;
    for (uint32_t i = 0; i < e.words[3]; ++i, at += 2) {
      if (e.words[at] != *id) continue;
      if (e.words[at + 1] == kAbsent) return std::optional<std::string>();
      return std::optional<std::string>(std::string(pool_.Get(e.words[at + 1])));
    }
  }
  if (e.loaded) return std::optional<std::string>();
  return std::nullopt;
}

void ReadCache::PutValue(long long device, const std::string& key,
                         const std::optional<std::string>& v) {
  Entry& e = entry(device);
  Unpacked u = Unpack(e.words);
  uint32_t id = pool_.Intern(key);
  uint32_t value = v ? pool_.Intern(*v) : kAbsent;
  size_t i = 0;
  while (i < u.values.size() && u.values[i] != id) i += 2;
  if (!v && e.loaded) {
    // A loaded entry holds every value the database holds: an absent one takes no words (a value
    // set and cleared within a run, such as a mark, leaves the entry as it was).
    if (i < u.values.size()) {
      u.values.erase(u.values.begin() + static_cast<long>(i),
                     u.values.begin() + static_cast<long>(i + 2));
      Pack(u, e.words);
    }
    return;
  }
  if (i == u.values.size()) u.values.resize(i + 2);
  u.values[i] = id;
  u.values[i + 1] = value;
  Pack(u, e.words);
}

ReadCache::Usage ReadCache::usage() const {
  Usage out;
  out.devices = entries_.size();
  out.entry_bytes = entries_.capacity() * sizeof(Entry);
  for (const Entry& e : entries_) out.word_bytes += e.words.capacity() * sizeof(uint32_t);
  out.pool_bytes = pool_.bytes();
  out.pool_strings = pool_.strings();
  return out;
}

}  // namespace autoprov
