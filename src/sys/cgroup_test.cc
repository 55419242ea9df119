#include "sys/cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

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

TEST(CgroupTest, BestEffortGoesBelowItsOwnParentAndCountsItsCpu) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  std::string name = "cgtest-" + RandomHex(4);
  CgroupConfig config;
  ASSERT_OK_AND_ASSIGN(Cgroup cg,
                       Cgroup::Create(config, name, {.cpu_placement = CpuPlacement::kBestEffort}));
  const std::string idle_dir =
      config.mount_root + (cg.is_v2() ? "" : "/cpu") + BestEffortParent(config);
  EXPECT_EQ(BestEffortParent(config), "/asb-besteffort");
  EXPECT_TRUE(PathExists(idle_dir + "/cpu.idle"));  // CpuGovernor's to set
  for (const auto& d : cg.dirs()) {
    EXPECT_NE(d.find("/asb-besteffort/" + name), std::string::npos) << d;
    EXPECT_TRUE(PathExists(d)) << d;
  }
  // Open (after a daemon restart) finds it there; a second Create of the name, of either
  // class, is refused.
  ASSERT_OK_AND_ASSIGN(Cgroup reopened, Cgroup::Open(config, name));
  EXPECT_EQ(reopened.dirs(), cg.dirs());
  EXPECT_ERROR_CODE(Cgroup::Create(config, name, {}), Code::kAlreadyExists);

  // A shell that joins the group and counts to 20,000 (tens of ms of CPU; counted, not timed,
  // since an idle-class task on a busy host may wait long for CPU): the group's usage shows it.
  ASSERT_OK_AND_ASSIGN(auto before, cg.CpuUsage());
  std::string cmd;
  for (const auto& f : cg.ProcsFiles()) cmd += "echo $$ > " + f + "; ";
  cmd += "i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done";
  ASSERT_OK_AND_ASSIGN(pid_t pid,
                       Spawn(SpawnOptions{.path = "/bin/sh", .argv = {"sh", "-c", cmd}}));
  ASSERT_OK(WaitPid(pid));
  ASSERT_OK_AND_ASSIGN(auto after, cg.CpuUsage());
  EXPECT_GE(after - before, std::chrono::milliseconds(10));
  EXPECT_OK(cg.Remove());
  for (const auto& d : cg.dirs()) EXPECT_FALSE(PathExists(d)) << d;
}

TEST(CgroupTest, PlacementFollowsTheCpuRequestAndLimit) {
  EXPECT_EQ(CpuPlacementFor(500, 250), CpuPlacement::kParent);
  EXPECT_EQ(CpuPlacementFor(500, 0), CpuPlacement::kParent);
  EXPECT_EQ(CpuPlacementFor(0, 250), CpuPlacement::kBurstable);
  EXPECT_EQ(CpuPlacementFor(0, 0), CpuPlacement::kBestEffort);
  CgroupConfig config;
  EXPECT_EQ(CgroupPath(config, "x", CpuPlacement::kParent), "/asb/x");
  EXPECT_EQ(CgroupPath(config, "x", CpuPlacement::kBurstable), "/asb-burstable-x");
  EXPECT_EQ(CgroupPath(config, "x", CpuPlacement::kBestEffort), "/asb-besteffort/x");
  // A delegated v2 subtree: every place is inside it.
  config.parent = "/asb.slice/asb";
  EXPECT_EQ(CgroupPath(config, "x", CpuPlacement::kBurstable), "/asb.slice/asb-burstable-x");
  EXPECT_EQ(BurstablePrefix(config), "asb-burstable-");
}

TEST(CgroupTest, WithACpuLimitStaysBelowTheParent) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  std::string name = "cgtest-" + RandomHex(4);
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(CgroupConfig{}, name,
                                                 {.cpu_millis = 500, .cpu_request_millis = 250}));
  for (const auto& d : cg.dirs()) EXPECT_NE(d.find("/asb/" + name), std::string::npos) << d;
  EXPECT_OK(cg.Remove());
}

TEST(CgroupTest, BurstableGetsItsOwnGroupNextToTheParent) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  std::string name = "cgtest-" + RandomHex(4);
  CgroupConfig config;
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(config, name,
                                                 {.cpu_request_millis = 250,
                                                  .cpu_placement = CpuPlacement::kBurstable}));
  for (const auto& d : cg.dirs()) {
    EXPECT_NE(d.find("/asb-burstable-" + name), std::string::npos) << d;
    EXPECT_TRUE(PathExists(d)) << d;
  }
  const std::string cpu = config.mount_root + (cg.is_v2() ? "" : "/cpu") + "/asb-burstable-" + name;
  EXPECT_EQ(Trim(ReadFile(cpu + (cg.is_v2() ? "/cpu.weight" : "/cpu.shares")).value_or("")),
            std::to_string(cg.is_v2() ? CpuWeightFor(250) : CpuSharesFor(250)));
  EXPECT_TRUE(PathExists(cpu + "/cpu.idle"));  // CpuGovernor's to set
  // Found after a restart, with every hierarchy's directory; no second group of the name in
  // another placement.
  ASSERT_OK_AND_ASSIGN(Cgroup reopened, Cgroup::Open(config, name));
  EXPECT_EQ(reopened.dirs(), cg.dirs());
  ASSERT_OK_AND_ASSIGN(Cgroup all, Cgroup::OpenAllHierarchies(config, name));
  for (const auto& d : cg.dirs()) {
    EXPECT_NE(std::find(all.dirs().begin(), all.dirs().end(), d), all.dirs().end()) << d;
  }
  EXPECT_ERROR_CODE(Cgroup::Create(config, name, {}), Code::kAlreadyExists);
  EXPECT_ERROR_CODE(Cgroup::Create(config, name, {.cpu_placement = CpuPlacement::kBestEffort}),
                    Code::kAlreadyExists);
  EXPECT_OK(all.Remove());
  for (const auto& d : cg.dirs()) EXPECT_FALSE(PathExists(d)) << d;
}

