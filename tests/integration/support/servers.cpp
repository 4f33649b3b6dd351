#include "support/servers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace autoprov::testing {
namespace {

const std::filesystem::path kServers =
    std::filesystem::path(AUTOPROV_SOURCE_DIR) / "tests/integration/servers";

// A port the kernel just gave out, never one this process handed out before: "bind port 0, close,
// reuse the number" can give the same number twice in a row, and a server's config then names one
// port twice. Servers are also started again on other ports when a start fails (another process
// took the port meanwhile).
int FreePort(int type) {
  static std::mutex m;
  static std::set<int> given;
  std::lock_guard lock(m);
  for (;;) {
    int fd = ::socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    int port = ntohs(a.sin_port);
    if (given.insert(port).second) return port;
  }
}

constexpr int kStartAttempts = 5;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

}  // namespace

int FreeTcpPort() { return FreePort(SOCK_STREAM); }
int FreeUdpPort() { return FreePort(SOCK_DGRAM); }

std::filesystem::path MakeTempDir(const std::string& name) {
  std::string templ =
      (std::filesystem::temp_directory_path() / ("autoprov-" + name + "-XXXXXX")).string();
  char* made = ::mkdtemp(templ.data());
  std::filesystem::path p = made ? made : templ;
  ::chmod(p.c_str(), 0755);  // servers that drop privileges must reach their files
  return p;
}

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  ::chmod(p.c_str(), 0644);
}

std::string Substitute(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [k, v] : values) {
    std::string token = "@" + k + "@";
    for (size_t pos; (pos = text.find(token)) != std::string::npos;)
      text.replace(pos, token.size(), v);
  }
  return text;
}

int Shell(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Process& Process::operator=(Process&& o) noexcept {
  Stop();
  pid_ = o.pid_;
  o.pid_ = -1;
  return *this;
}

bool Process::Start(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  // posix_spawn, not fork: fork hangs under the user-mode emulator the arm64 tests run in
  // (scripts/test-cross.sh). setpriv makes the server die with the test (PR_SET_PDEATHSIG): a test
  // that dies without its destructors (a crash, a sanitizer abort, a kill) takes its servers with
  // it instead of leaving them orphaned.
  std::vector<std::string> full = {"setpriv", "--pdeathsig", "KILL", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return false;
  pid_ = pid;
  return true;
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;  // exited (e.g. its port was taken): reaped
    return false;
  }
  return true;
}

void Process::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 300; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void Process::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Process::Wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  for (int waited = 0; waited <= timeout_ms; waited += 5) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

bool WaitForTcpPort(int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

const TestPki& TestPki::Get() {
  static TestPki pki = [] {
    TestPki p;
    p.dir = MakeTempDir("pki");
    auto f = [&](const char* n) { return p.dir / n; };
    p.ca_cert = f("ca.pem");
    p.ca_key = f("ca.key");
    p.server_cert = f("server.pem");
    p.server_key = f("server.key");
    p.wrong_cert = f("wrong.pem");
    p.wrong_key = f("wrong.key");
    p.client_cert = f("client.pem");
    p.client_key = f("client.key");
    if (Shell("bash " + (kServers / "make_pki.sh").string() + " " + p.dir.string()) != 0)
      std::abort();
    return p;
  }();
  // Removed when the test process exits: each test runs in a process of its own.
  static struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{pki.dir};
  return pki;
}

Nginx::Nginx() {
  prefix_ = MakeTempDir("nginx");
  root_ = prefix_ / "root";
  std::filesystem::create_directories(root_);
  std::filesystem::create_directories(prefix_ / "tmp");
  ::chmod(root_.c_str(), 0755);
  const TestPki& pki = TestPki::Get();
  for (int attempt = 0; attempt < kStartAttempts && !ok_; ++attempt) {
    process_.Stop();
    port_ = FreeTcpPort();
    tls_port_ = FreeTcpPort();
    mtls_port_ = FreeTcpPort();
    wrong_port_ = FreeTcpPort();
    WriteText(prefix_ / "htpasswd", "joe:{PLAIN}s3cret\n");
    std::string conf = Substitute(ReadText(kServers / "nginx.conf.in"),
                                  {{"PREFIX", prefix_.string()},
                                   {"ROOT", root_.string()},
                                   {"PORT", std::to_string(port_)},
                                   {"TLS_PORT", std::to_string(tls_port_)},
                                   {"MTLS_PORT", std::to_string(mtls_port_)},
                                   {"WRONG_PORT", std::to_string(wrong_port_)},
                                   {"CA_CERT", pki.ca_cert.string()},
                                   {"SERVER_CERT", pki.server_cert.string()},
                                   {"SERVER_KEY", pki.server_key.string()},
                                   {"WRONG_CERT", pki.wrong_cert.string()},
                                   {"WRONG_KEY", pki.wrong_key.string()}});
    WriteText(prefix_ / "nginx.conf", conf);
    process_.Start({"nginx", "-p", prefix_.string(), "-c", (prefix_ / "nginx.conf").string(), "-e",
                    (prefix_ / "error.log").string()},
                   prefix_ / "stderr.log");
    // nginx exits at once when a port is taken; then the ports are chosen again.
    ok_ = WaitForTcpPort(port_) && WaitForTcpPort(tls_port_) && WaitForTcpPort(mtls_port_) &&
          WaitForTcpPort(wrong_port_) && process_.Running();
  }
}

Nginx::~Nginx() {
  process_.Stop();
  std::error_code ec;
  std::filesystem::remove_all(prefix_, ec);
}

std::vector<AccessLogEntry> Nginx::AccessLog() const {
  // nginx writes a request's line after it has sent the response, so a client can see the response
  // before the line is there: read the log once it has stopped growing (20 ms quiet, at most 1 s).
  std::string text = ReadText(prefix_ / "access.log");
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::string again = ReadText(prefix_ / "access.log");
    if (again == text) break;
    text = std::move(again);
  }
  std::vector<AccessLogEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto f = Split(line, '|');
    if (f.size() < 7) continue;
    auto dash = [](std::string v) {
      if (v == "-") return std::string();
      for (size_t p; (p = v.find("\\x22")) != std::string::npos;) v.replace(p, 4, "\"");
      return v;
    };
    AccessLogEntry e;
    e.uri = f[0];
    e.status = std::atoi(f[1].c_str());
    e.if_modified_since = dash(f[2]);
    e.if_none_match = dash(f[3]);
    e.user_agent = dash(f[4]);
    e.bytes = std::atoll(f[5].c_str());
    e.authorization = dash(f[6]);
    if (f.size() > 7) e.connection = f[7];
    if (f.size() > 8) e.time = std::atof(f[8].c_str());
    out.push_back(e);
  }
  return out;
}

