// The protocol between the daemon (NativeRuntime) and asb-init.
//
// asbd posix_spawns `asb-init run` or `asb-init exec` with:
//   fd 0      /dev/null;   fd 1, 2  the sandbox's output log (run) or pipes (exec)
//   fd 3      a sealed memfd holding the InitSpec as JSON
//   fd 4      the sync socket (SOCK_STREAM, O_CLOEXEC in every process that holds it)
//   fd 5      exec only: a pidfd of the sandbox's init, verified by the daemon (no pid reuse)
//   fd 6      run only: the writable layer, a detached mount (runtime/scratch_disk.h
//             ScratchLayer) that the sandbox init attaches (MountOp kMoveMount); the shim closes
//             its copy at once, so the daemon's fd and the sandbox's mount namespace are the only
//             references and the daemon decides where the layer's teardown runs
//   fd 7      run, when InitSpec::join_netns: the network namespace to run in (made and wired
//             by the pod network, net/pod_network.h) instead of a fresh one holding only lo
// asb-init writes newline-terminated JSON messages on fd 4:
//   {"shim_pid":N,"shim_start":T,"init_pid":M,"init_start":U}   once the sandbox init exists
//   {"step":"pivot_root","errno":1}                               when a setup step failed
// and the daemon reads until EOF: every holder closes the socket on exit or on a successful
// execve (O_CLOEXEC), so EOF without an error message means the workload is running.
// See init/init.cc for the process layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"
#include "runtime/native/mount_plan.h"
#include "runtime/runtime.h"

namespace asb::runtime::native {

inline constexpr int kInitSpecFd = 3;
inline constexpr int kInitSyncFd = 4;
inline constexpr int kInitPidFd = 5;
inline constexpr int kInitLayerFd = 6;
inline constexpr int kInitNetnsFd = 7;

struct InitSpec {
  std::string mode;  // "run" | "exec"
  std::string hostname;
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to join before anything else
  std::vector<MountOp> mounts;            // run: applied in a fresh mount namespace
  std::string root_dir;                   // run: pivot_root target
  std::string uid_map;                    // run: "0 100000 65536"
  std::string gid_map;
  ProcessSpec process;      // uid/gid are ids inside the user namespace
  std::string seccomp_bpf;  // raw struct sock_filter[] (hex-encoded in JSON)
  std::string exit_file;    // run: the shim writes {"exit_code","signal","finished_at"} here
  // run: the sandbox's stdout/stderr reach the shim through pipes and the shim writes them to
  // its fd 1, open on log_path, as a CappedLog (init/capped_log.h: CRI format, rotated to
  // log_path.1, both together at most log_limit_bytes; 0 = no cap), so a sandbox cannot fill the
  // host disk through its output.
  std::string log_path;
  int64_t log_limit_bytes = 0;
  // run: join the network namespace on fd 7 (its lo is up; the sandbox holds no capability
  // over it, so it cannot change its own address or routes) instead of unsharing one.
  bool join_netns = false;
};

Json InitSpecToJson(const InitSpec& spec);
[[nodiscard]] Result<InitSpec> InitSpecFromJson(const Json& j);

// One message from asb-init on the sync socket.
struct InitMessage {
  int64_t shim_pid = 0;
  uint64_t shim_start = 0;
  int64_t init_pid = 0;
  uint64_t init_start = 0;
  std::string step;  // non-empty on failure
  int err = 0;
};
[[nodiscard]] Result<InitMessage> ParseInitMessage(std::string_view line);

// Writes path.tmp and renames it over path, without fsync: runtime state describes live
// processes and is worthless after a machine crash, while rename alone already protects
// readers from a daemon crash mid-write (and fsync cost ~20 ms per start on a busy disk).
[[nodiscard]] Status WriteStateFile(const std::string& path, std::string_view data, int mode);

std::string HexEncode(std::string_view bytes);
[[nodiscard]] Result<std::string> HexDecode(std::string_view hex);

}  // namespace asb::runtime::native
