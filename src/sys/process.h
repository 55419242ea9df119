// Process primitives: spawning a fresh binary from a multi-threaded daemon (posix_spawn, never
// fork-and-continue), pidfds, and pid identity that survives pid reuse (pid + start time, as
// crun's status.h stores it).
//
// Syscalls: posix_spawn, pidfd_open, pidfd_send_signal, waitpid, poll.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::sys {

struct SpawnOptions {
  std::string path;               // absolute path of the binary
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "K=V"; the child sees exactly these
  // (source fd in this process, fd number in the child). Every other fd that is not
  // O_CLOEXEC in the parent is inherited too, so binaries spawned this way close stray fds.
  std::vector<std::pair<int, int>> fds;
  bool new_session = true;  // setsid(): keeps the child out of the daemon's process group
};

// Starts `options.path` with posix_spawn (vfork+exec: safe in a multi-threaded process) with
// default signal dispositions and an empty signal mask. Returns the child's pid; the caller
// must reap it (WaitPid). Errors: kNotFound (no binary), kInternal.
[[nodiscard]] Result<pid_t> Spawn(const SpawnOptions& options);

// waitpid(pid) retrying EINTR; returns the raw wait status.
[[nodiscard]] Result<int> WaitPid(pid_t pid);

// Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22). kNotFound when
// the process is gone.
[[nodiscard]] Result<uint64_t> ProcStartTime(pid_t pid);

// pidfd_open(2). kNotFound when the process is gone.
[[nodiscard]] Result<UniqueFd> PidfdOpen(pid_t pid);
// pidfd_open, then checks the start time so the fd is known to name the process that was
// recorded (not a later process that reused the pid). kNotFound otherwise.
[[nodiscard]] Result<UniqueFd> PidfdOpenVerified(pid_t pid, uint64_t start_time);
// Sends `sig` through a pidfd. OK if the process already exited.
[[nodiscard]] Status PidfdSignal(int pidfd, int sig);
// True once the process behind `pidfd` has exited (the pidfd polls readable).
bool PidfdExited(int pidfd);
// Waits up to `timeout` for the process to exit; returns whether it did.
bool PidfdWaitExit(int pidfd, std::chrono::milliseconds timeout);

}  // namespace asb::sys
