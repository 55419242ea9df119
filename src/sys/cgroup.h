// Per-sandbox cgroups on v1 (one directory per controller: memory, cpu, pids, freezer) or v2
// (one unified directory). The group for sandbox <id> is <controller root>/<parent>/<id>, where
// <parent> defaults to "/asb" (as Docker uses /docker on v1), or one of the two other places its
// CpuPlacement names (docs/cpu.md). The parent directory is created on demand and left in place.
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

// Where a sandbox's group sits, from its cpu request and limit alone (Kubernetes' CPU classes;
// docs/cpu.md says why each place):
enum class CpuPlacement {
  // Below the parent: a sandbox with a cpu limit (its quota bounds what it takes), or a caller
  // that does not say.
  kParent,
  // A cpu request and no limit: a group of its own next to the parent ("<parent>-burstable-
  // <name>"), so that on a v1 host its scheduling entity competes at the root, where
  // CpuGovernor makes it idle-class while it uses clearly more than its request.
  kBurstable,
  // Neither: below BestEffortParent, which CpuGovernor makes idle-class while BestEffort
  // sandboxes keep the CPU busy.
  kBestEffort,
};
CpuPlacement CpuPlacementFor(int64_t cpu_limit_millis, int64_t cpu_request_millis);

struct CgroupLimits {
  int64_t memory_bytes = 0;  // 0 = unlimited; swap is limited to the same total (no swap)
  int64_t cpu_millis = 0;    // CFS quota: 0 = unlimited; 1000 = one core per 100 ms period
  // CFS share under contention (kubelet's mapping): v1 cpu.shares = millis*1024/1000 (>= 2),
  // v2 cpu.weight = 1 + (shares-2)*9999/262142. 0 = the default share (1024 / 100).
  int64_t cpu_request_millis = 0;
  int64_t pids = 0;  // 0 = unlimited
  // Where the group goes (CpuPlacementFor(cpu_millis, cpu_request_millis) for a sandbox), so
  // that a spinning BestEffort or Burstable sandbox yields to every other task on the host.
  CpuPlacement cpu_placement = CpuPlacement::kParent;
  // Starts idle-class (cpu.idle 1): a warm-pool member nobody uses yet boots and idles behind
  // every non-idle task competing with its group (docs/cpu.md, "Pool members"), until
  // SetCpuIdle(false) at its claim. Ignored where the kernel has no cpu.idle.
  bool cpu_idle = false;
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
  // Names the groups of an existing sandbox (after a daemon restart) without touching them: in
  // whichever CpuPlacement's place the group is, else below the parent.
  [[nodiscard]] static Result<Cgroup> Open(const CgroupConfig& config, const std::string& name);
  // Open, plus on v1 the group's directory, in every placement, in every other mounted
  // hierarchy (cpuset, devices, blkio, ...), where runc-style runtimes make one too, so Remove
  // leaves none of them behind.
  [[nodiscard]] static Result<Cgroup> OpenAllHierarchies(const CgroupConfig& config,
                                                         const std::string& name);

  bool is_v2() const { return v2_; }
  // Every directory of this group (one per v1 controller, or the single v2 directory).
  const std::vector<std::string>& dirs() const { return dirs_; }
  // The directory holding the memory controller's files (the one directory on v2).
  const std::string& memory_dir() const { return memory_dir_; }
  // The cgroup.procs files a process writes "0" into to join all of this group's controllers.
  std::vector<std::string> ProcsFiles() const;

  // Writes cpu.idle (the claim's promotion of a warm-pool member). Making a group normal again
  // the kernel resets its weight to the default (1024 / 100), so a group with a cpu request gets
  // its share written again (`cpu_request_millis`, as Create wrote it). OK where the kernel has
  // no cpu.idle (nothing to undo); kNotFound when the group is gone.
  [[nodiscard]] Status SetCpuIdle(bool idle, int64_t cpu_request_millis = 0) const;

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
  // The groups at `path` (relative to each hierarchy's root); touches nothing.
  static Result<Cgroup> OpenAt(const CgroupConfig& config, const std::string& path);

