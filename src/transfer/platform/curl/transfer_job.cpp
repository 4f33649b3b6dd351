#include "transfer/platform/curl/transfer_job.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/log.hpp"
#include "common/text.hpp"
#include "transfer/http_time.hpp"
#include "transfer/platform/curl/curl_errors.hpp"
#include "transfer/redirect.hpp"
#include "transfer/resume.hpp"

namespace autoprov::curl {
namespace {

uint64_t ToNumber(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string HeaderValue(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || !IStartsWith(line, name) || line[name.size()] != ':') return {};
  return std::string(Trim(line.substr(name.size() + 1)));
}

}  // namespace

TransferJob::TransferJob(FetchRequest request)
    : req_(std::move(request)),
      // Files on disk may be large: hash them on the second core. Fleet sinks are small: hash
      // inline.
      digest_(req_.compute_crc32, req_.sink == BodySink::kFile) {}

TransferJob::~TransferJob() { curl_slist_free_all(headers_); }

bool TransferJob::Begin() {
  started_ = std::chrono::steady_clock::now();
  auto parsed = ParseUrl(req_.url);
  if (!parsed) {
    result_ = Unexpected(parsed.error());
    return false;
  }
  origin_ = *parsed;
  current_ = std::move(*parsed);
  username_ = origin_.user.empty() ? req_.username : origin_.user;
  password_ = origin_.user.empty() ? req_.password : origin_.password;
  if (!req_.method.empty()) {
    if (req_.method != "PUT" && req_.method != "POST") {
      result_ =
          Fail(ErrorCode::kInvalidArgument, "an upload is a PUT or a POST, not " + req_.method);
      return false;
    }
    if (!IsHttp(origin_)) {
      // S-10.3: never file: (a server could make the agent write local files), nor FTP or TFTP.
      result_ = Fail(ErrorCode::kRefusedScheme, "reports are sent over http or https only, not " +
                                                    origin_.url_without_credentials);
      return false;
    }
    req_.sink = BodySink::kMemory;
  }
  if (req_.sink == BodySink::kFile && req_.target.empty()) {
    result_ =
        Fail(ErrorCode::kInvalidArgument, "no target path for " + origin_.url_without_credentials);
    return false;
  }
  conditional_ = IsHttp(origin_) && req_.condition && !req_.condition->empty();
  if (req_.resumable && req_.sink == BodySink::kFile)
    resume_ = std::make_unique<FileResume>(req_.target);
  else if (req_.resumable && req_.sink == BodySink::kDiscard && req_.resume_point)
    resume_ = std::make_unique<MemoryResume>(*req_.resume_point);
  if (resume_) kept_ = resume_->Load(origin_.url_without_credentials);
  ftp_newer_than_ = 0;
  if (IsFtp(origin_) && req_.condition && !req_.condition->last_modified.empty())
    ftp_newer_than_ =
        std::max<long long>(0, curl_getdate(req_.condition->last_modified.c_str(), nullptr));
  if (current_.scheme == "https" && !req_.tls.verify)
    LogWarning("certificate verification is OFF for " + current_.url_without_credentials);
  return true;
}

void TransferJob::Configure(CURL* h, std::optional<HandleShape>& shape) {
  handle_ = h;
  HandleShape mine{current_.scheme,      req_.tls.ca_file,
                   req_.tls.client_cert, req_.tls.client_key,
                   req_.tls.verify,      req_.sink == BodySink::kFile,
                   !username_.empty(),   current_.scheme == "tftp" ? req_.tftp_block_size : 0,
                   !req_.method.empty()};
  if (!shape || *shape != mine || mine.credentials)
    curl_easy_reset(h);  // keeps the connection cache
  shape = std::move(mine);
  curl_slist_free_all(headers_);
  headers_ = nullptr;
  status_ = 0;
  last_modified_.clear();
  etag_.clear();
  date_.clear();
  retry_after_.clear();
  error_buffer_[0] = 0;

  std::string url = current_.url_without_credentials;
  if (current_.scheme == "ftps") {
    // ftps:// means explicit FTPS (AUTH TLS), as the vendor documents it.
    url = "ftp://" + url.substr(7);
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  // libcurl may speak only the scheme this hop was checked for (ftps is ftp with AUTH TLS).
  // Redirects are ours to follow (FOLLOWLOCATION stays at its default, off), hop by hop.
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                   current_.scheme == "ftps" ? "ftp" : current_.scheme.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!username_.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, username_.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, password_.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC | CURLAUTH_DIGEST));
  }
  curl_easy_setopt(h, CURLOPT_USERAGENT,
                   req_.user_agent.empty() ? nullptr : req_.user_agent.c_str());
  if (conditional_) {
    // Sent as the server gave them: servers such as nginx answer 304 only to their exact validator.
    if (!req_.condition->last_modified.empty())
      headers_ = curl_slist_append(headers_,
                                   ("If-Modified-Since: " + req_.condition->last_modified).c_str());
    if (!req_.condition->etag.empty())
      headers_ = curl_slist_append(headers_, ("If-None-Match: " + req_.condition->etag).c_str());
  }
  if (kept_ && IsHttp(current_)) {
    curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(kept_->kept));
    headers_ = curl_slist_append(headers_, ("If-Range: " + kept_->validator).c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(0));
  }
  if (!req_.method.empty()) {
    headers_ = curl_slist_append(headers_, ("Content-Type: " + req_.content_type).c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req_.upload_body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(req_.upload_body.size()));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req_.method == "PUT" ? "PUT" : nullptr);
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER,
                   headers_);  // set or cleared: the handle may carry the last job's

  if (!req_.tls.verify) {  // verification is libcurl's default
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!req_.tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, req_.tls.ca_file.c_str());
  if (!req_.tls.client_cert.empty())
    curl_easy_setopt(h, CURLOPT_SSLCERT, req_.tls.client_cert.c_str());
  if (!req_.tls.client_key.empty())
    curl_easy_setopt(h, CURLOPT_SSLKEY, req_.tls.client_key.c_str());

  const TransferLimits& l = req_.limits;
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, l.connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, l.low_speed_bytes_per_s);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, l.low_speed_time_s);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, l.max_time_s);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(l.max_bytes));
  // Large reads for files on disk; the fleet's memory and discard sinks keep libcurl's small
  // default.
  if (req_.sink == BodySink::kFile) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 128L * 1024);
  if (current_.scheme == "tftp") curl_easy_setopt(h, CURLOPT_TFTP_BLKSIZE, req_.tftp_block_size);
  if (IsFtp(current_)) {
    // S-10.5: the modification time (MDTM) is asked before the download; with the one of the last
    // download as a condition, an unchanged file is not transferred at all.
    curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(
        h, CURLOPT_TIMECONDITION,
        static_cast<long>(ftp_newer_than_ > 0 ? CURL_TIMECOND_IFMODSINCE : CURL_TIMECOND_NONE));
    curl_easy_setopt(h, CURLOPT_TIMEVALUE_LARGE, static_cast<curl_off_t>(ftp_newer_than_));
  }

  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &TransferJob::OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &TransferJob::OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &TransferJob::OnProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
}

