// A child process wired for an interactive session (kubectl exec): either one pseudo-terminal
// as its controlling terminal (tty) or separate pipes for stdin, stdout and stderr.
//
// The child runs in its own session and process group (Kill reaches everything it started),
// with default signal dispositions, an empty signal mask and no inherited fds beyond 0-2, like
// ExecService's commands.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::agent {

struct InteractiveOptions {
  std::vector<std::string> argv;  // argv[0] searched in $PATH unless it has a '/'
  std::vector<std::string> env;   // "K=V"; empty = the agent's environment
  std::string cwd = "/";
  bool tty = false;         // one pty for 0, 1 and 2 (stderr is merged into stdout)
  bool with_stdin = false;  // without: stdin is /dev/null (or an empty pipe)
  bool with_stdout = true;  // without: /dev/null
  bool with_stderr = true;  // without: /dev/null; ignored with tty
  uint16_t cols = 0;        // initial window size with tty (0 = leave the default)
  uint16_t rows = 0;
};

class InteractiveProcess {
 public:
  // Starts the child. Errors: the spawn's errno (kNotFound for a missing program, with the
  // message "exec \"x\": No such file or directory"), kInvalidArgument for an empty argv.
  [[nodiscard]] static Result<std::unique_ptr<InteractiveProcess>> Spawn(
      const InteractiveOptions& options);
  ~InteractiveProcess();  // kills and reaps the child if still running
  InteractiveProcess(const InteractiveProcess&) = delete;
  InteractiveProcess& operator=(const InteractiveProcess&) = delete;

  // Where to write the child's input (the pty master with tty), -1 without stdin.
  int input_fd() const { return input_.get(); }
  // The child's output (the pty master with tty), -1 when not requested. Non-blocking.
  int output_fd() const { return tty_ ? master_.get() : stdout_.get(); }
  int error_fd() const { return stderr_.get(); }
  bool tty() const { return tty_; }

  // Closes the child's stdin (pipes only: a pty has no separate input side).
  void CloseInput();
  // Sets the terminal window size (tty only; otherwise a no-op).
  void Resize(uint16_t cols, uint16_t rows);
  // SIGKILLs the child's process group, unless the child was already reaped. Thread-safe.
  void Kill();
  // The exit code if the child has exited (reaps it), nullopt while it runs.
  std::optional<int> TryWait();
  // The child's pid (for a pidfd), -1 after a failed spawn.
  pid_t pid() const { return pid_; }
  // Blocks until the child exits; returns its exit code (128+N when killed by signal N).
  int Wait();

 private:
  InteractiveProcess() = default;

  bool tty_ = false;
  pid_t pid_ = -1;
  UniqueFd master_;  // tty
  UniqueFd input_;   // dup of master_ with tty, else the stdin pipe's write end
  UniqueFd stdout_;  // pipes
  UniqueFd stderr_;
  std::mutex mu_;
  bool reaped_ = false;  // guarded by mu_: after waitpid the pid may be reused
  bool killed_ = false;  // guarded by mu_: Kill() ran, so the group is emptied at reaping
  int exit_code_ = 0;
  // Records a waitpid result under mu_.
  int Reaped(pid_t got, int status);
};

}  // namespace asb::agent
