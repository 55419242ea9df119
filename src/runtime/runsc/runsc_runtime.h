// RunscRuntime: the "gvisor" isolation backend. Each sandbox is one gVisor sandbox driven
// through Debian's `runsc` CLI and an OCI bundle:
//
//   <state_dir>/runsc/<id>/          the bundle (one directory per sandbox; List() reads these)
//     config.json                    OCI config (oci_spec.h), written atomically
//     scratch/  (ext4 of ephemeral-storage on a loop device: runtime/scratch_disk.h)  upper/ and
//               work/ of the overlay
//     rootfs/   (overlayfs: lower = spec.rootfs.lower_dir, upper on scratch) = the OCI root
//     netns                          bind mount of the sandbox's network namespace (only lo),
//                                    unless the spec names one (SandboxSpec::netns_path)
//     output.log                     the app's stdout/stderr and runsc's own errors (LogPath;
//                                    capped and rotated: runtime.h "Container output")
//   <state_dir>/runsc-root/          runsc --root (runsc's container state). A sibling, not a
//                                    child, of runsc/ so every entry under runsc/ is a bundle.
//
// Network: runsc runs with --network=host, and the config names the per-sandbox namespace, which
// runsc joins (verified on the 2022-12 build: the sandbox process's /proc/<pid>/ns/net is the
// bind-mounted one). So the app's sockets are real host sockets in a namespace that has only
// loopback: no egress, and DialPort reaches the app by entering that namespace from the host
// side, as CRI port-forward does. (gVisor's own netstack, --network=sandbox, would hide the
// app's listening socket from the host entirely.) With the pod network (net/pod_network.h) the
// spec's namespace holds the sandbox's veth and address instead, and the same host sockets are
// reached over the pod IP.
//
// Writable root: a host overlay over a size-capped ext4 (the same disk-backed layer as native,
// runtime/scratch_disk.h) enforces ephemeral-storage (writes fail with ENOSPC at the cap) and is
// served by the gofer; the data is on the host disk, not in memory. runsc runs with
// --overlay2=none: this build's --overlay2=root:memory would keep the upper layer in sentry
// memory, bounded only by the memory limit, and root:<dir> puts an uncapped filestore file in
// <dir>.
//
// Platform: ptrace by default, because the KVM platform of this runsc build hangs at 100% CPU
// on our VMs (nested virtualization); RunscOptions::platform selects another ("kvm",
// "systrap" on newer builds) where it works.
//
// Processes: `runsc run` (not detached) stays our child and is the parent of the sandbox and
// gofer processes, so they are reaped even where pid 1 reaps nothing, and its exit status is
// the app's (128+signal when killed). Cgroups (v1 or v2) are set up by runsc from cgroupsPath
// /asb/runsc-<id> and removed by `runsc delete`. On cgroup v1 an OOM is detected through a
// memory.oom_control eventfd; on v2 oom_killed is not reported (TODO(gvisor)).
//
// Thread-safe. A sandbox survives the RunscRuntime (and asbd) that started it; a new instance
// finds it through List() and can Inspect (exit status then unknown) and Stop it.
#pragma once

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/scratch_disk.h"
#include "sys/cgroup.h"

namespace asb::runtime::runsc {

struct RunscOptions {
  std::string state_dir;             // required, absolute
  std::string runsc_path = "runsc";  // absolute path or name on PATH
  std::string platform = "ptrace";   // see the header comment for why not kvm
  int64_t default_ephemeral_storage_bytes = int64_t{1} << 30;  // when the spec says 0
  std::string cgroup_parent = "/asb";  // cgroupsPath: sys::CgroupPath of runsc-<id>
  std::chrono::milliseconds start_timeout{30000};
  std::chrono::milliseconds command_timeout{30000};  // each runsc state/kill/delete call
  // Non-empty: runsc runs with --debug --debug-log=<dir>/<id>/ (kept after Stop, for debugging
  // failures; off by default because it writes megabytes per sandbox and is not capped: a
  // diagnostic switch, never for sandboxes running untrusted code).
  std::string debug_log_dir;
  std::string init_path;  // asb-init (writes output.log); empty = next to /proc/self/exe
  // output.log and output.log.1 together stay below this.
  int64_t output_log_limit_bytes = 8 << 20;
};

class RunscRuntime final : public Runtime {
 public:
  // Checks the options, that runsc runs (`runsc --version`) and creates the state dirs.
  // Errors: kInvalidArgument (options), kFailedPrecondition (runsc missing / not runnable).
  [[nodiscard]] static Result<std::unique_ptr<RunscRuntime>> Create(RunscOptions options);
  ~RunscRuntime() override;  // does not stop sandboxes; joins monitor threads only if exited

  std::string_view name() const override { return "gvisor"; }
  [[nodiscard]] Status Start(const SandboxSpec& spec) override;
  [[nodiscard]] Result<SandboxStatus> Inspect(const std::string& id) override;
  [[nodiscard]] Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  [[nodiscard]] Status SetCpuIdle(const std::string& id, bool idle, const Limits& limits) override;
  [[nodiscard]] Result<UniqueFd> DialPort(const std::string& id, uint16_t port) override;
  [[nodiscard]] Result<ExecResult> Exec(const std::string& id, const ProcessSpec& process,
                                        std::chrono::milliseconds timeout) override;
  [[nodiscard]] Result<std::vector<std::string>> List() override;
  std::string LogPath(const std::string& id) const override {
    return BundleDir(id) + "/output.log";
  }

  std::string BundleDir(const std::string& id) const;
  const RunscOptions& options() const { return options_; }

 private:
  struct Tracked;
  explicit RunscRuntime(RunscOptions options);
  // Per-sandbox thread: reaps the `runsc run` child and records OOM events.
  static void Monitor(std::shared_ptr<Tracked> t);

  std::vector<std::string> RunscArgv(const std::string& id,
                                     std::initializer_list<std::string> sub) const;
  // "running", "created", "stopped", ... or kNotFound when runsc does not know the id.
  Result<std::string> RunscState(const std::string& id);
  // The cgroups runsc made for `id` from cgroupsPath (sys::CgroupPath of runsc-<id>).
  Result<sys::Cgroup> RunscCgroup(const std::string& id) const;
  // delete --force (when runsc knows the id), unmount, remove netns and the bundle.
  Status Teardown(const std::string& id);
  std::shared_ptr<Tracked> Find(const std::string& id);

  RunscOptions options_;
  std::string init_path_;
  std::string bundles_dir_;
  std::string runsc_root_;
  // Set once a start has read "running" from runsc's own state file: this runsc writes the file
  // where Start looks, so a missing file means "not created yet" and `runsc state` (a Go process
  // start, 25-60 ms of CPU) has nothing to add.
  std::atomic<bool> state_file_works_{false};
  ScratchDisks scratch_disks_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Tracked>> tracked_;  // guarded by mu_
};

}  // namespace asb::runtime::runsc
