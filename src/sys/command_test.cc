#include "sys/command.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

using namespace std::chrono_literals;

TEST(RunCommandTest, CapturesBothStreamsAndTheExitCode) {
  ASSERT_OK_AND_ASSIGN(CommandResult r,
                       RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10s));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunCommandTest, FindsABareNameOnPathWithStdinFromDevNull) {
  // `sh` has no '/': looked up on PATH. cat reads stdin to EOF at once when it is /dev/null.
  ASSERT_OK_AND_ASSIGN(CommandResult r,
                       RunCommand({"sh", "-c", "readlink /proc/self/fd/0; cat; echo done"}, 10s));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "/dev/null\ndone\n");
}

TEST(RunCommandTest, KillsAtTheDeadline) {
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(CommandResult r, RunCommand({"/bin/sleep", "30"}, 200ms));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(RunCommandTest, TruncatesOutputAtTheCap) {
  ASSERT_OK_AND_ASSIGN(CommandResult r,
                       RunCommand({"/usr/bin/head", "-c", "1000000", "/dev/zero"}, 10s, 1000));
  EXPECT_EQ(r.exit_code, 0);  // the rest was read and dropped, never a blocked writer
  EXPECT_EQ(r.out.size(), 1000u);
}

TEST(RunCommandTest, MissingProgramIsNotFound) {
  EXPECT_ERROR_CODE(RunCommand({"/nonexistent/prog"}, 1s), Code::kNotFound);
  EXPECT_ERROR_CODE(RunCommand({"asb-no-such-program-on-path"}, 1s), Code::kNotFound);
  EXPECT_ERROR_CODE(RunCommand({}, 1s), Code::kInvalidArgument);
}

}  // namespace
}  // namespace asb::sys