std::vector<AccessLogEntry> Nginx::Requests(const std::string& uri) const {
  std::vector<AccessLogEntry> out;
  for (auto& e : AccessLog())
    if (e.uri == uri) out.push_back(e);
  return out;
}

std::string Nginx::ErrorLog() const { return ReadText(prefix_ / "error.log"); }

HostileServer::HostileServer() {
  dir_ = MakeTempDir("hostile");
  for (int attempt = 0; attempt < kStartAttempts && !ok_; ++attempt) {
    process_.Stop();
    port_ = FreeTcpPort();
    process_.Start({"python3", (kServers / "hostile_server.py").string(), "--port",
                    std::to_string(port_), "--log", (dir_ / "requests.log").string()},
                   dir_ / "stderr.log");
    ok_ = WaitForTcpPort(port_) && process_.Running();
  }
}

HostileServer::~HostileServer() {
  process_.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> HostileServer::Log() const {
  return Split(ReadText(dir_ / "requests.log"), '\n');
}

Tftpd::Tftpd(const std::filesystem::path& root) {
  dir_ = MakeTempDir("tftpd");
  for (int attempt = 0; attempt < kStartAttempts && !ok_; ++attempt) {
    process_.Stop();
    port_ = FreeUdpPort();
    std::vector<std::string> argv = {
        "/usr/sbin/in.tftpd", "--foreground", "--address",   "127.0.0.1:" + std::to_string(port_),
        "--secure",           root.string(),  "--blocksize", "65464"};
    if (::geteuid() == 0) {
      argv.push_back("--user");
      argv.push_back("nobody");
    }
    process_.Start(argv, dir_ / "tftpd.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // UDP: nothing to connect to
    ok_ = process_.Running();  // in.tftpd exits when it cannot bind
  }
}

Tftpd::~Tftpd() {
  process_.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Vsftpd::Vsftpd(const std::filesystem::path& root) {
  dir_ = MakeTempDir("vsftpd");
  std::filesystem::create_directories(dir_ / "empty");
  ::chmod((dir_ / "empty").c_str(), 0755);
  ::chmod(root.c_str(), 0555);  // vsftpd refuses a writable anonymous root
  for (int attempt = 0; attempt < kStartAttempts && !ok_; ++attempt) {
    process_.Stop();
    port_ = FreeTcpPort();
    int pasv = 30000 + (port_ % 20000);
    std::string conf = Substitute(ReadText(kServers / "vsftpd.conf.in"),
                                  {{"PORT", std::to_string(port_)},
                                   {"ROOT", root.string()},
                                   {"EMPTY", (dir_ / "empty").string()},
                                   {"LOG", (dir_ / "vsftpd.log").string()},
                                   {"PASV_MIN", std::to_string(pasv)},
                                   {"PASV_MAX", std::to_string(pasv + 20)}});
    WriteText(dir_ / "vsftpd.conf", conf);
    process_.Start({"/usr/sbin/vsftpd", (dir_ / "vsftpd.conf").string()}, dir_ / "stderr.log");
    ok_ = WaitForTcpPort(port_) && process_.Running();
  }
}

Vsftpd::~Vsftpd() {
  process_.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Vsftpd::Log() const { return ReadText(dir_ / "vsftpd.log"); }

}  // namespace autoprov::testing
