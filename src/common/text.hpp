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

}  // namespace autoprov
