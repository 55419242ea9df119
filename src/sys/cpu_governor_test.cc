#include "sys/cpu_governor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

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

TEST(CpuGovernorTest, LongLivedCoresCountsOnlyThreadsInBothSamples) {
  const ThreadTimes before{{10, 1'000'000'000}, {11, 5'000'000}, {12, 7'000'000}};
  // 10 ran 0.3 s more, 11 exited, 13 is new (all of its 0.9 s since the first sample or not:
  // unknown, so not counted), 12's tid was reused by a thread that has run less.
  const ThreadTimes after{{10, 1'300'000'000}, {12, 1'000}, {13, 900'000'000}};
  EXPECT_DOUBLE_EQ(LongLivedCores(before, after, 0.5), 0.6);
  EXPECT_DOUBLE_EQ(LongLivedCores({}, after, 0.1), 0.0);
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
  // Its request's weight again, not the kernel's default that leaving idle-class leaves.
  const std::string weight_file = config.mount_root + (cg.is_v2() ? "/" : "/cpu/") + name +
                                  (cg.is_v2() ? "/cpu.weight" : "/cpu.shares");
  EXPECT_EQ(Trim(ReadFile(weight_file).value_or("")),
            std::to_string(cg.is_v2() ? CpuWeightFor(100) : CpuSharesFor(100)));
  EXPECT_OK(cg.Remove());
  EXPECT_TRUE(
      testing::WaitFor([&] { return gov->burstable_groups() == 0; }, std::chrono::seconds(10)));
  gov.reset();
  RemoveTestParents(config);
}

// A Burstable group whose CPU goes to processes that each live less than a period (what a
// sandbox served command after command does: a fresh process per exec) keeps its weight
// however much it uses; it must not meet idle-class spinners as their equal.
TEST(CpuGovernorTest, BurstOfShortLivedProcessesKeepsItsWeight) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config{.parent = "/asbtest-" + RandomHex(4)};
  ASSERT_OK_AND_ASSIGN(auto gov, CpuGovernor::Start({.cgroup = config}));
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(config, "execs",
                                                 {.cpu_request_millis = 100,
                                                  .cpu_placement = CpuPlacement::kBurstable}));
  const std::string name = BurstablePrefix(config) + "execs";
  EXPECT_TRUE(
      testing::WaitFor([&] { return gov->burstable_groups() == 1; }, std::chrono::seconds(10)));
  const std::string usage_file = config.mount_root + (cg.is_v2() ? "" : "/cpuacct") + "/" + name +
                                 (cg.is_v2() ? "/cpu.stat" : "/cpuacct.usage");
  auto used_seconds = [&] {
    const std::string text = ReadFile(usage_file).value_or("");
    if (!cg.is_v2()) return static_cast<double>(ParseInt(Trim(text)).value_or(0)) / 1e9;
    for (const std::string& line : Split(text, '\n')) {
      auto kv = Split(line, ' ');
      if (kv.size() == 2 && kv[0] == "usage_usec") {
        return static_cast<double>(ParseInt(kv[1]).value_or(0)) / 1e6;
      }
    }
    return 0.0;
  };
  {
    Spinner execs;
    std::string cmd;
    for (const auto& f : cg.ProcsFiles()) cmd += "echo $$ > " + f + "; ";
    // Each child spins a few ms (tens under load): well within one 100 ms period.
    cmd += "while :; do /bin/sh -c 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done'; done";
    ASSERT_OK_AND_ASSIGN(execs.pid,
                         Spawn(SpawnOptions{.path = "/bin/sh", .argv = {"sh", "-c", cmd}}));
    const double used0 = used_seconds();
    const uint64_t periods0 = gov->periods();
    const auto t0 = std::chrono::steady_clock::now();
    bool ever_idle = false;
    while (gov->periods() < periods0 + 20) {
      ever_idle = ever_idle || gov->burstable_idle(name);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double cores =
        (used_seconds() - used0) /
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("short-lived processes used %.2f cores\n", cores);
    // It did burst above its on-threshold (0.25 cores; ~0.7 alone, less next to the other
    // unit tests), and stayed at its weight.
    EXPECT_GT(cores, BurstableThresholds(100).on_cores);
    EXPECT_FALSE(ever_idle);
  }
  gov.reset();
  EXPECT_OK(cg.Remove());
  RemoveTestParents(config);
}

// A group that was idle-class before the governor saw it (a warm-pool member the node started
// so) is held: left idle-class although it uses nothing, until someone else makes it normal;
// from then on it is governed as any other (idle again only for a burst of its own).
TEST(CpuGovernorTest, HeldPoolMemberStaysIdleUntilMadeNormal) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root to create cgroups";
  CgroupConfig config{.parent = "/asbtest-" + RandomHex(4)};
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::Create(config, "member",
                                                 {.cpu_request_millis = 100,
                                                  .cpu_placement = CpuPlacement::kBurstable,
                                                  .cpu_idle = true}));
  ASSERT_OK_AND_ASSIGN(
      auto gov, CpuGovernor::Start({.cgroup = config, .period = std::chrono::milliseconds(20)}));
  const std::string name = BurstablePrefix(config) + "member";
  const std::string idle_file =
      config.mount_root + (cg.is_v2() ? "" : "/cpu") + "/" + name + "/cpu.idle";
  EXPECT_TRUE(
      testing::WaitFor([&] { return gov->burstable_groups() == 1; }, std::chrono::seconds(10)));
  EXPECT_TRUE(gov->burstable_held(name));
  // Quiet for many periods: an unheld group this quiet is normal after one.
  const uint64_t seen = gov->periods();
  EXPECT_TRUE(
      testing::WaitFor([&] { return gov->periods() >= seen + 10; }, std::chrono::seconds(10)));
  EXPECT_TRUE(gov->burstable_held(name));
  EXPECT_TRUE(gov->burstable_idle(name));
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "1");

  EXPECT_OK(cg.SetCpuIdle(false, 100));  // its claim
  EXPECT_TRUE(
      testing::WaitFor([&] { return !gov->burstable_held(name); }, std::chrono::seconds(10)));
  EXPECT_FALSE(gov->burstable_idle(name));
  {
    Spinner spinner;
    ASSERT_OK_AND_ASSIGN(spinner.pid, Spin(cg));
    EXPECT_TRUE(
        testing::WaitFor([&] { return gov->burstable_idle(name); }, std::chrono::seconds(10)));
  }
  EXPECT_TRUE(
      testing::WaitFor([&] { return !gov->burstable_idle(name); }, std::chrono::seconds(10)));
  EXPECT_EQ(Trim(ReadFile(idle_file).value_or("")), "0");
  gov.reset();
  EXPECT_OK(cg.Remove());
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
