#include "sys/cpu_governor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/strings.h"
#include "sys/process.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

TEST(CpuGovernorTest, BurstableIsIdleOnlyWellAboveItsRequest) {
  const IdleThresholds t = BurstableThresholds(250);
  EXPECT_DOUBLE_EQ(t.on_cores, 0.475);
  EXPECT_DOUBLE_EQ(t.off_cores, 0.25);
  // Within its request, or a little above it, a sandbox keeps its full weight.
  EXPECT_FALSE(NextIdle(false, 0.0, t));
  EXPECT_FALSE(NextIdle(false, 0.25, t));
  EXPECT_FALSE(NextIdle(false, 0.47, t));
  // Clearly above it, the burst is idle-class.
  EXPECT_TRUE(NextIdle(false, 0.475, t));
  EXPECT_TRUE(NextIdle(false, 2.0, t));
  // Hysteresis: once idle, it stays idle while it still gets its request's worth (on a host
  // with CPU to spare), and is normal again as soon as it gets less (host work took the rest).
  EXPECT_TRUE(NextIdle(true, 0.3, t));
  EXPECT_TRUE(NextIdle(true, 0.25, t));
  EXPECT_FALSE(NextIdle(true, 0.24, t));
  EXPECT_FALSE(NextIdle(true, 0.0, t));
}

TEST(CpuGovernorTest, TinyAndLargeRequests) {
  // A request near zero still needs a tenth of a core before it is called a burst.
  EXPECT_DOUBLE_EQ(BurstableThresholds(1).on_cores, 0.1015);
  EXPECT_FALSE(NextIdle(false, 0.05, BurstableThresholds(1)));
  // Two cores requested: idle only above 3.1 cores (never on a 2-core host: it is entitled to
  // the whole machine).
  EXPECT_DOUBLE_EQ(BurstableThresholds(2000).on_cores, 3.1);
}

TEST(CpuGovernorTest, BestEffortThresholds) {
  EXPECT_FALSE(NextIdle(false, 0.2, kBestEffortThresholds));
  EXPECT_TRUE(NextIdle(false, 0.25, kBestEffortThresholds));
  EXPECT_TRUE(NextIdle(true, 0.1, kBestEffortThresholds));
  EXPECT_FALSE(NextIdle(true, 0.09, kBestEffortThresholds));
}

TEST(CpuGovernorTest, RequestRoundTripsThroughTheGroupsWeight) {
  EXPECT_EQ(CpuRequestForShares(CpuSharesFor(250)), 250);
  EXPECT_EQ(CpuRequestForShares(CpuSharesFor(1000)), 1000);
  // v2 weights are coarse: within a tenth.
  EXPECT_NEAR(CpuRequestForWeight(CpuWeightFor(250)), 250, 25);
  EXPECT_NEAR(CpuRequestForWeight(CpuWeightFor(2000)), 2000, 200);
}

struct Spinner {
  pid_t pid = -1;
  ~Spinner() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      (void)WaitPid(pid);
    }
  }
};

Result<pid_t> Spin(const Cgroup& cg) {
  std::string cmd;
  for (const auto& f : cg.ProcsFiles()) cmd += "echo $$ > " + f + "; ";
  cmd += "while :; do :; done";
  return Spawn(SpawnOptions{.path = "/bin/sh", .argv = {"sh", "-c", cmd}});
}

void RemoveTestParents(const CgroupConfig& config) {
  for (const char* h : {"", "/cpu", "/cpuacct", "/memory", "/pids", "/freezer"}) {
    (void)::rmdir((config.mount_root + h + BestEffortParent(config)).c_str());
    (void)::rmdir((config.mount_root + h + "/" + config.parent.substr(1)).c_str());
  }
}

