// NativeRuntime: sandboxes built from Linux namespaces, an overlay root, cgroups and seccomp,
// set up by the single-threaded asb-init (see init/init.h for the process layout and
// runtime/native/init_spec.h for the protocol).
//
// On-disk state, one directory per sandbox: <state_dir>/native/<id>/
//   state.json  pids + start times of the shim and the sandbox init, uid slot, times, labels
//               (written atomically once Start succeeded)
//   exit.json   written by the shim when the sandbox init exits
//   output.log  the sandbox's stdout and stderr (CRI format, capped, rotated to output.log.1:
//               runtime.h "Container output")
//   root/, scratch/  empty mount points (the mounts exist only in the sandbox's namespace;
//               scratch/ is the writable layer, an ext4 on a loop device: runtime/scratch_disk.h,
//               taken ready-made from a runtime/layer_pool.h and attached by asb-init)
// <state_dir>/disk-templates/  empty ext4 images, one per ephemeral-storage size (the layers'
//               images are unnamed O_TMPFILEs there)
//
// Restart policy: sandboxes outlive the daemon (no PR_SET_PDEATHSIG on the shim). A new
// NativeRuntime on the same state dir finds them with List(), and Inspect/DialPort/Exec/Stop
// work on them; the node agent decides whether to re-adopt or Stop each one.
//
// Ids: root inside sandbox slot N maps to host ids [id_map_base + N*id_map_size, +id_map_size).
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "runtime/layer_pool.h"
#include "runtime/runtime.h"
#include "runtime/scratch_disk.h"
#include "sys/cgroup.h"

namespace asb::runtime::native {

struct NativeRuntimeOptions {
  std::string state_dir;  // required; sandboxes live in <state_dir>/native/<id>
  std::string init_path;  // asb-init; empty = next to /proc/self/exe
  sys::CgroupConfig cgroup;
  uint32_t id_map_base = 100000;
  uint32_t id_map_size = 65536;
  uint32_t max_sandboxes = 4096;
  int64_t default_pids = 1024;
  int64_t default_ephemeral_storage_bytes = int64_t{1} << 30;
  // Writable layers kept ready per ephemeral-storage size (runtime/layer_pool.h), for this many
  // sizes; the default size is filled from the start. depth 0: each start makes its own.
  size_t layer_pool_depth = 8;
  size_t layer_pool_sizes = 4;
  std::chrono::milliseconds start_timeout{10000};
  // output.log and output.log.1 together stay below this (0 = unbounded).
  int64_t output_log_limit_bytes = 8 << 20;
  // Exec output beyond this many bytes per stream is dropped.
  size_t exec_output_limit = 16 << 20;
};

class NativeRuntime final : public Runtime {
 public:
  // Checks asb-init exists, compiles the seccomp policy, creates the state dir and loads the
  // uid slots of sandboxes left by an earlier daemon. kFailedPrecondition when not root or
  // asb-init is missing.
  [[nodiscard]] static Result<std::unique_ptr<NativeRuntime>> Create(NativeRuntimeOptions options);
  ~NativeRuntime() override;

  std::string_view name() const override { return "native"; }
  Status Start(const SandboxSpec& spec) override;
  Result<SandboxStatus> Inspect(const std::string& id) override;
  Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  Status SetCpuIdle(const std::string& id, bool idle, const Limits& limits) override;
  Result<UniqueFd> DialPort(const std::string& id, uint16_t port) override;
  Result<ExecResult> Exec(const std::string& id, const ProcessSpec& process,
                          std::chrono::milliseconds timeout) override;
  Result<std::vector<std::string>> List() override;
  std::string LogPath(const std::string& id) const override {
    return SandboxDir(id) + "/output.log";
  }

  // <state_dir>/native/<id>: for tests and diagnostics.
  std::string SandboxDir(const std::string& id) const;
  // The sandbox's cgroups (also for a sandbox left by an earlier daemon).
  [[nodiscard]] Result<sys::Cgroup> CgroupOf(const std::string& id) const;
  // The writable layers' pool: for tests and diagnostics.
  LayerPool& layer_pool() { return *layers_; }

 private:
  struct Record;  // state.json
  struct Live {   // fds opened for a running sandbox (verified against pid start times)
    UniqueFd init_pidfd;
    UniqueFd netns;
  };

  explicit NativeRuntime(NativeRuntimeOptions options);
  [[nodiscard]] Result<Record> LoadRecord(const std::string& id) const;
  [[nodiscard]] Result<std::shared_ptr<Live>> GetLive(const std::string& id);
  [[nodiscard]] Status StartLocked(const SandboxSpec& spec, uint32_t slot);
  void Cleanup(const std::string& id, std::chrono::milliseconds timeout);
  // Hands the sandbox's layer (if this daemon started it) to the pool for teardown; call once
  // its processes are gone.
  void ReleaseLayer(const std::string& id);

  const NativeRuntimeOptions options_;
  std::string root_;         // <state_dir>/native
  std::string seccomp_bpf_;  // compiled once
  ScratchDisks scratch_disks_;
  std::unique_ptr<LayerPool> layers_;  // uses scratch_disks_

  std::mutex mu_;
  std::set<uint32_t> used_slots_;
  std::set<std::string> starting_;
  std::map<std::string, std::shared_ptr<Live>> live_;
  // The mount fd of each layer this daemon attached: holding it makes this daemon, not the
  // sandbox's exit, drop the last reference (LayerPool::Release, off the stop path).
  std::map<std::string, UniqueFd> layer_fds_;
};

}  // namespace asb::runtime::native
