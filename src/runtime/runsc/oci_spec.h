// Builds the OCI runtime config.json that runsc consumes for one sandbox. Pure data: no I/O,
// so unit tests check it directly.
#pragma once

#include <string>

#include "base/json_util.h"
#include "base/result.h"
#include "runtime/runtime.h"

namespace asb::runtime::runsc {

// Where the host-side pieces of one sandbox live (see RunscRuntime for the layout).
struct OciPaths {
  std::string rootfs;        // overlay mount point used as the (writable) root
  std::string netns;         // persisted network namespace file
  std::string cgroups_path;  // e.g. "/asb/runsc-<id>" (relative to each hierarchy's root)
  std::string init;          // the host's asb-init, bound read-only at kSandboxInitPath
};

// Where the sandbox sees asb-init, its first program (`asb-init gvisor-entry`, see
// init/gvisor_entry.h): it confines the commands (or, for any argv but asb-agent, the whole
// workload) to a group of gVisor's own pids cgroup, then drops the capabilities the spec gave
// it for that and executes the container's argv. The runtime creates the mount point in the
// root. Processes started by `runsc exec` (BuildOciProcess) are not in that group.
inline constexpr const char* kSandboxInitPath = "/asb/bin/asb-init";

// Applied when spec.limits.pids is 0.
inline constexpr int64_t kDefaultPids = 1024;

// How many tasks the sandbox's commands may have inside gVisor (its own pids cgroup, set up by
// asb-init): the pod's figure, at most kGvisorMaxCommandTasks (threads count, as in Linux). Why a
// cap: on the ptrace platform every app process costs the sentry host threads (a stub thread per
// sentry thread that ran it), and when the sandbox's host pids cgroup is full the sentry dies with
// every process in it. Measured under a fork bomb's churn (exit and re-fork at the limit) with 64
// tasks inside: ~2,400 host threads after 6 s, ~7,300 after 25 s; with 32, ~4,100 after 25 s.
inline constexpr int64_t kGvisorMaxCommandTasks = 64;
int64_t GvisorCommandTasks(const SandboxSpec& spec);

// The host pids cgroup's limit is the pod's figure plus this headroom for gVisor's own threads
// (sentry, gofer, ptrace stubs: see above): a bomb that keeps churning at the inside limit for
// longer than ~15 s still reaches it and ends the sandbox (restartPolicy brings the server
// back); the host limit is what keeps the host's pid space safe.
inline constexpr int64_t kGvisorPidsOverhead = 4096;

// Checks the parts of a spec this runtime depends on: id ([a-z0-9-], 1..63, no leading '-'),
// non-empty argv, absolute cwd and bind paths, non-negative limits. kInvalidArgument naming the
// field.
[[nodiscard]] Status ValidateSpec(const SandboxSpec& spec);

// The config.json document. The app runs with no capabilities and no_new_privs (its first
// program, asb-init, holds four until it has set up the task limit); pid, ipc, uts
// and mount namespaces are new; the network namespace is `paths.netns`; binds are read-only
// unless the spec says otherwise.
Json BuildOciConfig(const SandboxSpec& spec, const OciPaths& paths);

// The process.json for `runsc exec --process` (same hardening as the main process).
Json BuildOciProcess(const ProcessSpec& process);

}  // namespace asb::runtime::runsc