// Real groups below a test parent of its own: a spinner makes its group idle-class within a few
// periods, and once it is gone the group is normal again.
TEST(CpuGovernorTest, BestEffortIdleWhileItSpinsNormalOnceQuiet) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config{.parent = "/asbtest-" + RandomHex(4)};
  ASSERT_OK_AND_ASSIGN(
      auto gov, CpuGovernor::Start({.cgroup = config, .period = std::chrono::milliseconds(20)}));
  EXPECT_FALSE(gov->best_effort_idle());
  const std::string idle_file = config.mount_root + (CgroupIsV2(config.mount_root) ? "" : "/cpu") +
                                BestEffortParent(config) + "/cpu.idle";
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "0");
  ASSERT_OK_AND_ASSIGN(
      Cgroup cg, Cgroup::Create(config, "spin", {.cpu_placement = CpuPlacement::kBestEffort}));
  {
    Spinner spinner;
    ASSERT_OK_AND_ASSIGN(spinner.pid, Spin(cg));
    EXPECT_TRUE(
        testing::WaitFor([&] { return gov->best_effort_idle(); }, std::chrono::seconds(10)));
    EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "1");
  }
  EXPECT_TRUE(testing::WaitFor([&] { return !gov->best_effort_idle(); }, std::chrono::seconds(10)));
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "0");
  gov.reset();
  EXPECT_OK(cg.Remove());
  RemoveTestParents(config);
}

// A Burstable group is found by the listing, made idle-class while it spins above its request,
// normal again once quiet, and forgotten once removed.
TEST(CpuGovernorTest, BurstableIdleWhileItSpinsAboveItsRequest) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config{.parent = "/asbtest-" + RandomHex(4)};
  ASSERT_OK_AND_ASSIGN(
      auto gov, CpuGovernor::Start({.cgroup = config, .period = std::chrono::milliseconds(20)}));
  // 100m: a spinner uses far more than 0.25 cores even on a busy 2-core host.
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(config, "burst",
                                                 {.cpu_request_millis = 100,
                                                  .cpu_placement = CpuPlacement::kBurstable}));
  const std::string name = BurstablePrefix(config) + "burst";
  const std::string idle_file =
      config.mount_root + (cg.is_v2() ? "" : "/cpu") + "/" + name + "/cpu.idle";
  EXPECT_TRUE(
      testing::WaitFor([&] { return gov->burstable_groups() == 1; }, std::chrono::seconds(10)));
  EXPECT_FALSE(gov->burstable_idle(name));
  {
    Spinner spinner;
    ASSERT_OK_AND_ASSIGN(spinner.pid, Spin(cg));
    EXPECT_TRUE(
        testing::WaitFor([&] { return gov->burstable_idle(name); }, std::chrono::seconds(10)));
    EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "1");
  }
  EXPECT_TRUE(
      testing::WaitFor([&] { return !gov->burstable_idle(name); }, std::chrono::seconds(10)));
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "0");
  EXPECT_OK(cg.Remove());
  EXPECT_TRUE(
      testing::WaitFor([&] { return gov->burstable_groups() == 0; }, std::chrono::seconds(10)));
  gov.reset();
  RemoveTestParents(config);
}

// The governor's cost with many sandboxes: 300 Burstable groups read every 100 ms (one listing
// and one pread each per period) stay far below a core. The main thread only sleeps, so the
// process's CPU time is the governor's.
TEST(CpuGovernorTest, ThreeHundredGroupsCostLittle) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config{.parent = "/asbtest-" + RandomHex(4)};
  std::vector<Cgroup> groups;
  for (int i = 0; i < 300; ++i) {
    ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(config, "g" + std::to_string(i),
                                                   {.cpu_request_millis = 250,
                                                    .cpu_placement = CpuPlacement::kBurstable}));
    groups.push_back(std::move(cg));
  }
  ASSERT_OK_AND_ASSIGN(auto gov, CpuGovernor::Start({.cgroup = config}));
  EXPECT_TRUE(
      testing::WaitFor([&] { return gov->burstable_groups() == 300; }, std::chrono::seconds(10)));
  auto cpu = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  };
  const auto before = cpu();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const double used = std::chrono::duration<double>(cpu() - before).count() /
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("300 Burstable groups every 100 ms: %.2f%% of a core\n", used * 100);
  EXPECT_LT(used, 0.05);
  gov.reset();
  for (Cgroup& cg : groups) EXPECT_OK(cg.Remove());
  RemoveTestParents(config);
}

}  // namespace
}  // namespace asb::sys
