// Child processes for driving the runsc CLI: run-to-completion with captured output and a
// deadline, or spawn-and-keep (the `runsc run` that stays the parent of the sandbox).
//
// Uses posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) + exec), which is safe from a
// multithreaded daemon, and closes every inherited fd above stderr in the child
// (posix_spawn_file_actions_addclosefrom_np), so sandboxes never inherit daemon sockets.
// Syscalls: posix_spawn, pidfd_open, poll, waitid, kill. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::runtime::runsc {

struct CommandResult {
  int exit_code = -1;      // valid when term_signal == 0
  int term_signal = 0;     // signal that killed the child, 0 if it exited
  bool timed_out = false;  // killed by us at the deadline
  std::string out;         // stdout, truncated to max_output
  std::string err;         // stderr, truncated to max_output
};

// Runs argv (argv[0] is an absolute path or found on PATH) with stdin from /dev/null, collects
// stdout/stderr, and SIGKILLs it at `timeout`. Errors: kNotFound (no such program), kInternal
// (spawn failed). A non-zero exit is not an error: look at the result.
[[nodiscard]] Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                               std::chrono::milliseconds timeout,
                                               size_t max_output = 16 << 20);

// A spawned child owned through a pidfd. The destructor does not kill or reap: call Wait.
class Child {
 public:
  Child() = default;
  Child(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  Child(Child&&) = default;
  Child& operator=(Child&&) = default;

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool valid() const { return pid_ > 0; }
  // Waits up to `timeout` for the child to exit and reaps it. Returns the waitid status:
  // kDeadlineExceeded if still running. Reaps at most once; later calls return the same.
  [[nodiscard]] Result<CommandResult> Wait(std::chrono::milliseconds timeout);
  // Sends a signal through the pidfd (never hits a recycled pid). OK if already exited.
  void Signal(int sig);

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool reaped_ = false;
  CommandResult status_;
};

// Spawns argv in a new session with stdin=/dev/null, stdout to `out_fd` and stderr to `err_fd`
// (dup'ed).
[[nodiscard]] Result<Child> SpawnChild(const std::vector<std::string>& argv, int out_fd,
                                       int err_fd);

// SIGKILLs every process whose command line contains `needle` (a bundle directory), other than
// this one, until none is left or `timeout` passes; returns how many are left. Used for runsc
// processes this process doesn't own: ones an earlier asbd started and then died (kill -9)
// keep running, and one still half-way through `run` can bring a sandbox up after its bundle
// was torn down.
int KillProcessesMentioning(const std::string& needle, std::chrono::milliseconds timeout);

}  // namespace asb::runtime::runsc
