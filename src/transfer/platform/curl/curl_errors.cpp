#include "transfer/platform/curl/curl_errors.hpp"

namespace autoprov::curl {

bool IsHttp(const ParsedUrl& u) { return u.scheme == "http" || u.scheme == "https"; }
bool IsFtp(const ParsedUrl& u) { return u.scheme == "ftp" || u.scheme == "ftps"; }
bool IsTftp(const ParsedUrl& u) { return u.scheme == "tftp"; }

std::string Operation(const ParsedUrl& u, const std::string& method) {
  if (!method.empty()) return method;
  if (IsHttp(u)) return "GET";
  if (IsFtp(u)) return "FTP RETR";
  if (IsTftp(u)) return "TFTP read";
  return "read";
}

// libcurl's words for a failed transfer. Its error buffer holds the most specific message, except
// where a harmless earlier message stays in it: over TFTP (UDP) a failed getpeername() is written
// there first and never replaced, so a missing file, a refusal and a server that is down would all
// read the same. TFTP's own errors are named here; a stale buffer gives way to the code's text.
std::string FailureText(CURLcode code, const char* buffer, const ParsedUrl& u, uint64_t bytes) {
  std::string detail = buffer ? buffer : "";
  bool stale = detail.empty() || detail.find("getpeername()") != std::string::npos;
  switch (code) {
    case CURLE_TFTP_NOTFOUND:
      return "the TFTP server has no such file (TFTP error 1, file not found)";
    case CURLE_TFTP_PERM:
      return "the TFTP server refused to send the file (TFTP error 2, access violation)";
    case CURLE_TFTP_ILLEGAL:
      return "the TFTP server refused the request (TFTP error 4 or an undefined error: tftpd-hpa "
             "answers so for a file it may not read)";
    case CURLE_TFTP_UNKNOWNID:
    case CURLE_TFTP_NOSUCHUSER:
    case CURLE_TFTP_EXISTS:
      return std::string("the TFTP server answered with an error: ") + curl_easy_strerror(code);
    case CURLE_OPERATION_TIMEDOUT:
      if (IsTftp(u))
        return bytes == 0 ? "no answer from the TFTP server (it is down, unreachable or does not "
                            "answer UDP on that port)"
                          : "the TFTP transfer stopped answering after " + std::to_string(bytes) +
                                " bytes";
      break;
    default:
      break;
  }
  return stale ? curl_easy_strerror(code) : detail;
}

ErrorCode Categorize(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorCode::kTimeout;
    case CURLE_PARTIAL_FILE:
      return ErrorCode::kTruncated;
    case CURLE_FILESIZE_EXCEEDED:
      return ErrorCode::kTooLarge;
    case CURLE_UNSUPPORTED_PROTOCOL:
      return ErrorCode::kRefusedScheme;
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_AUTH_ERROR:
    case CURLE_TFTP_PERM:
    case CURLE_TFTP_ILLEGAL:
      return ErrorCode::kAuth;
    case CURLE_REMOTE_FILE_NOT_FOUND:
    case CURLE_TFTP_NOTFOUND:
    case CURLE_FILE_COULDNT_READ_FILE:
      return ErrorCode::kNotFound;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return ErrorCode::kTls;
    case CURLE_ABORTED_BY_CALLBACK:
      return ErrorCode::kCancelled;
    case CURLE_WRITE_ERROR:
      return ErrorCode::kIo;
    default:
      return ErrorCode::kNetwork;
  }
}

}  // namespace autoprov::curl
