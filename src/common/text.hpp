// Small string helpers shared by the parsers (case-insensitive names, trimming, splitting).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace autoprov {

std::string ToLower(std::string_view s);
std::string_view Trim(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);
bool IStartsWith(std::string_view s, std::string_view prefix);
std::vector<std::string_view> SplitWhitespace(std::string_view s);
// A unix time in UTC with a strftime format ("-" for t <= 0 when `dash_for_none`): the one home
// of the HTTP date, the ISO time of reports and the text of `status`.
std::string UtcTime(long long t, const char* format, bool dash_for_none = true);
// "2026-12-05 04:56:28 UTC": the time as `status`, reports and signature messages show it.
inline std::string UtcTimeText(long long t) { return UtcTime(t, "%Y-%m-%d %H:%M:%S UTC"); }
// The parts of `s` between `sep` ("a,,b" -> "a", "", "b"; "" -> one empty part).
std::vector<std::string_view> Split(std::string_view s, char sep);

// Edit distance (insertions, deletions, substitutions, and a swap of two neighbours counting one),
// case-insensitive.
size_t EditDistance(std::string_view a, std::string_view b);
// The candidate closest to a mistyped `word` ("did you mean ...?"), or empty when none is close:
// at most 2 edits, or a third of the word's length for long words; a candidate that starts with
// the word (an abbreviation) also counts.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// The lines of a text, numbered from 1 (the last may lack its newline).
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool Next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    line = text_.substr(pos_, nl == std::string_view::npos ? text_.size() - pos_ : nl - pos_);
    pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
    ++line_no_;
    return true;
  }
  int line_no() const { return line_no_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int line_no_ = 0;
};

}  // namespace autoprov