bool TransferJob::AcceptBody() const {
  if (!IsHttp(current_)) return true;
  return status_ >= 200 && status_ < 300;
}

size_t TransferJob::OnHeader(char* data, size_t size, size_t n, void* self) {
  auto* job = static_cast<TransferJob*>(self);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a 100, a 401 challenge, ...): forget the previous one.
    // "HTTP/1.1 304 Not Modified": the number after the first space.
    size_t space = line.find(' ');
    long status = 0;
    if (space != std::string_view::npos)
      std::from_chars(line.data() + space + 1, line.data() + line.size(), status);
    job->status_ = status;
    job->last_modified_.clear();
    job->etag_.clear();
    job->date_.clear();
    job->retry_after_.clear();
    job->content_range_.clear();
    job->content_length_ = 0;
    if (job->bytes_ > 0) job->ResetBody();
    return size * n;
  }
  line = Trim(line);
  if (line.empty()) return size * n;
  // Only a few headers matter; the first letter picks the one to compare with.
  switch (line[0] | 0x20) {
    case 'l':
      if (auto v = HeaderValue(line, "Last-Modified"); !v.empty())
        job->last_modified_ = std::move(v);
      break;
    case 'e':
      if (auto v = HeaderValue(line, "ETag"); !v.empty()) job->etag_ = std::move(v);
      break;
    case 'd':
      if (auto v = HeaderValue(line, "Date"); !v.empty()) job->date_ = std::move(v);
      break;
    case 'r':
      if (auto v = HeaderValue(line, "Retry-After"); !v.empty()) job->retry_after_ = std::move(v);
      break;
    case 'c':
      if (auto v = HeaderValue(line, "Content-Range"); !v.empty()) job->content_range_ = v;
      if (auto v = HeaderValue(line, "Content-Length"); !v.empty())
        job->content_length_ = ToNumber(v);
      // S-9.9: a file larger than the free space is refused before its first byte is written.
      if (job->req_.sink == BodySink::kFile && job->status_ == 200) {
        if (auto v = HeaderValue(line, "Content-Length"); !v.empty()) {
          unsigned long long length = 0;
          std::from_chars(v.data(), v.data() + v.size(), length);
          auto dir = std::filesystem::path(job->req_.target).parent_path();
          struct statvfs vfs {};
          if (length > 0 && ::statvfs(dir.c_str(), &vfs) == 0) {
            unsigned long long avail = static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize;
            if (length > avail) {
              job->write_error_ =
                  MakeError(ErrorCode::kIo, "not enough space: the server announces " +
                                                std::to_string(length) + " bytes, " +
                                                std::to_string(avail) + " bytes are free on " +
                                                dir.string() + "; nothing was written");
              return 0;
            }
          }
        }
      }
      break;
    default:
      break;
  }
  return size * n;
}

