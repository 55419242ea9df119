// Isolation backends behind one interface: "native" (namespaces + seccomp + cgroups + overlay
// root, set up by asb-init) and "gvisor" (runsc with an OCI bundle). The node agent picks one per
// pod from runtimeClassName and never falls back to a weaker one.
//
// Container output (one place per sandbox, the same on every runtime): LogPath(id) is a file in
// the CRI logging format kubelet writes ("<RFC3339 time> <stdout|stderr> <F|P> <text>", see
// init/capped_log.h), written by a small asb-init process that outlives asbd, never by the
// sandbox itself. Together with LogPath(id) + ".1" (the older half, renamed when the current file
// reaches half the cap) it holds at most the runtime's output cap (8 MiB by default), so no
// sandbox output, including gVisor's pid-1 console, can fill the host disk. It is removed with
// the sandbox by Stop. Serve `kubectl logs` from it (".1" first, then the current file).
//
// Writable layer: ext4 of `ephemeral-storage` (1 GiB when the pod gives none) on a loop device,
// charged to disk, not memory (runtime/scratch_disk.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::runtime {

struct BindMount {
  std::string host_path;     // absolute path on the host
  std::string sandbox_path;  // absolute path inside the sandbox
  bool read_only = true;
  // The content belongs to the sandbox (a persistent volume): runtimes whose sandbox ids differ
  // from the host's give the sandbox ownership of it (native: volume_ownership.h).
  bool sandbox_owned = false;
};

// What the sandbox's root is made of.
struct RootFs {
  std::string lower_dir;  // read-only image layer (host directory)
  // Read-only layers stacked by overlayfs, uppermost first (its lowerdir order): OCI images, one
  // shared directory per layer (image/image_cache.h). When set, lower_dir is not used.
  std::vector<std::string> lower_dirs;
  std::vector<BindMount> binds;  // e.g. host /usr -> /usr read-only (built-in images)

  // The layers to stack: lower_dirs, or lower_dir alone.
  std::vector<std::string> Layers() const {
    return lower_dirs.empty() ? std::vector<std::string>{lower_dir} : lower_dirs;
  }
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is resolved against PATH inside the sandbox
  std::vector<std::string> env;   // "KEY=VALUE"
  std::string cwd = "/";
  uint32_t uid = 0;  // inside the sandbox's user namespace
  uint32_t gid = 0;
};

struct Limits {
  int64_t memory_bytes = 0;             // 0 = no limit
  int64_t cpu_millis = 0;               // limits.cpu: CFS quota; 0 = no limit (1000 = one core)
  int64_t cpu_request_millis = 0;       // requests.cpu: CFS shares/weight; 0 = default share
  int64_t pids = 0;                     // 0 = runtime default
  int64_t ephemeral_storage_bytes = 0;  // cap on the writable layer; 0 = runtime default
  // Start idle-class (cgroup cpu.idle 1): a warm-pool member boots and waits behind the claimed
  // sandboxes, the daemon and its clients until SetCpuIdle(id, false) at its claim (docs/cpu.md).
  bool cpu_idle = false;
};

struct SandboxSpec {
  std::string id;        // unique and filesystem-safe ([a-z0-9-], <= 63 chars)
  std::string hostname;  // usually the pod name
  RootFs rootfs;
  ProcessSpec process;
  Limits limits;
  std::map<std::string, std::string> labels;  // e.g. namespace/name, kept for recovery and ps
  // A network namespace to run in, persisted at this path (sys/net.h CreatePersistentNetns) and
  // wired by the pod network (net/pod_network.h), which also removes it; "" = a fresh namespace
  // holding only lo, owned by the runtime.
  std::string netns_path;
};

enum class SandboxState { kRunning, kExited, kUnknown };

struct SandboxStatus {
  SandboxState state = SandboxState::kUnknown;
  int exit_code = 0;
  int term_signal = 0;
  bool oom_killed = false;
  SystemTime started_at{};
  SystemTime finished_at{};
  std::string message;
};

struct ExecResult {
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual std::string_view name() const = 0;  // "native", "gvisor"

  // Creates and starts the sandbox; returns once its process runs. Errors: kAlreadyExists,
  // kInvalidArgument (bad spec), kResourceExhausted (limits), kInternal (setup step failed, with
  // the step named). A failed Start leaves nothing behind.
  [[nodiscard]] virtual Status Start(const SandboxSpec& spec) = 0;
  // kNotFound when unknown.
  [[nodiscard]] virtual Result<SandboxStatus> Inspect(const std::string& id) = 0;
  // SIGTERM, wait up to `grace`, SIGKILL everything in the sandbox, then remove every process,
  // mount, cgroup, network namespace and file it had. Idempotent: OK when unknown.
  [[nodiscard]] virtual Status Stop(const std::string& id, std::chrono::milliseconds grace) = 0;
  // A TCP connection to 127.0.0.1:port inside the sandbox's network namespace (what CRI
  // port-forward does), so sandboxes need no address on a host network. kNotFound, kUnavailable.
  [[nodiscard]] virtual Result<UniqueFd> DialPort(const std::string& id, uint16_t port) = 0;
  // Runs a process inside the running sandbox (exec probes); killed at the timeout.
  [[nodiscard]] virtual Result<ExecResult> Exec(const std::string& id, const ProcessSpec& process,
                                                std::chrono::milliseconds timeout) = 0;
  // Makes the sandbox's CPU share idle-class or normal again (the claim's promotion of a
  // warm-pool member started with Limits::cpu_idle: a cgroup write or two). `limits` are the
  // sandbox's: normal again, its group gets its cpu request's share back. kNotFound when
  // unknown; OK for a runtime without cgroups.
  [[nodiscard]] virtual Status SetCpuIdle(const std::string& id, bool idle, const Limits& limits) {
    (void)id;
    (void)idle;
    (void)limits;
    return OkStatus();
  }
  // Ids of sandboxes this runtime has on the host, including ones left by an earlier asbd.
  [[nodiscard]] virtual Result<std::vector<std::string>> List() = 0;
  // The sandbox's container output file (see "Container output" above); "" when the runtime
  // keeps none. The file may not exist yet (nothing written) or any more (stopped).
  virtual std::string LogPath(const std::string& id) const {
    (void)id;
    return "";
  }
  // True only for runtime/simulated (scale tests): its sandboxes run nothing, so the node treats
  // their probes as passing and never runs one beside a real runtime.
  virtual bool simulated() const { return false; }
  // The sandbox's pod addresses (status.podIPs); empty when it has none (only lo).
  virtual std::vector<std::string> PodIPs(const std::string& id) const {
    (void)id;
    return {};
  }
};

// A sandbox id names directories, a cgroup and runsc's container on the host, so every runtime
// checks it before touching any of them: 1-63 characters of [a-z0-9-], not starting with '-' (no
// path or option syntax). kInvalidArgument naming the id.
[[nodiscard]] inline Status ValidateSandboxId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 63 && id[0] != '-';
  for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    return MakeError(
        Code::kInvalidArgument,
        "id: \"" + id + "\" must be 1-63 characters of [a-z0-9-], not starting with '-'");
  }
  return {};
}

}  // namespace asb::runtime
