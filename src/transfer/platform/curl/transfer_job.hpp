// One transfer over libcurl, hop by hop: redirects are followed here, not by libcurl, so that every
// hop is checked (S-3.4) and credentials stay with their host. Both drivers (Fetcher, FetchQueue)
// configure an easy handle with Configure(), perform it their way, and hand the outcome to
// Finish().
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/atomic_file.hpp"
#include "common/digest.hpp"
#include "transfer/fetcher.hpp"
#include "transfer/resume.hpp"
#include "transfer/url.hpp"

namespace autoprov::curl {

// What a configured easy handle carries beyond the options every transfer sets: a handle configured
// for the same shape is configured again without curl_easy_reset (handles with credentials are
// always reset, so no authentication state outlives its transfer).
struct HandleShape {
  std::string scheme, ca_file, client_cert, client_key;
  bool verify = true, file_sink = false, credentials = false;
  long tftp_block_size = 0;
  bool upload = false;
  bool operator==(const HandleShape&) const = default;
};

class TransferJob {
 public:
  explicit TransferJob(FetchRequest request);
  ~TransferJob();
  TransferJob(const TransferJob&) = delete;
  TransferJob& operator=(const TransferJob&) = delete;

  // Checks the URL before any I/O. A failure is final: TakeResult() holds the error.
  bool Begin();
  // `shape`: what the handle was last configured for (empty: unknown); updated.
  void Configure(CURL* handle, std::optional<HandleShape>& shape);
  enum class Next { kDone, kAgain };
  Next Finish(CURL* handle, CURLcode code);
  Fetched TakeResult();

 private:
  static size_t OnBody(char* data, size_t size, size_t n, void* self);
  static size_t OnHeader(char* data, size_t size, size_t n, void* self);
  static int OnProgress(void* self, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t);
  size_t WriteBody(const char* data, size_t len);
  // S-10.4: at a resumable body's first byte, the store opens the kept part or starts over.
  bool OpenResumable();
  void ResetBody();
  void Done(Error error, long retry_after_s = 0);
  Next Redirect(CURL* handle, long status);
  bool AcceptBody() const;

  FetchRequest req_;
  ParsedUrl origin_;   // the URL as requested
  ParsedUrl current_;  // the hop being fetched
  std::string username_, password_;
  CURL* handle_ = nullptr;
  curl_slist* headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  int hops_ = 0;
  bool conditional_ = false;
  long long ftp_newer_than_ = 0;  // S-10.5: FTP asks MDTM first; unix time, 0: no condition
  std::chrono::steady_clock::time_point started_;

  // The response being received.
  long status_ = 0;
  std::string last_modified_, etag_, date_, retry_after_;

  // The body.
  std::optional<AtomicFile> file_;
  std::string memory_;
  StreamDigest digest_;
  uint64_t bytes_ = 0;
  uint64_t discarded_ = 0;
  std::optional<Error> write_error_;
  bool cancelled_ = false;

  // S-10.4: resuming a download (transfer/resume.hpp).
  std::unique_ptr<ResumeStore> resume_;  // a resumable download's store; null: not resumable
  std::optional<KeptPart> kept_;         // what an earlier attempt kept, asked for with Range
  std::string content_range_;            // of the response
  uint64_t content_length_ = 0;          // of the response
  bool resumed_ = false;                 // this response continues the kept bytes

  std::optional<Fetched> result_;
};

}  // namespace autoprov::curl
