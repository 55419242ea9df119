// Process primitives: spawning a fresh binary from a multi-threaded daemon (posix_spawn, never
// fork-and-continue), children owned through pidfds, pid identity that survives pid reuse
// (pid + start time, as crun's status.h stores it), and killing processes by command line.
//
// Syscalls: posix_spawn, close_range (posix_spawn_file_actions_addclosefrom_np), pidfd_open,
// pidfd_send_signal, waitpid, waitid, poll, kill.
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
  // The binary: a path, or a bare name (no '/') looked up on this process's PATH.
  std::string path;
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "K=V"; the child sees exactly these...
  bool inherit_env = false;       // ...unless set: then it gets this process's environment
  // (source fd in this process, fd number in the child). Security: every other fd above 2 is
  // closed in the child, so it never inherits a daemon socket, even one opened without
  // O_CLOEXEC; 0-2 not listed here are inherited.
  std::vector<std::pair<int, int>> fds;
  bool new_session = true;  // setsid(): keeps the child out of the daemon's process group
};

// Starts `options.path` with posix_spawn (vfork+exec: safe in a multi-threaded process) with
// default signal dispositions and an empty signal mask. Returns the child's pid; the caller
// must reap it (WaitPid). Errors: kNotFound (no binary), kInternal.
[[nodiscard]] Result<pid_t> Spawn(const SpawnOptions& options);

// waitpid(pid) retrying EINTR; returns the raw wait status.
[[nodiscard]] Result<int> WaitPid(pid_t pid);

// How a child ended.
struct ExitStatus {
  int exit_code = -1;   // the exit code, or 128 + signal when killed (the shell's convention)
  int term_signal = 0;  // the signal that killed it, 0 if it exited
};

// A spawned child owned through a pidfd, so signals never reach a recycled pid. The destructor
// neither kills nor reaps: call Wait. Thread-compatible.
class Child {
 public:
  Child() = default;
  Child(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  Child(Child&&) = default;
  Child& operator=(Child&&) = default;

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool valid() const { return pid_ > 0; }
  // Waits up to `timeout` for the child to exit and reaps it. kDeadlineExceeded while it
  // runs. Reaps once; later calls return the same status.
  [[nodiscard]] Result<ExitStatus> Wait(std::chrono::milliseconds timeout);
  // Sends `sig` through the pidfd. A no-op once the child exited or was reaped.
  void Signal(int sig);

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool reaped_ = false;
  ExitStatus status_;
};

// Spawn, then pidfd_open: the child is owned from the start. Errors as Spawn.
[[nodiscard]] Result<Child> SpawnChild(const SpawnOptions& options);

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

// SIGKILLs every process whose command line contains `needle`, other than this one, until none
// is left or `timeout` passes; returns how many are left. For processes this one does not own
// (an earlier daemon's children that outlived it), found by a path only they carry. A process
// still inside execve (its new argv not yet set up) is not seen: call it for processes that
// have been running, not ones that may be starting at the same moment.
int KillProcessesMentioning(const std::string& needle, std::chrono::milliseconds timeout);

}  // namespace asb::sys
