#include "agent/exec_service.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/file_util.h"
#include "base/strings.h"
#include "tests/testing/test_util.h"

namespace asb::agent {
namespace {

using std::chrono::milliseconds;

using ::asb::testing::WaitFor;

class ExecServiceTest : public ::testing::Test {
 protected:
  ::asb::testing::TempDir tmp_;
  const std::string dir_ = tmp_.path();
};

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST_F(ExecServiceTest, SplitsStdoutAndStderrAndReportsExitCode) {
  ExecService exec(dir_, milliseconds(10000));
  auto r = exec.Run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->stdout_data, "out\n");
  EXPECT_EQ(r->stderr_data, "err\n");
  EXPECT_EQ(r->exit_code, 3);
}

TEST_F(ExecServiceTest, WarmUpRunsTheCommandThroughTheExecPathAndLeavesNothing) {
  ExecService exec(dir_, milliseconds(10000));
  // Each run is a real process in the service's cwd, found through PATH like a request's.
  auto took = exec.WarmUp({"sh", "-c", "echo ran >> warm.log"}, 3);
  EXPECT_EQ(took.size(), 3u);
  auto log = ReadFile(dir_ + "/warm.log");
  ASSERT_TRUE(log.has_value());
  EXPECT_EQ(*log, "ran\nran\nran\n");
  // Every run was reaped.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  // A command the image lacks costs a failed spawn per run, not an error.
  EXPECT_EQ(exec.WarmUp({"no-such-command-asb"}, 2).size(), 2u);
}

TEST_F(ExecServiceTest, RunsInCwdWithDevNullStdinInItsOwnSession) {
  ExecService exec(dir_, milliseconds(10000));
  auto r = exec.Run(
      {"sh", "-c", "pwd; cat; ps -o sid= -p $$ 2>/dev/null || cut -d' ' -f6 /proc/$$/stat"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  std::vector<std::string> lines = Split(r->stdout_data, '\n');
  ASSERT_GE(lines.size(), 2u) << r->stdout_data;
  EXPECT_EQ(lines[0], dir_);
  // The session id is not ours: the command runs in a new session (and process group).
  EXPECT_NE(std::string(Trim(lines[1])), std::to_string(::getsid(0)));
}

TEST_F(ExecServiceTest, SignalDeathIsNegativeLikePython) {
  ExecService exec(dir_, milliseconds(10000));
  auto r = exec.Run({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, -SIGTERM);
}

TEST_F(ExecServiceTest, ChildDoesNotInheritAgentFds) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // deliberately without O_CLOEXEC
  ExecService exec(dir_, milliseconds(10000));
  auto r = exec.Run({"sh", "-c", "ls /proc/self/fd"});
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(r.has_value());
  // 0, 1, 2 and the fd ls itself opens to read the directory.
  EXPECT_LE(Split(std::string(Trim(r->stdout_data)), '\n').size(), 4u) << r->stdout_data;
}

TEST_F(ExecServiceTest, LargeOutputOnBothPipesDoesNotDeadlock) {
  ExecService exec(dir_, milliseconds(60000), 64, /*max_output_bytes=*/16u << 20);
  // 10 MiB on stdout and 10 MiB on stderr, written interleaved: a reader that drains only one
  // pipe at a time would block the child once the other pipe's 64 KiB buffer fills.
  auto r = exec.Run({"sh", "-c",
                     "head -c 10485760 /dev/zero | tr '\\0' a & "
                     "head -c 10485760 /dev/zero | tr '\\0' b >&2; wait"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->stdout_data.size(), 10485760u);
  EXPECT_EQ(r->stderr_data.size(), 10485760u);
  EXPECT_EQ(r->stdout_data.find_first_not_of('a'), std::string::npos);
  EXPECT_EQ(r->stderr_data.find_first_not_of('b'), std::string::npos);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->stdout_truncated);
  EXPECT_FALSE(r->stderr_truncated);
}

TEST_F(ExecServiceTest, OutputFloodIsCappedAndFlaggedWhileTheCommandRunsToTheEnd) {
  ExecService exec(dir_, milliseconds(60000), 64, /*max_output_bytes=*/1u << 20);
  // 200 MB on stdout, a little on stderr, then a marker only written once all of it was read:
  // past the cap output is discarded, not left in the pipe (the child would block forever).
  auto r = exec.Run(
      {"sh", "-c", "head -c 209715200 /dev/zero; echo small >&2; touch " + dir_ + "/done"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data.size(), 1u << 20);
  EXPECT_TRUE(r->stdout_truncated);
  EXPECT_EQ(r->stderr_data, "small\n");
  EXPECT_FALSE(r->stderr_truncated);
  EXPECT_TRUE(PathExists(dir_ + "/done"));
}

TEST_F(ExecServiceTest, DefaultCapIsFourMiBPerStream) {
  ExecService exec(dir_, milliseconds(60000));
  auto r = exec.Run({"sh", "-c", "head -c 5000000 /dev/zero; head -c 5000000 /dev/zero >&2"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->stdout_data.size(), kDefaultMaxOutputBytes);
  EXPECT_EQ(r->stderr_data.size(), kDefaultMaxOutputBytes);
  EXPECT_TRUE(r->stdout_truncated && r->stderr_truncated);
}

TEST_F(ExecServiceTest, TimeoutKillsTheWholeProcessGroup) {
  ExecService exec(dir_, milliseconds(300000));
  std::string pids_file = dir_ + "/pids";
  auto start = std::chrono::steady_clock::now();
  auto r = exec.Run({"sh", "-c", "sleep 100 & echo $! > " + pids_file + "; sleep 100 & wait"},
                    milliseconds(500));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kDeadlineExceeded);
  EXPECT_EQ(r.error().message, "Command '['sh', '-c', 'sleep 100 & echo $! > " + pids_file +
                                   "; sleep 100 & wait']' timed out after 0.5 seconds");
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  auto grandchild = ParseInt(Trim(ReadFile(pids_file).value_or("")));
  ASSERT_TRUE(grandchild.has_value());
  // The grandchild was SIGKILLed with its group; once reaped (by its new parent) it is gone.
  EXPECT_TRUE(WaitFor([&] { return !Alive(static_cast<pid_t>(*grandchild)); }, milliseconds(5000)))
      << "grandchild " << *grandchild << " survived the timeout";
}

TEST_F(ExecServiceTest, TimeoutAppliesWhenBackgroundChildHoldsPipes) {
  ExecService exec(dir_, milliseconds(300000));
  // The direct child exits at once but a background process keeps stdout open, exactly like
  // Python's communicate(): the call waits for EOF and the timeout still bounds it.
  auto r = exec.Run({"sh", "-c", "sleep 100 & echo started"}, milliseconds(300));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kDeadlineExceeded);
}

TEST_F(ExecServiceTest, UnknownBinaryIsAnErrnoStyleError) {
  ExecService exec(dir_, milliseconds(10000));
  auto r = exec.Run({"definitely-not-a-binary-xyz", "a"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kNotFound);
  EXPECT_EQ(r.error().message,
            "[Errno 2] No such file or directory: 'definitely-not-a-binary-xyz'");
}

TEST_F(ExecServiceTest, RunCommandMapsEveryFailureToExitCodeOne) {
  ExecService exec(dir_, milliseconds(10000));
  struct Case {
    std::string command;
    std::string stderr_text;
  };
  const Case cases[] = {
      {"definitely-not-a-binary-xyz",
       "Failed to execute command: [Errno 2] No such file or directory: "
       "'definitely-not-a-binary-xyz'"},
      {"echo 'unterminated", "Failed to execute command: No closing quotation"},
      {"", "Failed to execute command: list index out of range"},
      {"sleep 5",
       "Failed to execute command: Command '['sleep', '5']' timed out after 0.2 seconds"},
  };
  for (const Case& c : cases) {
    ExecResult r = exec.RunCommand(c.command, milliseconds(200));
    EXPECT_EQ(r.exit_code, 1) << c.command;
    EXPECT_EQ(r.stdout_data, "") << c.command;
    EXPECT_EQ(r.stderr_data, c.stderr_text) << c.command;
    EXPECT_EQ(r.timed_out, c.command == "sleep 5") << c.command;
  }
}

TEST_F(ExecServiceTest, RunCommandUsesNoShellAndTranslatesNewlines) {
  ExecService exec(dir_, milliseconds(10000));
  ExecResult r = exec.RunCommand("echo 'a b' \"$HOME\" '|' x > y");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "a b $HOME | x > y\n");
  EXPECT_FALSE(PathExists(dir_ + "/y"));
  r = exec.RunCommand("printf 'a\\r\\nb\\rc\\n'");
  EXPECT_EQ(r.stdout_data, "a\nb\nc\n");
  r = exec.RunCommand("sh -c 'exit 7'");
  EXPECT_EQ(r.exit_code, 7);
}

TEST_F(ExecServiceTest, ConcurrentRunsAreIndependent) {
  ExecService exec(dir_, milliseconds(10000));
  std::vector<std::thread> threads;
  std::vector<std::string> outputs(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = exec.Run({"sh", "-c", "echo " + std::to_string(i)});
      if (r) outputs[i] = r->stdout_data;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(outputs[i], std::to_string(i) + "\n");
}

TEST_F(ExecServiceTest, ConcurrencyLimitQueuesAndTimesOut) {
  ExecService exec(dir_, milliseconds(10000), /*max_concurrent=*/1);
  const std::string started = dir_ + "/started";
  std::thread holder([&] { (void)exec.Run({"sh", "-c", "touch " + started + "; sleep 1"}); });
  ASSERT_TRUE(WaitFor([&] { return PathExists(started); }, milliseconds(5000)));
  // While the only slot is taken, a short call times out waiting for it...
  auto r = exec.Run({"echo", "impatient"}, milliseconds(200));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kDeadlineExceeded);
  // ...and a patient one runs once the slot frees up.
  r = exec.Run({"echo", "queued"}, milliseconds(5000));
  holder.join();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->stdout_data, "queued\n");
}

TEST(TranslateNewlinesTest, LikePythonTextMode) {
  EXPECT_EQ(TranslateNewlines("a\r\nb\rc\n\r"), "a\nb\nc\n\n");
  EXPECT_EQ(TranslateNewlines("plain\n"), "plain\n");
}

}  // namespace
}  // namespace asb::agent
