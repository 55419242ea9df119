// Isolation backends behind one interface: "native" (namespaces + seccomp + cgroups + overlay
// root, set up by asb-init) and "gvisor" (runsc with an OCI bundle). The node agent picks one per
// pod from runtimeClassName and never falls back to a weaker one.
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
};

// What the sandbox's root is made of.
struct RootFs {
  std::string lower_dir;         // read-only image layer (host directory)
  std::vector<BindMount> binds;  // e.g. host /usr -> /usr read-only (built-in images)
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
  int64_t cpu_millis = 0;               // 0 = no limit (1000 = one core)
  int64_t pids = 0;                     // 0 = runtime default
  int64_t ephemeral_storage_bytes = 0;  // cap on the writable layer; 0 = runtime default
};

struct SandboxSpec {
  std::string id;        // unique and filesystem-safe ([a-z0-9-], <= 63 chars)
  std::string hostname;  // usually the pod name
  RootFs rootfs;
  ProcessSpec process;
  Limits limits;
  std::map<std::string, std::string> labels;  // e.g. namespace/name, kept for recovery and ps
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
  // Ids of sandboxes this runtime has on the host, including ones left by an earlier asbd.
  [[nodiscard]] virtual Result<std::vector<std::string>> List() = 0;
};

}  // namespace asb::runtime