bool TransferJob::OpenResumable() {
  bool continues = status_ == 206;
  if (continues) {
    if (auto c = RangeContinues(content_range_, *kept_); !c) {
      resume_->Forget();
      write_error_ = c.error();
      return false;
    }
  }
  KeptPart fresh{origin_.url_without_credentials,
                 ResumeValidator(etag_, last_modified_, content_length_), content_length_, 0};
  if (auto r = resume_->Open(continues, fresh); !r) {
    write_error_ = r.error();
    return false;
  }
  resumed_ = continues;
  return true;
}

void TransferJob::ResetBody() {
  if (resume_) {
    resume_->Close();  // the kept part stays as it was; the next 2xx body opens it again
    resumed_ = false;
  }
  if (file_) (void)file_->Truncate();
  memory_.clear();
  digest_.Reset();
  bytes_ = 0;
}

size_t TransferJob::OnBody(char* data, size_t size, size_t n, void* self) {
  return static_cast<TransferJob*>(self)->WriteBody(data, size * n);
}

size_t TransferJob::WriteBody(const char* data, size_t len) {
  if (!AcceptBody()) {
    // An error page or a redirect body: read and drop, but not without end.
    discarded_ += len;
    if (discarded_ > req_.limits.max_bytes) {
      write_error_ = MakeError(ErrorCode::kTooLarge, "error response body above the size limit");
      return 0;
    }
    return len;
  }
  if (bytes_ + len > req_.limits.max_bytes) {
    write_error_ =
        MakeError(ErrorCode::kTooLarge, "body is larger than the limit of " +
                                            std::to_string(req_.limits.max_bytes) + " bytes");
    return 0;
  }
  if (resume_) {
    if (!resume_->open() && !OpenResumable()) return 0;
    if (auto r = resume_->Write(data, len); !r) {
      write_error_ = r.error();
      return 0;
    }
    bytes_ += len;
    return len;
  }
  switch (req_.sink) {
    case BodySink::kFile: {
      if (!file_) {
        auto f = AtomicFile::Create(req_.target);
        if (!f) {
          write_error_ = f.error();
          return 0;
        }
        file_.emplace(std::move(*f));
      }
      if (auto r = file_->Write(data, len); !r) {
        write_error_ = r.error();
        return 0;
      }
      break;
    }
    case BodySink::kMemory:
      // S-9.8: the process holds the body and little more. Small bodies grow by doubling; past 1
      // MiB the buffer is reserved at the limit once: its untouched pages cost nothing, and no copy
      // of a large body coexists with the body itself.
      if (memory_.size() + len > memory_.capacity()) {
        uint64_t want = memory_.size() + len;
        memory_.reserve(want > (1u << 20) ? req_.limits.max_bytes
                                          : std::max<uint64_t>(memory_.capacity() * 2, want));
      }
      memory_.append(data, len);
      break;
    case BodySink::kDiscard:
      break;
  }
  digest_.Update(data, len);
  bytes_ += len;
  return len;
}

