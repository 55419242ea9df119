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
};

// gVisor's own threads (sentry, gofer, ptrace stubs) live in the sandbox's host cgroup, so a
// pids limit meant for the app gets this much headroom.
inline constexpr int64_t kGvisorPidsOverhead = 256;
// Applied when spec.limits.pids is 0.
inline constexpr int64_t kDefaultPids = 1024;

// Checks the parts of a spec this runtime depends on: id ([a-z0-9-], 1..63, no leading '-'),
// non-empty argv, absolute cwd and bind paths, non-negative limits. kInvalidArgument naming the
// field.
[[nodiscard]] Status ValidateSpec(const SandboxSpec& spec);

// The config.json document. The app runs with no capabilities and no_new_privs; pid, ipc, uts
// and mount namespaces are new; the network namespace is `paths.netns`; binds are read-only
// unless the spec says otherwise.
Json BuildOciConfig(const SandboxSpec& spec, const OciPaths& paths);

// The process.json for `runsc exec --process` (same hardening as the main process).
Json BuildOciProcess(const ProcessSpec& process);

}  // namespace asb::runtime::runsc