// A warm-pool member's group starts idle-class in whichever place its cpu request puts it; one
// write makes it normal (its claim), also through a group named again after a restart.
TEST(CgroupTest, StartsIdleClassAndOneWriteMakesItNormal) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config;
  for (CpuPlacement p :
       {CpuPlacement::kBurstable, CpuPlacement::kBestEffort, CpuPlacement::kParent}) {
    std::string name = "cgtest-" + RandomHex(4);
    ASSERT_OK_AND_ASSIGN(Cgroup cg,
                         Cgroup::Create(config, name,
                                        {.cpu_millis = p == CpuPlacement::kParent ? 500 : 0,
                                         .cpu_request_millis = 250,
                                         .cpu_placement = p,
                                         .cpu_idle = true}));
    const std::string idle =
        config.mount_root + (cg.is_v2() ? "" : "/cpu") + CgroupPath(config, name, p) + "/cpu.idle";
    EXPECT_EQ(Trim(ReadFile(idle).value_or("")), "1") << idle;
    ASSERT_OK_AND_ASSIGN(Cgroup reopened, Cgroup::Open(config, name));
    EXPECT_OK(reopened.SetCpuIdle(false, 250));
    EXPECT_EQ(Trim(ReadFile(idle).value_or("")), "0") << idle;
    // The kernel resets an un-idled group's weight to its default: the request's is back.
    const std::string dir = idle.substr(0, idle.rfind('/'));
    EXPECT_EQ(Trim(ReadFile(dir + (cg.is_v2() ? "/cpu.weight" : "/cpu.shares")).value_or("")),
              std::to_string(cg.is_v2() ? CpuWeightFor(250) : CpuSharesFor(250)));
    EXPECT_OK(cg.Remove());
    EXPECT_ERROR_CODE(reopened.SetCpuIdle(false, 250), Code::kNotFound);
  }
  // Not asked: left at the kernel's default.
  std::string name = "cgtest-" + RandomHex(4);
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(config, name,
                                                 {.cpu_request_millis = 250,
                                                  .cpu_placement = CpuPlacement::kBurstable}));
  EXPECT_EQ(Trim(ReadFile(config.mount_root + (cg.is_v2() ? "" : "/cpu") +
                          CgroupPath(config, name, CpuPlacement::kBurstable) + "/cpu.idle")
                     .value_or("")),
            "0");
  EXPECT_OK(cg.Remove());
}

// For runsc (which makes its groups from cgroupsPath and uses a directory it finds as it is):
// only the cpu directory, with the share and idle-class; a process moved in is counted there;
// OpenAllHierarchies names it for removal.
TEST(CgroupTest, CpuOnlyGroupForARuntimeThatMakesTheRest) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config;
  std::string name = "cgtest-" + RandomHex(4);
  const CgroupLimits limits{
      .cpu_request_millis = 250, .cpu_placement = CpuPlacement::kBurstable, .cpu_idle = true};
  if (CgroupIsV2(config.mount_root)) {
    EXPECT_ERROR_CODE(CreateCpuGroup(config, name, limits), Code::kUnimplemented);
    return;
  }
  ASSERT_OK_AND_ASSIGN(std::string procs, CreateCpuGroup(config, name, limits));
  const std::string dir =
      config.mount_root + "/cpu" + CgroupPath(config, name, limits.cpu_placement);
  EXPECT_EQ(procs, dir + "/cgroup.procs");
  EXPECT_EQ(Trim(ReadFile(dir + "/cpu.idle").value_or("")), "1");
  // Idle-class, its weight reads as the idle weight (the share is written back on promotion).
  EXPECT_EQ(Trim(ReadFile(dir + "/cpu.shares").value_or("")), "3");
  EXPECT_FALSE(
      PathExists(config.mount_root + "/memory" + CgroupPath(config, name, limits.cpu_placement)));
  EXPECT_ERROR_CODE(CreateCpuGroup(config, name, limits), Code::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(pid_t pid, Spawn({.path = "/bin/sleep", .argv = {"sleep", "30"}}));
  EXPECT_OK(MoveToCgroup(procs, pid));
  EXPECT_NE(ReadFile(procs).value_or("").find(std::to_string(pid)), std::string::npos);
  ::kill(pid, SIGKILL);
  (void)WaitPid(pid);
  ASSERT_OK_AND_ASSIGN(Cgroup all, Cgroup::OpenAllHierarchies(config, name));
  EXPECT_NE(std::find(all.dirs().begin(), all.dirs().end(), dir), all.dirs().end());
  EXPECT_OK(all.Remove());
  EXPECT_FALSE(PathExists(dir));
}

TEST(CgroupTest, RejectsBadNames) {
  EXPECT_ERROR_CODE(Cgroup::Open(CgroupConfig{}, "../x"), Code::kInvalidArgument);
  EXPECT_ERROR_CODE(Cgroup::Open(CgroupConfig{}, ""), Code::kInvalidArgument);
}

}  // namespace
}  // namespace asb::sys
