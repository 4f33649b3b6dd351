// How a libcurl transfer's failure is told (S-3): the protocol's name for the request, libcurl's
// codes as the agent's error categories, and a message that names the cause (TFTP's own errors, a
// stale error buffer). No state: the transfer job asks when a transfer fails.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "transfer/url.hpp"

namespace autoprov::curl {

bool IsHttp(const ParsedUrl& u);
bool IsFtp(const ParsedUrl& u);
bool IsTftp(const ParsedUrl& u);
// What a failed request was, by its protocol: "GET" is HTTP's word only.
std::string Operation(const ParsedUrl& u, const std::string& method);
// libcurl's words for a failed transfer of `bytes` received so far.
std::string FailureText(CURLcode code, const char* buffer, const ParsedUrl& u, uint64_t bytes);
// The category the engine acts on (retry, report).
ErrorCode Categorize(CURLcode code);

}  // namespace autoprov::curl
