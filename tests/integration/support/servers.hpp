// Real servers for integration tests: each starts from a config in tests/integration/servers/ on a
// free loopback port, in its own temporary prefix, and is stopped by PID when the object goes away.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace autoprov::testing {

int FreeTcpPort();
int FreeUdpPort();
std::filesystem::path MakeTempDir(const std::string& name);
std::string ReadText(const std::filesystem::path& p);
void WriteText(const std::filesystem::path& p, const std::string& text);
// Replaces @KEY@ in a template file.
std::string Substitute(std::string text, const std::map<std::string, std::string>& values);
// Runs a shell command; returns its exit status.
int Shell(const std::string& command);

class Process {
 public:
  Process() = default;
  Process(Process&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Process& operator=(Process&& o) noexcept;
  ~Process() { Stop(); }
  // argv[0] is the program; stdout and stderr go to `log`.
  bool Start(const std::vector<std::string>& argv, const std::filesystem::path& log);
  void Stop();     // SIGTERM, then SIGKILL after 3 s
  void Kill();     // SIGKILL now, and reap
  bool Running();  // false once it has exited (then reaped)
  // Waits for the process to exit by itself; its exit status, or -1 after `timeout_ms`.
  int Wait(int timeout_ms);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

bool WaitForTcpPort(int port, int timeout_ms = 5000);

// Test PKI made with the openssl command: a CA, a server certificate for 127.0.0.1/localhost, one
// for the wrong host name, and a client certificate.
struct TestPki {
  std::filesystem::path dir, ca_cert, ca_key, server_cert, server_key, wrong_cert, wrong_key,
      client_cert, client_key;
  static const TestPki& Get();  // made once per test binary
};

struct AccessLogEntry {
  std::string uri;
  int status = 0;
  std::string if_modified_since, if_none_match, user_agent, authorization;
  long long bytes = 0;
  std::string
      connection;   // nginx's connection serial number: equal values mean a reused connection
  double time = 0;  // when nginx logged it (unix time, ms resolution)
};

class Nginx {
 public:
  // Starts nginx with tests/integration/servers/nginx.conf.in; files are served from root().
  Nginx();
  ~Nginx();
  bool ok() const { return ok_; }
  int port() const { return port_; }
  int tls_port() const { return tls_port_; }
  int mtls_port() const { return mtls_port_; }
  int wrong_host_port() const { return wrong_port_; }
  const std::filesystem::path& root() const { return root_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string TlsUrl(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(tls_port_) + path;
  }
  std::vector<AccessLogEntry> AccessLog() const;
  std::vector<AccessLogEntry> Requests(const std::string& uri) const;  // entries for one URI
  std::string ErrorLog() const;

 private:
  std::filesystem::path prefix_, root_;
  int port_ = 0, tls_port_ = 0, mtls_port_ = 0, wrong_port_ = 0;
  Process process_;
  bool ok_ = false;
};

// tests/integration/servers/hostile_server.py: Digest auth, truncated, dripping, endless and
// failing responses. It logs one line per request to log().
class HostileServer {
 public:
  HostileServer();
  ~HostileServer();  // stops the server, removes its directory
  bool ok() const { return ok_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<std::string> Log() const;

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  Process process_;
  bool ok_ = false;
};

class Tftpd {
 public:
  explicit Tftpd(const std::filesystem::path& root);
  ~Tftpd();  // stops the server, removes its directory (its log)
  bool ok() const { return ok_; }
  std::string Url(const std::string& path) const {
    return "tftp://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  Process process_;
  bool ok_ = false;
};

class Vsftpd {
 public:
  explicit Vsftpd(const std::filesystem::path& root);
  ~Vsftpd();  // stops the server, removes its directory
  bool ok() const { return ok_; }
  // vsftpd's own log: one line per FTP command and per transfer (log_ftp_protocol).
  std::string Log() const;
  std::string Url(const std::string& path) const {
    return "ftp://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  Process process_;
  bool ok_ = false;
};

}  // namespace autoprov::testing
