// Minimal init for when asb-agent is pid 1 of a sandbox's pid namespace.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <optional>

namespace asb::agent {

// The signals a pid 1 of asb-agent (this init, or the supervisor of an image's own process)
// forwards: SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2. The constructor gives
// each a handler, because a signal sent to pid 1 with SIG_DFL may be discarded at send time
// (Linux queues it while blocked, gVisor drops it: runsc kill SIGTERM then did nothing), and
// blocks them, so none slips in before sigwaitinfo(set()). Construct before forking; a child
// calls Restore() (default dispositions, the old mask) before it runs anything else.
class ForwardedSignals {
 public:
  ForwardedSignals();
  const sigset_t& set() const { return set_; }
  void Restore() const;

 private:
  sigset_t set_;
  sigset_t old_;
};

// A waitpid status as a process exit code: the code, or 128+signal (shell convention).
int ExitCodeOf(int status);

// Reaps every child that has exited (one SIGCHLD can stand for many), calling on_exit(pid,
// status) for each. Stops at the first exit on_exit answers with a value and returns it;
// nullopt once no exited child is left. The two pid 1 loops (this init, the supervisor) share it.
std::optional<int> ReapExited(const std::function<std::optional<int>(pid_t, int)>& on_exit);

// If the calling process is pid 1, forks. The child returns nullopt and goes on to run the
// server. The parent becomes a minimal init and returns only when the child has exited, with
// the exit code main() should return (the child's exit status, or 128+signal).
//
// Why: inside a sandbox the agent is the first process of a new pid namespace, and pid 1 has two
// jobs no ordinary server does. (1) Orphans are reparented to it: every background process a
// command leaves behind (`sh -c "sleep 1 &"`) becomes a zombie when it exits unless pid 1 reaps
// it, and zombies would pile up for the sandbox's lifetime. The server can't simply reap with
// waitpid(-1) because that would steal exit statuses from ExecService's own waitpid(pid). (2) The
// kernel drops signals without a handler for pid 1, so a plain SIGTERM from the runtime would be
// ignored; the init forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the server.
//
// Must be called first thing in main(), while the process is single-threaded (it forks).
// Returns nullopt without forking when not pid 1, or if fork fails (the server then runs as
// pid 1 directly).
std::optional<int> RunInitIfPid1();

}  // namespace asb::agent
