#include "fleet/timeline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/text.hpp"
#include "fleet/counters.hpp"

namespace autoprov {

void LatencyHistogram::Add(double seconds) {
  if (counts_.empty()) counts_.assign(32 * kSubBuckets, 0);
  double us = std::max(1.0, seconds * 1e6);
  int bucket = static_cast<int>(std::floor(std::log2(us) * kSubBuckets));
  bucket = std::clamp(bucket, 0, static_cast<int>(counts_.size()) - 1);
  ++counts_[static_cast<size_t>(bucket)];
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.counts_.empty()) return;
  if (counts_.empty()) counts_.assign(other.counts_.size(), 0);
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
}

std::vector<std::pair<int, uint64_t>> LatencyHistogram::Buckets() const {
  std::vector<std::pair<int, uint64_t>> out;
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i] != 0) out.emplace_back(static_cast<int>(i), counts_[i]);
  return out;
}

Expected<LatencyHistogram> LatencyHistogram::FromBuckets(
    const std::vector<std::pair<int, uint64_t>>& buckets) {
  LatencyHistogram h;
  for (const auto& [i, n] : buckets) {
    if (i < 0 || i >= 32 * kSubBuckets || n > UINT32_MAX)
      return Fail(ErrorCode::kParse, "latency bucket " + std::to_string(i) + " = " +
                                         std::to_string(n) + " is out of range");
    if (h.counts_.empty()) h.counts_.assign(32 * kSubBuckets, 0);
    h.counts_[static_cast<size_t>(i)] += static_cast<uint32_t>(n);
    h.count_ += n;
  }
  return h;
}

double LatencyHistogram::PercentileMs(double p) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(std::clamp(p, 0.0, 1.0) * count_));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The middle of the bucket (geometric), in milliseconds.
      double low = std::exp2(static_cast<double>(i) / kSubBuckets);
      double high = std::exp2(static_cast<double>(i + 1) / kSubBuckets);
      return std::sqrt(low * high) / 1000.0;
    }
  }
  return 0;
}

void Timeline::Record(double at_s, StatusClass status, double latency_s) {
  size_t second = static_cast<size_t>(std::max(0.0, at_s));
  if (second >= seconds_.size()) seconds_.resize(second + 1);
  TimelineSecond& s = seconds_[second];
  ++s.requests;
  switch (status) {
    case StatusClass::k200:
      ++s.s200;
      break;
    case StatusClass::k304:
      ++s.s304;
      break;
    case StatusClass::k4xx:
      ++s.s4xx;
      break;
    case StatusClass::k5xx:
      ++s.s5xx;
      break;
    case StatusClass::kNetwork:
      ++s.network;
      break;
    case StatusClass::kOther:
      break;
  }
  s.latency.Add(latency_s);
}

void Timeline::Merge(const Timeline& other) {
  if (other.seconds_.size() > seconds_.size()) seconds_.resize(other.seconds_.size());
  for (size_t i = 0; i < other.seconds_.size(); ++i) {
    TimelineSecond& a = seconds_[i];
    const TimelineSecond& b = other.seconds_[i];
    a.requests += b.requests;
    a.s200 += b.s200;
    a.s304 += b.s304;
    a.s4xx += b.s4xx;
    a.s5xx += b.s5xx;
    a.network += b.network;
    a.latency.Merge(b.latency);
  }
}

namespace {
// The CSV's columns: the counters' own names (fleet/counters.hpp) between the second and the
// latencies.
std::string TimelineHeader() {
  std::string h = "second";
  for (Counter c : {Counter::kRequests, Counter::kStatus200, Counter::kStatus304,
                    Counter::kStatus4xx, Counter::kStatus5xx, Counter::kNetworkErrors})
    h += "," + std::string(CounterName(c));
  return h + ",p50_ms,p99_ms";
}
}  // namespace

std::string Timeline::Csv() const {
  std::string out = TimelineHeader() + "\n";
  char line[256];
  for (size_t i = 0; i < seconds_.size(); ++i) {
    const TimelineSecond& s = seconds_[i];
    std::snprintf(line, sizeof line, "%zu,%u,%u,%u,%u,%u,%u,%.3f,%.3f\n", i, s.requests, s.s200,
                  s.s304, s.s4xx, s.s5xx, s.network, s.latency.PercentileMs(0.5),
                  s.latency.PercentileMs(0.99));
    out += line;
  }
  return out;
}

Expected<std::vector<TimelineRow>> ParseTimelineCsv(std::string_view text,
                                                    std::string_view origin) {
  std::vector<TimelineRow> rows;
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(line)) {
    line = Trim(line);
    if (line.empty() || line.starts_with("second")) continue;
    TimelineRow r;
    unsigned long long v[7] = {};
    std::string copy(line);
    if (std::sscanf(copy.c_str(), "%llu,%llu,%llu,%llu,%llu,%llu,%llu,%lf,%lf", &v[0], &v[1], &v[2],
                    &v[3], &v[4], &v[5], &v[6], &r.p50_ms, &r.p99_ms) != 9)
      return Fail(ErrorCode::kParse, std::string(origin) + ":" + std::to_string(lines.line_no()) +
                                         ": not a timeline row (" + TimelineHeader() + ")");
    r.second = static_cast<long>(v[0]);
    r.requests = v[1];
    r.s200 = v[2];
    r.s304 = v[3];
    r.s4xx = v[4];
    r.s5xx = v[5];
    r.network = v[6];
    rows.push_back(r);
  }
  return rows;
}

