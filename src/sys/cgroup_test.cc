#include "sys/cgroup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/strings.h"
#include "sys/process.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

TEST(CgroupTest, CpuRequestMapsToKubeletShares) {
  EXPECT_EQ(CpuSharesFor(250), 256);
  EXPECT_EQ(CpuSharesFor(1000), 1024);
  EXPECT_EQ(CpuSharesFor(1), 2);  // the kernel's minimum
  EXPECT_EQ(CpuWeightFor(1000), 39);
  EXPECT_EQ(CpuWeightFor(1), 1);
}

TEST(CgroupTest, CreateLimitKillRemove) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  std::string name = "cgtest-" + RandomHex(4);
  CgroupLimits limits{.memory_bytes = 64 << 20, .cpu_millis = 500, .pids = 16};
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(CgroupConfig{}, name, limits));
  EXPECT_ERROR_CODE(Cgroup::Create(CgroupConfig{}, name, limits), Code::kAlreadyExists);
  for (const auto& d : cg.dirs()) EXPECT_TRUE(PathExists(d)) << d;
  if (!cg.is_v2()) {
    auto mem = ReadFile(cg.dirs()[0] + "/memory.limit_in_bytes");
    ASSERT_TRUE(mem.has_value());
    EXPECT_EQ(Trim(*mem), std::to_string(64 << 20));
  }
  // A shell that joins the group and then waits forever.
  std::string cmd;
  for (const auto& f : cg.ProcsFiles()) cmd += "echo $$ > " + f + "; ";
  cmd += "exec sleep 1000";
  SpawnOptions o{.path = "/bin/sh", .argv = {"sh", "-c", cmd}};
  ASSERT_OK_AND_ASSIGN(pid_t pid, Spawn(o));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto pids = cg.Pids();
        return pids && pids->size() == 1;
      },
      std::chrono::seconds(5)));
  EXPECT_FALSE(cg.OomKilled());
  EXPECT_OK(cg.KillAll(std::chrono::seconds(5)));
  ASSERT_OK(WaitPid(pid));
  EXPECT_OK(cg.Remove());
  for (const auto& d : cg.dirs()) EXPECT_FALSE(PathExists(d)) << d;
  EXPECT_OK(cg.Remove());  // idempotent
}

TEST(CgroupTest, RejectsBadNames) {
  EXPECT_ERROR_CODE(Cgroup::Open(CgroupConfig{}, "../x"), Code::kInvalidArgument);
  EXPECT_ERROR_CODE(Cgroup::Open(CgroupConfig{}, ""), Code::kInvalidArgument);
}

}  // namespace
}  // namespace asb::sys
