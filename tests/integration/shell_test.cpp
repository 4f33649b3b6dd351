// `autoprov cli`: every command through -c, a script on stdin, and the interactive shell in a real
// pseudo-terminal (tmux) for prompts, Tab completion and an error.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "../app/command_runner.hpp"
#include "support/servers.hpp"

namespace autoprov {
namespace {

using namespace testing;

class ShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("shell");
    st_ = " --state-dir " + (dir_ / "state").string() + " --mac 00908F0000BB";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  CommandResult Cli(const std::vector<std::string>& lines) {
    std::string args = "cli" + st_;
    for (const auto& l : lines) args += " -c '" + l + "'";
    return RunCommand(args);
  }
  std::filesystem::path dir_;
  std::string st_;
};

TEST_F(ShellTest, EveryCommandThroughDashC) {
  auto r = Cli({"configure system",
                "automatic-update",
                "ini-file http://127.0.0.1:1/<MAC>.ini",
                "cli-script http://127.0.0.1:1/s.cli",
                "startup-script http://127.0.0.1:1/st.txt",
                "auto-firmware http://127.0.0.1:1/fw.cmp",
                "firmware http://127.0.0.1:1/one.cmp",
                "feature-key http://127.0.0.1:1/fk.txt",
                "call-progress-tones http://127.0.0.1:1/cpt.dat",
                "prerecorded-tones http://127.0.0.1:1/prt.dat",
                "voice-prompts http://127.0.0.1:1/vp.dat",
                "dial-plan http://127.0.0.1:1/dp.txt",
                "user-info http://127.0.0.1:1/ui.txt",
                "tls-root-cert http://127.0.0.1:1/root.pem",
                "tls-cert http://127.0.0.1:1/cert.pem",
                "tls-private-key http://127.0.0.1:1/key.pem",
                "template-url http://127.0.0.1:1/<FILE>",
                "template-files-list ini,fk",
                "update-firmware on",
                "update-frequency 0",
                "update-frequency-sec 3600",
                "predefined-time-random 60",
                "run-on-reboot off",
                "crc-check voice-conf-ordered",
                "http-user-agent agent <MAC>",
                "credentials joe s3cret",
                "digest-username joe",
                "digest-password pw",
                "verify-ssl-cert off",
                "tftp-block-size 1428",
                "max-transfer-time 5",
                "configuration-version 42",
                "activate",
                "exit",
                "exit",
                "configure voip",
                "sip-definition advanced-settings",
                "sip-remote-reset on",
                "end"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto shown = Cli({"show running-config"});
  for (const char* expect : {"ini-file http://127.0.0.1:1/<MAC>.ini",
                             "cli-script ",
                             "startup-script ",
                             "auto-firmware ",
                             "firmware ",
                             "feature-key ",
                             "call-progress-tones ",
                             "prerecorded-tones ",
                             "voice-prompts ",
                             "dial-plan ",
                             "user-info ",
                             "tls-root-cert ",
                             "tls-cert ",
                             "tls-private-key ",
                             "template-url http://127.0.0.1:1/<FILE>",
                             "template-files-list ini,fk",
                             "update-firmware on",
                             "update-frequency-sec 3600",
                             "predefined-time-random 60",
                             "run-on-reboot off",
                             "crc-check voice-conf-ordered",
                             "http-user-agent \"agent <MAC>\"",
                             "credentials is set (secret, not shown)",
                             "digest-username joe",
                             "verify-ssl-cert off",
                             "tftp-block-size 1428",
                             "max-transfer-time 5",
                             "configuration-version 42",
                             "sip-remote-reset on"})
    EXPECT_NE(shown.out.find(expect), std::string::npos) << expect << "\n" << shown.out;
  EXPECT_EQ(shown.out.find("s3cret"), std::string::npos);
  auto part = Cli({"show running-config automatic-update"});
  EXPECT_NE(part.out.find("crc-check"), std::string::npos);
  EXPECT_EQ(part.out.find("sip-remote-reset"), std::string::npos);
  // no, and the daemon-less status.
  auto no = Cli({"configure system", "automatic-update", "no crc-check", "no update-frequency-sec",
                 "no predefined-time", "predefined-time 03:00",
                 "do show running-config automatic-update"});
  EXPECT_EQ(no.exit_code, 0) << no.out;
  EXPECT_EQ(no.out.find("crc-check"), std::string::npos);
  EXPECT_NE(no.out.find("predefined-time 03:00"), std::string::npos);
  auto status = Cli({"show automatic-update status"});
  EXPECT_NE(status.out.find("daemon: not running"), std::string::npos);
  EXPECT_NE(status.out.find("last run: none"), std::string::npos);
  // automatic-update run in the shell (nothing reachable: the step fails, the shell reports it).
  auto run = Cli({"configure system", "automatic-update", "no predefined-time", "run"});
  EXPECT_NE(run.out.find("failed"), std::string::npos) << run.out;
}

TEST_F(ShellTest, ErrorsAreReportedWithLineNumbersAndChangeNothing) {
  auto r = RunCommand("cli" + st_,
                      "configure system\nautomatic-update\nupdate-firmware maybe\nbogus-command "
                      "1\ncrc-check regular\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("'maybe' is not one of off|on"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<stdin>:3"), std::string::npos);
  EXPECT_NE(r.out.find("<stdin>:4"), std::string::npos);
  EXPECT_NE(RunCommand("config show" + st_).out.find("AUPDCheckIfIniChanged = 1"),
            std::string::npos);
  EXPECT_EQ(RunCommand("config show" + st_).out.find("AutoUpdateCmpFile"), std::string::npos);
  EXPECT_EQ(Cli({"show nonsense"}).exit_code, 1);
  EXPECT_EQ(Cli({"show running-config", "copy startup-script from x"}).exit_code, 1);
}

// A shell in a pseudo-terminal (tmux): keys in, the screen out.
struct Terminal {
  std::string session, tmux;
  std::filesystem::path shot;
  Terminal(const std::string& name, const std::filesystem::path& dir)
      : session(name + "-" + std::to_string(::getpid())),
        tmux("tmux -L " + session + " "),
        shot(dir / "screen.txt") {}
  ~Terminal() { Shell(tmux + "kill-server 2>/dev/null"); }
  int Start(const std::string& command) {
    return Shell(tmux + "new-session -d -s " + session + " -x 160 -y 50 '" + command + "'");
  }
  void Send(const std::string& keys) { Shell(tmux + "send-keys -t " + session + " " + keys); }
  std::string Screen() {
    Shell(tmux + "capture-pane -p -t " + session + " > " + shot.string());
    return ReadText(shot);
  }
  bool WaitFor(const std::string& text) {
    for (int i = 0; i < 100; ++i) {
      if (Screen().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  bool Alive() { return Shell(tmux + "has-session -t " + session + " 2>/dev/null") == 0; }
};

TEST_F(ShellTest, InteractiveInAPseudoTerminal) {
  Terminal term("autoprov-test", dir_);
  auto send = [&](const std::string& keys) { term.Send(keys); };
  auto screen = [&] { return term.Screen(); };
  auto wait_for = [&](const std::string& text) { return term.WaitFor(text); };
  ASSERT_EQ(term.Start(std::string(AUTOPROV_BINARY) + " cli" + st_), 0);
  ASSERT_TRUE(wait_for("autoprov#")) << screen();
  send("'configure system' Enter");
  EXPECT_TRUE(wait_for("autoprov(config-system)#")) << screen();
  send("'automatic-update' Enter");
  EXPECT_TRUE(wait_for("autoprov(automatic-update)#")) << screen();
  send("'crc-ch' Tab");
  EXPECT_TRUE(wait_for("# crc-check")) << screen();
  send("'reg' Tab Enter");
  send("'update-firmware maybe' Enter");
  EXPECT_TRUE(wait_for("% update-firmware: 'maybe' is not one of off|on")) << screen();
  send("'?' Enter");
  EXPECT_TRUE(wait_for("template-files-list")) << screen();
  send("end Enter");
  send("exit Enter");
  for (int i = 0; i < 100 && term.Alive(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(RunCommand("config show" + st_).out.find("AUPDCheckIfIniChanged = 1"),
            std::string::npos)
      << "crc-check regular, typed with Tab completion, was applied";
}

// The shell as on the device: `?` answers without Enter with what can follow the words typed so
// far (then the line as it was), Tab completes at every level, an error shows a caret under the
// offending word, and a person's session does not end in failure for a typo corrected since.
TEST_F(ShellTest, QuestionMarkAndTabAnswerForTheWordsTypedSoFar) {
  Terminal term("autoprov-help", dir_);
  auto send = [&](const std::string& keys) { term.Send(keys); };
  auto screen = [&] { return term.Screen(); };
  auto wait_for = [&](const std::string& text) { return term.WaitFor(text); };
  auto clear = [&] {
    send("C-u");
    Shell(term.tmux + "clear-history -t " + term.session);
    send("C-l");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  };
  ASSERT_EQ(
      term.Start(std::string(AUTOPROV_BINARY) + " cli" + st_ + "; echo exit-status $?; sleep 30"),
      0);
  ASSERT_TRUE(wait_for("autoprov#")) << screen();
  send("'configure ?'");  // no Enter
  EXPECT_TRUE(wait_for("system")) << screen();
  EXPECT_TRUE(wait_for("autoprov# configure ")) << "the line is shown again: " << screen();
  EXPECT_EQ(screen().find("show"), std::string::npos)
      << "only what follows 'configure': " << screen();
  clear();
  send("'show ?'");
  EXPECT_TRUE(wait_for("running-config")) << screen();
  EXPECT_TRUE(wait_for("automatic-update")) << screen();
  clear();
  send("'configure sy' Tab");
  EXPECT_TRUE(wait_for("autoprov# configure system")) << "configure <Tab> completes: " << screen();
  send("Enter");
  EXPECT_TRUE(wait_for("autoprov(config-system)#")) << screen();
  send("'automatic-update' Enter");
  EXPECT_TRUE(wait_for("autoprov(automatic-update)#")) << screen();
  clear();
  send("'crc-check ?'");
  EXPECT_TRUE(wait_for("regular")) << "a command's values: " << screen();
  clear();
  send("'update-firmware maybe' Enter");
  EXPECT_TRUE(wait_for("% update-firmware: 'maybe' is not one of off|on")) << screen();
  {
    // The caret stands under 'maybe', below the prompt and the line.
    std::string text = screen();
    std::string typed = "autoprov(automatic-update)# update-firmware maybe";
    size_t at = text.find(typed);
    ASSERT_NE(at, std::string::npos) << text;
    size_t next_line = text.find('\n', at) + 1;
    size_t caret = text.find('^', next_line);
    ASSERT_NE(caret, std::string::npos) << text;
    EXPECT_EQ(caret - next_line, typed.find("maybe")) << text;
  }
  for (int i = 0; i < 3; ++i) send("exit Enter");  // (tmux reads "end" as the End key)
  EXPECT_TRUE(wait_for("exit-status 0"))
      << "a corrected typo does not fail the session: " << screen();
}

// Truthful reports, reproduction 5: Ctrl-C discards the line being typed and prompts again (as
// bash, IOS-style shells and psql do) instead of killing the shell; Ctrl-D on an empty line leaves.
TEST_F(ShellTest, CtrlCDiscardsTheLineCtrlDLeaves) {
  ASSERT_EQ(RunCommand("config set IniFileURL http://127.0.0.1/ctrl-c.ini" + st_).exit_code, 0);
  Terminal term("autoprov-ctrlc", dir_);
  auto screen = [&] { return term.Screen(); };
  ASSERT_EQ(
      term.Start(std::string(AUTOPROV_BINARY) + " cli" + st_ + "; echo exit-status $?; sleep 30"),
      0);
  ASSERT_TRUE(term.WaitFor("autoprov#")) << screen();
  term.Send("'configure system'");  // no Enter
  ASSERT_TRUE(term.WaitFor("autoprov# configure system")) << screen();
  term.Send("C-c");
  EXPECT_TRUE(term.WaitFor("^C")) << screen();
  term.Send("'show running-config' Enter");
  EXPECT_TRUE(term.WaitFor("ctrl-c.ini")) << "the shell still runs: " << screen();
  EXPECT_EQ(screen().find("autoprov(config-system)#"), std::string::npos)
      << "the discarded line was not run: " << screen();
  EXPECT_EQ(screen().find("exit-status"), std::string::npos) << screen();
  term.Send("C-d");
  EXPECT_TRUE(term.WaitFor("exit-status 0")) << screen();
}

// A script fed on standard input still stops at Ctrl-C (SIGINT).
TEST_F(ShellTest, AScriptOnStdinStopsAtSigint) {
  Process shell;
  auto fifo = dir_ / "in.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_TRUE(
      shell.Start({"/bin/sh", "-c",
                   "exec " + std::string(AUTOPROV_BINARY) + " cli" + st_ + " < " + fifo.string()},
                  dir_ / "shell.log"));
  int writer = ::open(fifo.c_str(), O_WRONLY);  // the script never ends by itself
  ASSERT_GE(writer, 0);
  std::string line = "show running-config\n";
  ASSERT_EQ(::write(writer, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(shell.Running());
  ::kill(shell.pid(), SIGINT);
  EXPECT_NE(shell.Wait(5000), -1) << "the script stopped at SIGINT";
  ::close(writer);
}

// From -c or standard input, errors go to stderr with the line number and a caret; the output of
// the lines that worked stays on stdout.
TEST_F(ShellTest, ScriptErrorsGoToStderrWithLineNumberAndCaret) {
  WriteText(dir_ / "script.cli", "configure system\nautomatic-update\nupdate-firmware maybe\n");
  auto out = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " cli" + st_ + " < " +
                        (dir_ / "script.cli").string() + " 2>/dev/null'");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.out.find("maybe"), std::string::npos) << "stdout: " << out.out;
  auto err = RunProgram("sh -c '" + std::string(AUTOPROV_BINARY) + " cli" + st_ + " < " +
                        (dir_ / "script.cli").string() + " >/dev/null'");
  EXPECT_NE(err.out.find("<stdin>:3: error: update-firmware: 'maybe' is not one of off|on"),
            std::string::npos)
      << err.out;
  EXPECT_NE(err.out.find("  update-firmware maybe\n                  ^"), std::string::npos)
      << err.out;
  auto typo = Cli({"configure system", "automatic-update", "crc-chek regular"});
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.out.find("did you mean 'crc-check'?"), std::string::npos) << typo.out;
}

}  // namespace
}  // namespace autoprov
