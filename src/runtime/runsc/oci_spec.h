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
// cap this low: see GvisorHostTasks; the host cost of a bomb grows with the square of it.
inline constexpr int64_t kGvisorMaxCommandTasks = 24;
int64_t GvisorCommandTasks(const SandboxSpec& spec);

// The sandbox's host pids limit for `inside` tasks inside (GvisorCommandTasks). On the ptrace
// platform a sandbox's host tasks are the sentry's threads (Go runtime threads, created as app
// tasks block in ptrace waits and never given back) plus, in each ptrace stub process (one per
// app address space, pooled after the process exits and never freed), one thread for every
// sentry thread that ever ran that address space. So a churning fork bomb drives the host
// figure towards stubs x sentry threads, and it stays there after the bomb is gone. Measured
// on runsc 20221219 (2 cores) with a dash bomb re-forking at the limit: stubs ~1.5T+10, sentry
// threads ~2.6T+30; T=64: 97 x 193 (it filled the old limit of 5,120 in 12 s and ended the
// sandbox), T=32: 58 x 116, 4.9k after 42 s; T=24: 42 x 85, 2.6k after 17 s, asymptote 3.6k
// (a Python bomb: 1.6k, flat after 40 s). The limit bounds both factors with headroom (stubs
// 1.5T+16, threads 3T+32) plus the gofer's and runsc's own: T=24 gives 5,664. A dash bomb
// restarted whenever it burns out, for 60 s, peaks at ~2.9k (tests/e2e/test_hostile_agent.py):
// the bomb meets EAGAIN inside, never this limit. These are measurements, not a bound runsc
// promises; the limit is what keeps the sandbox's share of the host's pid space bounded.
int64_t GvisorHostTasks(int64_t inside);

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
