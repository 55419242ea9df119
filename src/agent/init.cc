#include "agent/init.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"

namespace asb::agent {

namespace {
constexpr int kForwardedSignals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
void Ignore(int) {}
bool IsStopSignal(int sig) { return sig == SIGTERM || sig == SIGINT || sig == SIGQUIT; }
}  // namespace

ForwardedSignals::ForwardedSignals() {
  sigemptyset(&set_);
  struct sigaction sa {};
  sa.sa_handler = Ignore;
  for (int sig : kForwardedSignals) {
    sigaddset(&set_, sig);
    ::sigaction(sig, &sa, nullptr);
  }
  // Blocked signals are queued even for pid 1 (the "no handler" drop applies only to unblocked
  // ones).
  ::sigprocmask(SIG_BLOCK, &set_, &old_);
}

void ForwardedSignals::Restore() const {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : kForwardedSignals) ::sigaction(sig, &dfl, nullptr);
  ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::optional<int> ReapExited(const std::function<std::optional<int>(pid_t, int)>& on_exit) {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return std::nullopt;
    if (auto code = on_exit(pid, status)) return code;
  }
}

std::optional<int> RunInitIfPid1() {
  if (::getpid() != 1) return std::nullopt;
  // Caught and blocked before fork, so no SIGCHLD or SIGTERM can slip in before sigwaitinfo.
  ForwardedSignals signals;
  pid_t child = ::fork();
  if (child < 0) {
    ASB_LOG(WARN, "pid 1: fork failed, running the server without an init", "errno", errno);
    signals.Restore();
    return std::nullopt;
  }
  if (child == 0) {
    signals.Restore();
    return std::nullopt;
  }
  // A stop signal sent from inside the sandbox (`kill 1` in a command: si_pid is a pid of this
  // namespace) is not the node stopping the pod; the node's signals come from outside, where
  // the sender has no pid here (si_pid 0). The server still exits on it, but the init then
  // reports death by that signal instead of the server's clean exit, so the pod's
  // restartPolicy (OnFailure in the templates) brings the runtime server back rather than
  // leaving a Succeeded pod that no one replaces.
  int killed_from_inside = 0;
  while (true) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&signals.set(), &info);
    if (sig < 0) continue;  // EINTR
    if (sig != SIGCHLD) {
      bool from_inside = info.si_code == SI_USER && info.si_pid > 0;
      if (IsStopSignal(sig)) killed_from_inside = from_inside ? sig : 0;
      ::kill(child, sig);
      continue;
    }
    auto exited = ReapExited([&](pid_t pid, int status) -> std::optional<int> {
      if (pid != child) return std::nullopt;  // an orphan: reaped, nothing else to do
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && killed_from_inside) {
        ASB_LOG(WARN, "pid 1: runtime server stopped by a signal from inside the sandbox", "signal",
                killed_from_inside);
        return 128 + killed_from_inside;
      }
      return ExitCodeOf(status);
    });
    if (exited) return *exited;
  }
}

}  // namespace asb::agent
