// The transfer layer (SPEC S-3): fetches one URL, conditionally, safely, streaming. It takes plain
// values (URL, validators, limits) and knows nothing of the configuration schema. Every error is a
// value with a category the engine acts on and a message that names the URL without credentials.
//
// Two drivers share one implementation of a transfer: Fetcher runs one transfer at a time on the
// calling thread (the device), FetchQueue runs many at once over one event loop (the fleet
// simulator).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/digest.hpp"
#include "common/error.hpp"

namespace autoprov {

// What the server said about the last download of a URL, sent back as
// If-Modified-Since/If-None-Match.
struct Validators {
  std::string last_modified;
  std::string etag;
  bool empty() const { return last_modified.empty() && etag.empty(); }
};

struct TlsOptions {
  bool verify = true;   // off only when asked for explicitly; every such transfer logs a warning
  std::string ca_file;  // PEM bundle of trust anchors; empty: the system store
  std::string client_cert;  // PEM; presented when the server asks (mutual TLS)
  std::string client_key;
};

struct TransferLimits {
  long connect_timeout_s = 15;
  long low_speed_bytes_per_s = 1;  // below this for low_speed_time_s fails the transfer
  long low_speed_time_s = 30;
  long max_time_s = 600;            // whole transfer; 0: none
  uint64_t max_bytes = 1ull << 32;  // body limit
  int max_redirects = 5;
};

enum class BodySink {
  kFile,    // streamed to a temporary file beside `target`, renamed into place on success
  kMemory,  // kept in FetchResult::body (small files), bounded by max_bytes
  kDiscard  // only counted and hashed (a simulated device that keeps no image bytes)
};

// S-10.4 for a sink that keeps no bytes (a simulated device): where a resumable download stands,
// kept by the caller in memory across attempts instead of in files beside a target. The transfer
// updates it as bytes arrive and clears it when the file is complete; the caller keeps it alive
// while the transfer runs and must not share it between transfers running at once.
struct ResumePoint {
  std::string url;              // without credentials
  std::string validator;        // sent as If-Range: a strong ETag or a Last-Modified
  uint64_t total = 0;           // the file's size when the kept bytes were fetched
  uint64_t kept = 0;            // bytes received so far
  std::unique_ptr<Sha256> sha;  // of the kept bytes: the hash covers the whole file
  void Clear() {
    url.clear();
    validator.clear();
    total = kept = 0;
    sha.reset();
  }
};

struct FetchRequest {
  std::string url;  // may carry user:password@
  BodySink sink = BodySink::kFile;
  std::filesystem::path target;
  std::optional<Validators>
      condition;  // periodic files: the validators of this URL's last download
  std::string user_agent;
  std::string username, password;  // used when the URL carries none
  TlsOptions tls;
  TransferLimits limits;
  long tftp_block_size = 512;
  bool compute_crc32 = false;  // configuration files need it (S-4); images do not
  // S-10.4: a file download kept across failures and kills (images): the next request for the same
  // target and URL asks only for the rest (Range + If-Range under a strong validator).
  bool resumable = false;
  // With BodySink::kDiscard, where the resumable download keeps its place (null: not resumable).
  ResumePoint* resume_point = nullptr;
  // An upload instead of a download (S-10.3): "PUT" or "POST" of `upload_body` as `content_type`,
  // over http or https only, never redirected; the answer's body is kept as BodySink::kMemory.
  std::string method;
  std::string upload_body;
  std::string content_type = "application/json";
  // Progress (bytes so far, total or 0 when unknown). Returning false cancels the transfer.
  std::function<bool(uint64_t, uint64_t)> progress;
  const std::atomic<bool>* cancel = nullptr;  // checked during the transfer
};

enum class FetchOutcome { kDownloaded, kNotModified };

struct FetchResult {
  FetchOutcome outcome = FetchOutcome::kDownloaded;
  long status = 0;  // HTTP status of the final response (0 for other protocols)
  uint64_t bytes = 0;
  std::string sha256;
  uint32_t crc32 = 0;     // when requested
  Validators validators;  // of the final response
  std::string date;       // the server's Date header, if any
  std::string final_url;  // after redirects, without credentials
  int redirects = 0;
  uint64_t resumed_from = 0;  // S-10.4: the bytes kept from an earlier attempt (0: from the start)
  double seconds = 0;
  std::string body;  // BodySink::kMemory only
};

// What a transfer cost and what the server said, kept with a failure for the report (S-10.3) and
// the retry rule (S-10.1): a successful fetch has the same in its FetchResult.
struct TransferStats {
  long http_status = 0;    // the response's status: an error status, or a 2xx cut short
  long retry_after_s = 0;  // the server's Retry-After (429, 503), in seconds from now; 0: none
  double seconds = 0;      // how long the transfer ran
  uint64_t bytes = 0;      // the bytes it received
};

// A failed fetch: the error, and what the attempt cost.
struct TransferError : Error {
  TransferError() = default;
  TransferError(Error e, TransferStats s = {}) : Error(std::move(e)), stats(s) {}
  TransferStats stats;
};

using Fetched = Expected<FetchResult, TransferError>;

// How a driver performs one fetch: the curl transfer layer (transfer/fetcher.hpp) or a test's
// canned results.
using FetchFunction = std::function<Fetched(const FetchRequest&)>;

}  // namespace autoprov
