// Per-sandbox cgroups on v1 (one directory per controller: memory, cpu, pids, freezer) or v2
// (one unified directory). The group for sandbox <id> is <controller root>/<parent>/<id>, where
// <parent> defaults to "/asb" (as Docker uses /docker on v1). The parent directory is created
// on demand and left in place.
//
// Groups another program made (runsc makes its own from the OCI cgroupsPath) are named with
// OpenAllHierarchies and removed or watched with the same methods.
//
// Syscalls: mkdir, rmdir, open/write of cgroupfs files, eventfd, kill.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::sys {

struct CgroupLimits {
  int64_t memory_bytes = 0;  // 0 = unlimited; swap is limited to the same total (no swap)
  int64_t cpu_millis = 0;    // CFS quota: 0 = unlimited; 1000 = one core per 100 ms period
  // CFS share under contention (kubelet's mapping): v1 cpu.shares = millis*1024/1000 (>= 2),
  // v2 cpu.weight = 1 + (shares-2)*9999/262142. 0 = the default share (1024 / 100).
  int64_t cpu_request_millis = 0;
  int64_t pids = 0;  // 0 = unlimited
  // Kubernetes' BestEffort CPU class (no cpu request, no cpu limit): the group goes under
  // BestEffortParent, which BestEffortGovernor makes idle-class while BestEffort sandboxes keep
  // the CPU busy, so that every other task on the host preempts them at once (docs/cpu.md).
  bool cpu_best_effort = false;
};

struct CgroupConfig {
  std::string mount_root = "/sys/fs/cgroup";
  // Path below each hierarchy's root; empty = "/asb". On v2 under systemd, point this at a
  // delegated subtree.
  std::string parent;
};

// A sandbox's cgroups. Value type holding paths only: copying it does not duplicate groups and
// destroying it removes nothing (call Remove()). Thread-compatible.
class Cgroup {
 public:
  // Creates the groups (mkdir -p) and writes the limits. On failure nothing is left behind.
  // Errors: kAlreadyExists, kResourceExhausted (limit rejected), kInternal.
  [[nodiscard]] static Result<Cgroup> Create(const CgroupConfig& config, const std::string& name,
                                             const CgroupLimits& limits);
  // Names the groups of an existing sandbox (after a daemon restart) without touching them:
  // below BestEffortParent if the group is there, else below the parent.
  [[nodiscard]] static Result<Cgroup> Open(const CgroupConfig& config, const std::string& name);
  // Open, plus on v1 the group's directory in every other mounted hierarchy (cpuset, devices,
  // blkio, ...), where runc-style runtimes make one too, so Remove leaves none of them behind.
  [[nodiscard]] static Result<Cgroup> OpenAllHierarchies(const CgroupConfig& config,
                                                         const std::string& name);

  bool is_v2() const { return v2_; }
  // Every directory of this group (one per v1 controller, or the single v2 directory).
  const std::vector<std::string>& dirs() const { return dirs_; }
  // The directory holding the memory controller's files (the one directory on v2).
  const std::string& memory_dir() const { return memory_dir_; }
  // The cgroup.procs files a process writes "0" into to join all of this group's controllers.
  std::vector<std::string> ProcsFiles() const;

  // CPU time used by the group's tasks so far (v1 cpuacct.usage, v2 cpu.stat usage_usec).
  [[nodiscard]] Result<std::chrono::nanoseconds> CpuUsage() const;
  // Pids currently in the group (from the pids controller on v1).
  [[nodiscard]] Result<std::vector<pid_t>> Pids() const;
  // Whether the kernel OOM-killed a process in the group (memory.oom_control / memory.events).
  bool OomKilled() const;
  // v1 only: an eventfd (O_CLOEXEC, O_NONBLOCK) the kernel signals when the group hits its
  // memory limit, just before the kill is counted in OomKilled, and again when the group is
  // removed (then memory_dir() is gone). kUnimplemented on v2, which has no such event (read
  // OomKilled after the exit); other errors errno-mapped.
  [[nodiscard]] Result<UniqueFd> OomEventfd() const;
  // SIGKILLs every process in the group (v2 cgroup.kill; v1 freeze, kill, thaw, repeat) and
  // waits until it is empty. kDeadlineExceeded if processes remain at the deadline.
  [[nodiscard]] Status KillAll(std::chrono::milliseconds timeout);
  // rmdir every directory, retrying while the kernel finishes tearing down exited tasks.
  // Idempotent: OK when already gone.
  [[nodiscard]] Status Remove(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  // The groups of `name` below `parent` (relative to each hierarchy's root); touches nothing.
  static Result<Cgroup> OpenBelow(const CgroupConfig& config, const std::string& parent,
                                  const std::string& name);

  bool v2_ = false;
  std::vector<std::string> dirs_;
  std::string memory_dir_, cpu_dir_, pids_dir_, freezer_dir_;  // v1; all equal on v2
  std::string cpuacct_dir_;  // v1 only, when cpuacct is its own hierarchy (else cpu_dir_)
};

// "<parent>-besteffort" (default "/asb-besteffort"): a sibling of the parent, so that on a v1
// host with the parent at the root of the cpu hierarchy it competes with host tasks directly.
std::string BestEffortParent(const CgroupConfig& config);
// Creates BestEffortParent (mkdir -p; on v2 with the cpu controller enabled for children).
// Its cpu.idle is BestEffortGovernor's to set. Idempotent; runsc, which makes its own groups,
// needs it before it creates one below. kUnimplemented when the kernel has no cpu.idle (5.15+).
[[nodiscard]] Status EnsureBestEffortParent(const CgroupConfig& config);

// cpu.shares (v1) and cpu.weight (v2) for a cpu request in millicores.
int64_t CpuSharesFor(int64_t request_millis);
int64_t CpuWeightFor(int64_t request_millis);

// True if the host uses the unified (v2-only) hierarchy at `mount_root`.
bool CgroupIsV2(const std::string& mount_root = "/sys/fs/cgroup");

}  // namespace asb::sys
