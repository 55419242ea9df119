#include "sys/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

TEST(SpawnTest, RunsBinaryWithMappedFds) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  SpawnOptions o;
  o.path = "/bin/sh";
  o.argv = {"sh", "-c", "echo hi-$X >&5"};
  o.env = {"X=there"};
  o.fds = {{w.get(), 5}};
  ASSERT_OK_AND_ASSIGN(pid_t pid, Spawn(o));
  w.Reset();
  char buf[64] = {};
  ssize_t n = ::read(r.get(), buf, sizeof(buf) - 1);
  ASSERT_OK_AND_ASSIGN(int status, WaitPid(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "hi-there\n");
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

}  // namespace
}  // namespace asb::sys
