#include "sys/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/strings.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

// Spawns `o` with its fd `child_fd` on a pipe, reads until EOF and reaps it.
std::string OutputOf(SpawnOptions o, int child_fd = 1) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  UniqueFd r(p[0]), w(p[1]);
  o.fds.push_back({w.get(), child_fd});
  auto pid = Spawn(o);
  if (!pid) return pid.error().message;
  w.Reset();
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(r.get(), buf, sizeof(buf))) > 0;) out.append(buf, n);
  auto status = WaitPid(*pid);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) out += "[failed]";
  return out;
}

TEST(SpawnTest, RunsBinaryWithMappedFds) {
  EXPECT_EQ(
      OutputOf({.path = "/bin/sh", .argv = {"sh", "-c", "echo hi-$X >&5"}, .env = {"X=there"}}, 5),
      "hi-there\n");
}

TEST(SpawnTest, ChildInheritsNoUnlistedFd) {
  // Opened without O_CLOEXEC, as a careless library might: the child must still not get it.
  UniqueFd stray(::open("/dev/null", O_RDONLY));
  ASSERT_TRUE(stray);
  std::string n = std::to_string(stray.get());
  EXPECT_EQ(
      OutputOf({.path = "/bin/sh",
                .argv = {"sh", "-c", "[ -e /proc/$$/fd/" + n + " ] && echo leaked || echo clean"}}),
      "clean\n");
}

TEST(SpawnTest, EnvironmentIsExactlyTheListUnlessInherited) {
  ::setenv("ASB_SPAWN_TEST", "from-parent", 1);
  for (bool inherit : {false, true}) {
    EXPECT_EQ(OutputOf({.path = "sh",  // a bare name: found on PATH
                        .argv = {"sh", "-c", "echo \"${ASB_SPAWN_TEST:-unset}\""},
                        .env = {"ASB_SPAWN_TEST=listed"},
                        .inherit_env = inherit}),
              inherit ? "from-parent\n" : "listed\n");
  }
  ::unsetenv("ASB_SPAWN_TEST");
}

TEST(SpawnTest, MissingBinaryIsNotFound) {
  SpawnOptions o;
  o.path = "/nonexistent/bin";
  o.argv = {"x"};
  EXPECT_ERROR_CODE(Spawn(o), Code::kNotFound);
}

TEST(PidfdTest, VerifiesStartTimeAndSeesExit) {
  SpawnOptions o;
  o.path = "/bin/sleep";
  o.argv = {"sleep", "30"};
  ASSERT_OK_AND_ASSIGN(pid_t pid, Spawn(o));
  ASSERT_OK_AND_ASSIGN(uint64_t start, ProcStartTime(pid));
  EXPECT_ERROR_CODE(PidfdOpenVerified(pid, start + 1), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(UniqueFd fd, PidfdOpenVerified(pid, start));
  EXPECT_FALSE(PidfdExited(fd.get()));
  EXPECT_OK(PidfdSignal(fd.get(), SIGKILL));
  EXPECT_TRUE(PidfdWaitExit(fd.get(), std::chrono::seconds(5)));
  ASSERT_OK_AND_ASSIGN(int status, WaitPid(pid));
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_ERROR_CODE(ProcStartTime(pid), Code::kNotFound);
}

TEST(ChildTest, WaitsReapsOnceAndSignalsThroughThePidfd) {
  ASSERT_OK_AND_ASSIGN(Child exits,
                       SpawnChild({.path = "/bin/sh", .argv = {"sh", "-c", "exit 7"}}));
  ASSERT_OK_AND_ASSIGN(ExitStatus st, exits.Wait(std::chrono::seconds(5)));
  EXPECT_EQ(st.exit_code, 7);
  EXPECT_EQ(st.term_signal, 0);

  ASSERT_OK_AND_ASSIGN(Child sleeper, SpawnChild({.path = "/bin/sleep", .argv = {"sleep", "30"}}));
  EXPECT_ERROR_CODE(sleeper.Wait(std::chrono::milliseconds(20)), Code::kDeadlineExceeded);
  sleeper.Signal(SIGKILL);
  ASSERT_OK_AND_ASSIGN(st, sleeper.Wait(std::chrono::seconds(5)));
  EXPECT_EQ(st.term_signal, SIGKILL);
  EXPECT_EQ(st.exit_code, 128 + SIGKILL);
  sleeper.Signal(SIGKILL);  // reaped: a no-op, never a signal to a recycled pid
  ASSERT_OK_AND_ASSIGN(st, sleeper.Wait(std::chrono::seconds(0)));
  EXPECT_EQ(st.term_signal, SIGKILL);
  EXPECT_ERROR_CODE(ProcStartTime(sleeper.pid()), Code::kNotFound);
}

TEST(KillProcessesMentioningTest, KillsOnlyWhatCarriesTheNeedle) {
  const std::string marker = "asb-kill-test-" + RandomHex(6);
  // argv[0] carries the marker; sleep does not care what it is called.
  ASSERT_OK_AND_ASSIGN(Child marked, SpawnChild({.path = "/bin/sleep", .argv = {marker, "30"}}));
  ASSERT_OK_AND_ASSIGN(Child other, SpawnChild({.path = "/bin/sleep", .argv = {"sleep", "30"}}));
  // posix_spawn returns once exec has replaced the child's memory, a moment before the kernel
  // sets up its new argv: /proc shows the marker only from then on.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto cmdline = ReadFile("/proc/" + std::to_string(marked.pid()) + "/cmdline");
        return cmdline && cmdline->find(marker) != std::string::npos;
      },
      std::chrono::seconds(5)));
  // No time left: reports what is there without killing it.
  EXPECT_EQ(KillProcessesMentioning(marker, std::chrono::milliseconds(0)), 1);
  EXPECT_EQ(KillProcessesMentioning(marker, std::chrono::seconds(5)), 0);
  ASSERT_OK_AND_ASSIGN(ExitStatus st, marked.Wait(std::chrono::seconds(5)));
  EXPECT_EQ(st.term_signal, SIGKILL);
  EXPECT_ERROR_CODE(other.Wait(std::chrono::milliseconds(0)), Code::kDeadlineExceeded);
  other.Signal(SIGKILL);
  EXPECT_OK(other.Wait(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace asb::sys
