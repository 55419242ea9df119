// Running a helper program to completion from the daemon (the runsc CLI, for one): stdin from
// /dev/null, stdout and stderr captured up to a cap, SIGKILL at a deadline. Built on
// sys::SpawnChild, so the child is a new session that inherits no daemon fd.
//
// Syscalls: pipe2, posix_spawn, pidfd_open, poll, read, waitid. Thread-safe (no shared state).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/process.h"

namespace asb::sys {

struct CommandResult : ExitStatus {
  bool timed_out = false;  // killed by us at the deadline
  std::string out;         // stdout, truncated to max_output
  std::string err;         // stderr, truncated to max_output
};

// Runs argv (argv[0] is a path or a name on PATH) in this process's environment, collects
// stdout/stderr and SIGKILLs it at `timeout` (then timed_out is set). Errors: kNotFound (no such
// program), kInternal (spawn failed). A non-zero exit is not an error: look at the result.
[[nodiscard]] Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                               std::chrono::milliseconds timeout,
                                               size_t max_output = 16 << 20);

}  // namespace asb::sys