namespace {

// A round step for an axis covering `max` in about `ticks` steps: 1, 2 or 5 times a power of ten.
double NiceStep(double max, int ticks) {
  double raw = std::max(max, 1e-9) / ticks;
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

std::string Number(double v) {
  char buf[32];
  if (v >= 1000 && std::fmod(v, 1000) == 0)
    std::snprintf(buf, sizeof buf, "%.0fk", v / 1000);
  else if (v == std::floor(v))
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string TimelineSvg(const std::vector<TimelineRow>& rows, const std::string& title) {
  const double W = 960, H = 480, left = 70, right = 70, top = 50, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;
  long seconds = rows.empty() ? 1 : rows.back().second + 1;
  double max_rate = 1, max_p99 = 1;
  for (const auto& r : rows) {
    max_rate = std::max(max_rate, static_cast<double>(r.requests));
    max_p99 = std::max(max_p99, r.p99_ms);
  }
  double rate_step = NiceStep(max_rate, 5), p99_step = NiceStep(max_p99, 5);
  double rate_top = std::ceil(max_rate / rate_step) * rate_step;
  double p99_top = std::ceil(max_p99 / p99_step) * p99_step;
  double time_step = NiceStep(static_cast<double>(seconds), 10);
  auto x = [&](double s) { return left + pw * s / static_cast<double>(seconds); };
  auto y_rate = [&](double v) { return top + ph - ph * v / rate_top; };
  auto y_p99 = [&](double v) { return top + ph - ph * v / p99_top; };
  struct Series {
    const char* name;
    const char* color;
    uint64_t TimelineRow::*field;
  };
  const Series series[] = {{"200", "#4e79a7", &TimelineRow::s200},
                           {"304", "#59a14f", &TimelineRow::s304},
                           {"4xx", "#edc948", &TimelineRow::s4xx},
                           {"5xx", "#e15759", &TimelineRow::s5xx},
                           {"network error", "#9c755f", &TimelineRow::network}};
  std::string o;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                W, H, W, H);
  o += buf;
  std::snprintf(buf, sizeof buf,
                "<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">%s</text>\n",
                W / 2, Escape(title).c_str());
  o += buf;
  // Grid and the left axis: requests per second.
  for (double v = 0; v <= rate_top + 1e-9; v += rate_step) {
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                  left, y_rate(v), left + pw, y_rate(v), left - 6, y_rate(v) + 4,
                  Number(v).c_str());
    o += buf;
  }
  for (double v = 0; v <= p99_top + 1e-9; v += p99_step) {
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#b07aa1\">%s</text>\n",
                  left + pw + 6, y_p99(v) + 4, Number(v).c_str());
    o += buf;
  }
  for (double s = 0; s <= static_cast<double>(seconds) + 1e-9; s += time_step) {
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                  x(s), top + ph, x(s), top + ph + 5, x(s), top + ph + 20, Number(s).c_str());
    o += buf;
  }
  // The stacked bars, one per second.
  double bar = std::max(0.5, pw / static_cast<double>(seconds) - 0.5);
  for (const auto& r : rows) {
    double base = 0;
    for (const auto& sr : series) {
      double v = static_cast<double>(r.*sr.field);
      if (v <= 0) continue;
      std::snprintf(buf, sizeof buf,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
                    x(static_cast<double>(r.second)), y_rate(base + v), bar,
                    y_rate(base) - y_rate(base + v), sr.color);
      o += buf;
      base += v;
    }
  }
  // p99 latency: one line per stretch of seconds with requests (no line across a quiet gap).
  std::string points;
  long previous = -2;
  auto flush = [&] {
    if (!points.empty())
      o += "<polyline fill=\"none\" stroke=\"#b07aa1\" stroke-width=\"2\" points=\"" + points +
           "\"/>\n";
    points.clear();
  };
  for (const auto& r : rows) {
    if (r.requests == 0) continue;
    if (r.second != previous + 1) flush();
    previous = r.second;
    std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(static_cast<double>(r.second) + 0.5),
                  y_p99(r.p99_ms));
    points += buf;
  }
  flush();
  // Axes, their titles, the legend.
  std::snprintf(buf, sizeof buf,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                "stroke=\"#333\"/>\n"
                "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">seconds since the start of "
                "the run</text>\n"
                "<text transform=\"translate(18,%.0f) rotate(-90)\" text-anchor=\"middle\">"
                "requests per second</text>\n"
                "<text transform=\"translate(%.0f,%.0f) rotate(90)\" text-anchor=\"middle\" "
                "fill=\"#b07aa1\">p99 latency (ms)</text>\n",
                left, top, pw, ph, left + pw / 2, H - 12, top + ph / 2, W - 18, top + ph / 2);
  o += buf;
  double lx = left + 10;
  for (const auto& sr : series) {
    std::snprintf(buf, sizeof buf,
                  "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                  "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                  lx, top + 8, sr.color, lx + 16, top + 18, sr.name);
    o += buf;
    lx += 30 + 7.0 * static_cast<double>(std::string(sr.name).size());
  }
  std::snprintf(buf, sizeof buf,
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#b07aa1\" "
                "stroke-width=\"2\"/><text x=\"%.0f\" y=\"%.0f\">p99 latency</text>\n",
                lx, top + 14, lx + 14, top + 14, lx + 18, top + 18);
  o += buf;
  o += "</svg>\n";
  return o;
}

}  // namespace autoprov