int TransferJob::OnProgress(void* self, curl_off_t dltotal, curl_off_t dlnow, curl_off_t,
                            curl_off_t) {
  auto* job = static_cast<TransferJob*>(self);
  if (job->req_.cancel && job->req_.cancel->load()) {
    job->cancelled_ = true;
    return 1;
  }
  if (job->req_.progress && job->AcceptBody() &&
      !job->req_.progress(static_cast<uint64_t>(dlnow), static_cast<uint64_t>(dltotal))) {
    job->cancelled_ = true;
    return 1;
  }
  return 0;
}

void TransferJob::Done(Error error, long retry_after_s) {
  if (resume_) resume_->Keep();  // S-10.4: what arrived is kept for the next attempt
  if (file_) file_->Abandon();
  file_.reset();
  // The report shows what a failed transfer cost: its time, its bytes and the status it got.
  TransferStats stats;
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  stats.bytes = bytes_;
  stats.http_status = IsHttp(current_) ? status_ : 0;
  stats.retry_after_s = retry_after_s;
  std::string where = Operation(current_, req_.method) + " " + current_.url_without_credentials;
  if (hops_ > 0) where += " (redirected from " + origin_.url_without_credentials + ")";
  // libcurl's messages do not carry the URL's userinfo, but make sure no password ever leaves.
  if (!password_.empty())
    for (size_t p; (p = error.message.find(password_)) != std::string::npos;)
      error.message.replace(p, password_.size(), "***");
  result_ = Unexpected(TransferError(error.WithContext(where), stats));
}

TransferJob::Next TransferJob::Redirect(CURL* h, long status) {
  char* location = nullptr;
  curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location);
  std::optional<ParsedUrl> next;
  if (location)
    if (auto parsed = ParseUrl(location)) next = *parsed;
  // The policy (S-3.4) is transfer/redirect.hpp's.
  RedirectStep step = DecideRedirect(origin_, current_, location ? location : "", next, status,
                                     ++hops_, req_.limits.max_redirects);
  if (step.refused) {
    Done(*step.refused);
    return Next::kDone;
  }
  if (step.drop_credentials) {
    username_.clear();
    password_.clear();
  }
  current_ = *next;
  current_.user.clear();
  current_.password.clear();
  ResetBody();
  discarded_ = 0;
  return Next::kAgain;
}

