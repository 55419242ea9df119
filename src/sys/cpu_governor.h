// Decides, every period, which sandbox cgroups yield to everything else on the host
// (docs/cpu.md), by setting cpu.idle on groups whose scheduling entity competes at the root of
// the cpu hierarchy (on v1 with the default parent), where idle-class means any other task's
// wakeup preempts them at once:
//   - BestEffortParent, all BestEffort sandboxes together: idle while they use a quarter of a
//     core or more, back to normal below a tenth. Not idle, a light one (an exec now and then)
//     keeps its fair share even while host work is busy, instead of starving behind it.
//   - each Burstable sandbox's own group ("<parent>-burstable-<name>", found by listing the
//     parent's parent every period): idle while it uses clearly more than its cpu request, back
//     to its full weight once it uses no more than the request. So a sandbox within its request
//     keeps what Kubernetes promises, and only a burst above it is idle-class.
//     A burst counts only when the group's long-lived threads make it (CPU used by threads
//     alive at both ends of a period, from /proc/<tid>/schedstat): a sandbox served exec after
//     exec spends most of its CPU in the fresh process of each command (measured: 0.7 cores
//     used, 0.17 of them by its long-lived threads). Made idle-class, such a sandbox met an
//     idle-class spinner as an equal (both at the idle weight) and its execs waited behind it
//     for the next 4 ms tick (test_cpu_spin.py: p50 1.0 -> 3.7 ms); at its weight it preempts.
//     A loop that forks short-lived spinners escapes the rule and keeps its weight, as under a
//     kubelet; host tasks then see tick-length waits behind it, not starvation. gVisor runs
//     every command inside the sentry's long-lived threads, so there every burst counts.
//   - except a Burstable group that was idle-class when first seen and not by this governor's
//     decision: a warm-pool member the node started idle-class (CgroupLimits::cpu_idle), or one
//     a previous asbd's governor made so. It is left as it is (its cpu.idle read every period
//     instead of its usage) until someone else makes it normal (the node, at its claim or at a
//     restart's first sync of a claimed sandbox); from then on it is governed as above.
//
// Syscalls: getdents of the parent's parent, pread of cpuacct.usage / cpu.stat (fds kept open),
// write of cpu.idle when a decision changes; one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "base/result.h"
#include "base/unique_fd.h"
#include "sys/cgroup.h"

namespace asb::sys {

// When one group turns idle-class and back, in cores used over the last period.
struct IdleThresholds {
  double on_cores = 0;   // idle once it used at least this much
  double off_cores = 0;  // normal again once it used less than this
};

// The next cpu.idle of a group that was `idle` and used `cores` over the last period.
bool NextIdle(bool idle, double cores, const IdleThresholds& thresholds);

// CPU time (ns, /proc/<tid>/schedstat's first field) of each thread in a group.
using ThreadTimes = std::map<pid_t, uint64_t>;

// Cores used between two samples `seconds` apart by the threads present in both.
double LongLivedCores(const ThreadTimes& before, const ThreadTimes& after, double seconds);

// A group with more threads than this is judged by its usage alone (each period would read
// that many files while it bursts).
inline constexpr size_t kMaxSampledThreads = 1024;

// BestEffort sandboxes together: a quarter of a core is a spinner, not an exec now and then;
// a tenth is clearly quiet again.
inline constexpr IdleThresholds kBestEffortThresholds{.on_cores = 0.25, .off_cores = 0.1};

// A Burstable sandbox with a request of `request_millis`: idle at 1.5x its request plus a tenth
// of a core (clearly more: a period's reading jitters by a few 4 ms ticks, and a request near
// zero must not make every exec idle-class), normal again below the request itself.
IdleThresholds BurstableThresholds(int64_t request_millis);

struct CpuGovernorOptions {
  CgroupConfig cgroup;
  std::chrono::milliseconds period{100};
};

class CpuGovernor {
 public:
  // Makes BestEffortParent (EnsureBestEffortParent) with cpu.idle 0 and starts the thread.
  [[nodiscard]] static Result<std::unique_ptr<CpuGovernor>> Start(
      const CpuGovernorOptions& options);
  ~CpuGovernor();  // stops the thread; each cpu.idle stays as it was last written
  CpuGovernor(const CpuGovernor&) = delete;
  CpuGovernor& operator=(const CpuGovernor&) = delete;

  // Whether BestEffortParent is idle-class now.
  bool best_effort_idle() const;
  // Whether the Burstable group `name` (its name below the parent's parent, e.g.
  // "asb-burstable-<uid>") is idle-class now; false if the governor does not know it.
  bool burstable_idle(const std::string& name) const;
  // How many Burstable groups the last period looked at.
  size_t burstable_groups() const;
  // Whether the Burstable group `name` is idle-class by someone else's decision (a pool member
  // not yet claimed), which the governor leaves alone.
  bool burstable_held(const std::string& name) const;
  // Periods run so far.
  uint64_t periods() const;

 private:
  struct Group {
    UniqueFd usage;       // cpuacct.usage (v1) or cpu.stat (v2), read with pread
    std::string cpu_dir;  // the group's directory in the cpu hierarchy
    std::string idle_file;
    std::string weight_file;      // cpu.shares (v1) or cpu.weight (v2): the request
    bool thresholds_due = false;  // read the weight at the next period (just made normal)
    std::string weight;           // as read while normal (a Burstable group's request)
    IdleThresholds thresholds;
    std::chrono::nanoseconds last_usage{0};
    bool idle = false;
    // Its threads' CPU times at the last period, taken while it used enough to turn idle
    // (see LongLivedCores); nullopt otherwise.
    std::optional<ThreadTimes> threads;
    // Idle-class by someone else's decision (see the file comment): cpu.idle, read with pread
    // while it stays 1.
    UniqueFd held;
  };

  explicit CpuGovernor(const CpuGovernorOptions& options);
  void Loop();
  // One period: finds new Burstable groups, forgets removed ones, reads every group's usage and
  // writes the cpu.idle that changed.
  void Step(double seconds);
  // Opens a group's files (relative path below each hierarchy's root); nullopt if it is gone
  // or its request is unreadable.
  std::optional<Group> OpenGroup(const std::string& rel, const IdleThresholds* thresholds) const;
  std::optional<std::chrono::nanoseconds> Usage(const Group& g) const;
  // Whether a held group is still idle-class; if not, it is no longer held (and not idle), and
  // its thresholds are read from its weight.
  bool StillHeld(Group& g) const;
  // The thresholds the group's weight (its request) stands for; the weight is kept, to be
  // written back when the governor makes the group normal again.
  std::optional<IdleThresholds> ReadThresholds(Group& g) const;
  bool SetIdle(Group& g, bool idle);
  // A normal Burstable group that used at least its on-threshold over the last period
  // (`seconds` long): whether its long-lived threads made that burst. The first such period only
  // takes the sample the next one compares against.
  bool LongLivedBurst(Group& g, double seconds) const;

  const CpuGovernorOptions options_;
  bool v2_ = false;
  std::string cpu_root_, cpuacct_root_, burstable_dir_, burstable_prefix_;
  // Owned by the thread; the published idle states are copied under mu_.
  Group best_effort_;
  std::map<std::string, Group> burstable_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool best_effort_idle_ = false;
  std::map<std::string, bool> burstable_idle_;
  std::map<std::string, bool> burstable_held_;
  uint64_t periods_ = 0;
  std::thread thread_;
};

}  // namespace asb::sys
