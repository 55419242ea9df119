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
//
// Syscalls: getdents of the parent's parent, pread of cpuacct.usage / cpu.stat (fds kept open),
// write of cpu.idle when a decision changes; one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

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

 private:
  struct Group {
    UniqueFd usage;  // cpuacct.usage (v1) or cpu.stat (v2), read with pread
    std::string idle_file;
    IdleThresholds thresholds;
    std::chrono::nanoseconds last_usage{0};
    bool idle = false;
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
  bool SetIdle(Group& g, bool idle);

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
  std::thread thread_;
};

}  // namespace asb::sys
