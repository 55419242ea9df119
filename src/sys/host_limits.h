// Host settings a node of many sandboxes needs, raised by asbd at start (docs/density.md).
//
// A 10,000-sandbox node runs out of what a stock kernel sizes for a few hundred processes: pids
// (every task of every sandbox takes one: kernel.pid_max 32,768 runs out near 2,700 native
// sandboxes), neighbour entries (every pod IP the host dials is one: past gc_thresh3 = 1,024
// new ones fail and probes time out), conntrack entries (a probe a second per pod leaves one
// for ~2 minutes each) and asbd's own open files (~5 per sandbox). RaiseSysctls only ever
// raises: a value the admin set higher stays, each change is returned so the caller logs it
// once, and a value it cannot write (no root, a read-only /proc/sys, a module not loaded) is
// returned as a failure with the reason, not an error: asbd runs on, with fewer sandboxes.
//
// The functions take the root of /proc/sys as a parameter so tests use a temporary directory.
//
// Syscalls: open/read/write on /proc/sys files, getrlimit/setrlimit, read of
// /proc/sys/fs/nr_open.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace asb::sys {

struct SysctlMinimum {
  std::string name;  // the sysctl's path below /proc/sys, "kernel/pid_max"
  int64_t at_least = 0;
};

struct SysctlChange {
  std::string name;
  int64_t before = 0;
  int64_t after = 0;
};

struct SysctlFailure {
  std::string name;
  std::string reason;  // "not present (module not loaded?)", "write: Permission denied"
};

struct RaiseReport {
  std::vector<SysctlChange> raised;  // written: before < at_least
  std::vector<SysctlFailure> failed;
  int already = 0;  // already at or above the minimum: left as the admin set them
};

// What a node of 10,000 idle sandboxes needs, measured with bench/scale_bench.py --runtime
// native on a 2-core 24 GiB host (docs/density.md lists the figures behind each minimum).
std::vector<SysctlMinimum> DenseNodeSysctls();

// Raises each sysctl below `proc_sys` (normally "/proc/sys") to its minimum where it is lower;
// never lowers one. A file holding several numbers is not one of these and is reported failed.
RaiseReport RaiseSysctls(const std::string& proc_sys, const std::vector<SysctlMinimum>& minimums);

struct RlimitChange {
  uint64_t soft_before = 0, hard_before = 0, soft_after = 0, hard_after = 0;
  bool changed() const { return soft_after != soft_before || hard_after != hard_before; }
};

// Raises this process's RLIMIT_NOFILE soft (and, with CAP_SYS_RESOURCE, hard) limit to `want`,
// capped at fs/nr_open below `proc_sys`; never lowers either. Without the privilege to raise
// the hard limit, the soft one still goes up to the hard one. Errors: kInternal (getrlimit).
[[nodiscard]] Result<RlimitChange> RaiseOpenFilesLimit(const std::string& proc_sys, uint64_t want);

}  // namespace asb::sys
