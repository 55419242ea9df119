#include "sys/besteffort_governor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/strings.h"
#include "sys/process.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

// A real BestEffort group below a test parent of its own: a spinner in it makes the parent
// idle-class within a few periods, and once it is gone the parent is normal again.
TEST(BestEffortGovernorTest, IdleWhileItSpinsNormalOnceQuiet) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config{.parent = "/asbtest-" + RandomHex(4)};
  ASSERT_OK_AND_ASSIGN(auto gov, BestEffortGovernor::Start(
                                     {.cgroup = config, .period = std::chrono::milliseconds(20)}));
  EXPECT_FALSE(gov->idle());
  const std::string idle_file = config.mount_root + (CgroupIsV2(config.mount_root) ? "" : "/cpu") +
                                BestEffortParent(config) + "/cpu.idle";
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "0");
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(config, "spin", {.cpu_best_effort = true}));
  std::string cmd;
  for (const auto& f : cg.ProcsFiles()) cmd += "echo $$ > " + f + "; ";
  cmd += "while :; do :; done";
  ASSERT_OK_AND_ASSIGN(pid_t pid,
                       Spawn(SpawnOptions{.path = "/bin/sh", .argv = {"sh", "-c", cmd}}));
  EXPECT_TRUE(testing::WaitFor([&] { return gov->idle(); }, std::chrono::seconds(10)));
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "1");
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(WaitPid(pid).has_value());
  EXPECT_TRUE(testing::WaitFor([&] { return !gov->idle(); }, std::chrono::seconds(10)));
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "0");
  gov.reset();
  EXPECT_OK(cg.Remove());
  // The test's own parents, in every hierarchy the group used.
  for (const std::string& d : cg.dirs()) (void)::rmdir(d.substr(0, d.rfind('/')).c_str());
  (void)::rmdir((config.mount_root + "/cpuacct" + BestEffortParent(config)).c_str());
  (void)::rmdir((config.mount_root + "/cpu" + BestEffortParent(config)).c_str());
}

}  // namespace
}  // namespace asb::sys