  bool v2_ = false;
  std::vector<std::string> dirs_;
  std::string memory_dir_, cpu_dir_, pids_dir_, freezer_dir_;  // v1; all equal on v2
  std::string cpuacct_dir_;  // v1 only, when cpuacct is its own hierarchy (else cpu_dir_)
};

// "<parent>-besteffort" (default "/asb-besteffort"): a sibling of the parent, so that on a v1
// host with the parent at the root of the cpu hierarchy it competes with host tasks directly.
std::string BestEffortParent(const CgroupConfig& config);
// Creates BestEffortParent (mkdir -p; on v2 with the cpu controller enabled for children).
// Its cpu.idle is CpuGovernor's to set. Idempotent; runsc, which makes its own groups,
// needs it before it creates one below. kUnimplemented when the kernel has no cpu.idle (5.15+).
[[nodiscard]] Status EnsureBestEffortParent(const CgroupConfig& config);

// The group `name`'s path below each hierarchy's root in `placement`: "<parent>/<name>",
// "<parent>-burstable-<name>" or "<BestEffortParent>/<name>". `name` must be valid.
std::string CgroupPath(const CgroupConfig& config, const std::string& name, CpuPlacement placement);
// What a group in `placement` needs before it is made (runsc makes its own from cgroupsPath):
// EnsureBestEffortParent for kBestEffort; on v2 for kBurstable the controllers enabled in the
// parent's parent; nothing otherwise. Idempotent.
[[nodiscard]] Status PrepareCpuPlacement(const CgroupConfig& config, CpuPlacement placement);
// For a runtime that makes its own groups from a path (runsc, cgroupsPath) but should start
// idle-class: makes only the cpu (and cpuacct) directory of `name` in `limits.cpu_placement`,
// with the cpu limits, request and cpu.idle the runtime would otherwise write (runsc then uses a
// directory it finds as it is and makes the other controllers' itself). v1 only (on v2 one
// directory holds every controller, so the runtime would skip them all): kUnimplemented there.
// Returns the cgroup.procs file the runtime's process joins. Errors: kAlreadyExists, kInternal;
// on failure nothing is left behind. Cgroup::OpenAllHierarchies finds (and Remove removes) it.
[[nodiscard]] Result<std::string> CreateCpuGroup(const CgroupConfig& config,
                                                 const std::string& name,
                                                 const CgroupLimits& limits);
// Moves process `pid` into the group whose cgroup.procs file is `procs_file`.
[[nodiscard]] Status MoveToCgroup(const std::string& procs_file, pid_t pid);
// Writes one cgroup control file: kNotFound when the group is gone (ENOENT, ENODEV),
// kResourceExhausted when the kernel refuses the value (EINVAL, EBUSY).
[[nodiscard]] Status WriteCgroupFile(const std::string& path, const std::string& value);
// The prefix of kBurstable groups' names in the parent's parent ("asb-burstable-"), which is
// how CpuGovernor finds them.
std::string BurstablePrefix(const CgroupConfig& config);
// The parent's parent (relative to each hierarchy's root; "" for the root itself).
std::string ParentsParent(const CgroupConfig& config);

// cpu.shares (v1) and cpu.weight (v2) for a cpu request in millicores.
int64_t CpuSharesFor(int64_t request_millis);
int64_t CpuWeightFor(int64_t request_millis);
// The request a group's cpu.shares / cpu.weight stands for (the inverse of the above; on v2
// within a few percent, as weights are coarser than shares).
int64_t CpuRequestForShares(int64_t shares);
int64_t CpuRequestForWeight(int64_t weight);

// True if the host uses the unified (v2-only) hierarchy at `mount_root`.
bool CgroupIsV2(const std::string& mount_root = "/sys/fs/cgroup");

}  // namespace asb::sys