TransferJob::Next TransferJob::Finish(CURL* h, CURLcode code) {
  if (write_error_) {
    Done(*write_error_);
    return Next::kDone;
  }
  if (code != CURLE_OK) {
    if (cancelled_ || code == CURLE_ABORTED_BY_CALLBACK) {
      Done(MakeError(ErrorCode::kCancelled, "transfer cancelled"));
      return Next::kDone;
    }
    std::string msg = FailureText(code, error_buffer_, current_, bytes_);
    ErrorCode category = Categorize(code);
    if (code == CURLE_FILESIZE_EXCEEDED)
      msg = "body is larger than the limit of " + std::to_string(req_.limits.max_bytes) + " bytes";
    if (code == CURLE_OPERATION_TIMEDOUT)
      msg += " (time limits: connect " + std::to_string(req_.limits.connect_timeout_s) +
             " s, whole transfer " + std::to_string(req_.limits.max_time_s) + " s)";
    Done(MakeError(category, msg));
    return Next::kDone;
  }
  FetchResult r;
  if (IsHttp(current_)) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    r.status = status;
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      if (!req_.method.empty()) {
        Done(MakeError(ErrorCode::kHttpStatus,
                       "HTTP " + std::to_string(status) + ": an upload is not redirected"));
        return Next::kDone;
      }
      return Redirect(h, status);
    }
    if (status == 304) {
      if (!conditional_) {
        Done(MakeError(ErrorCode::kHttpStatus, "HTTP 304 to a request without a condition"));
        return Next::kDone;
      }
      r.outcome = FetchOutcome::kNotModified;
      if (resume_) resume_->Forget();  // a kept part is not of the applied file
    } else if (status == 401 || status == 403 || status == 407) {
      Done(MakeError(ErrorCode::kAuth, "HTTP " + std::to_string(status) +
                                           (username_.empty() ? " (no credentials configured)"
                                                              : " (credentials rejected)")));
      return Next::kDone;
    } else if (status == 206 && !kept_) {
      // A part of the file to a request for the whole: never taken as the file.
      Done(MakeError(ErrorCode::kHttpStatus,
                     "HTTP 206 (a part of the file) to a request for the whole file"));
      return Next::kDone;
    } else if (status < 200 || status >= 300) {
      if (status == 416 && resume_) resume_->Forget();  // starts over
      Error e = MakeError(ErrorCode::kHttpStatus, "HTTP " + std::to_string(status));
      long retry_after_s = RetryAfterSeconds(retry_after_, std::time(nullptr));
      if (retry_after_s > 0) e.message += " (Retry-After: " + retry_after_ + ")";
      Done(std::move(e), retry_after_s);
      return Next::kDone;
    }
  }
  if (IsFtp(current_)) {
    long unmet = 0;
    curl_easy_getinfo(h, CURLINFO_CONDITION_UNMET, &unmet);
    if (unmet && ftp_newer_than_ > 0) r.outcome = FetchOutcome::kNotModified;
    curl_off_t filetime = -1;
    curl_easy_getinfo(h, CURLINFO_FILETIME_T, &filetime);
    if (filetime > 0)
      last_modified_ = HttpDate(static_cast<long long>(filetime));
    else if (r.outcome == FetchOutcome::kNotModified)
      last_modified_ = req_.condition->last_modified;
  }
  if (r.outcome == FetchOutcome::kDownloaded && resume_) {
    auto sha = resume_->Complete();
    if (!sha) {
      Done(sha.error());
      return Next::kDone;
    }
    r.sha256 = std::move(*sha);
    r.bytes = resumed_ ? kept_->kept + bytes_ : bytes_;
    r.resumed_from = resumed_ ? kept_->kept : 0;
  } else if (r.outcome == FetchOutcome::kDownloaded) {
    if (req_.sink == BodySink::kFile) {
      if (!file_) {
        auto f = AtomicFile::Create(req_.target);
        if (!f) {
          Done(f.error());
          return Next::kDone;
        }
        file_.emplace(std::move(*f));
      }
      if (auto c = file_->Commit(); !c) {
        Done(c.error());
        return Next::kDone;
      }
      file_.reset();
    }
    r.bytes = bytes_;
    digest_.Finish(r.sha256, r.crc32);
    r.body = std::move(memory_);
  }
  // The job is done with them: moved, not copied.
  r.validators = {std::move(last_modified_), std::move(etag_)};
  r.date = std::move(date_);
  r.final_url = std::move(current_.url_without_credentials);
  r.redirects = hops_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  result_ = std::move(r);
  return Next::kDone;
}

Fetched TransferJob::TakeResult() {
  if (!result_) return Fail(ErrorCode::kInternal, "transfer has no result");
  return std::move(*result_);
}

}  // namespace autoprov::curl
