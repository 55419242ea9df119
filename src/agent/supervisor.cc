#include "agent/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "agent/init.h"
#include "agent/spawn_setup.h"
#include "base/log.h"

namespace asb::agent {

namespace {

[[noreturn]] void ExecWorkload(const std::vector<std::string>& workload) {
  // gVisor: into the commands' task group for good (never left: execvp or _exit follow).
  CommandTaskGroupScope group;
  if (group.error() != 0) {
    std::fprintf(stderr, "asb-agent: cannot enter the commands' task group: %s\n",
                 std::strerror(group.error()));
    _exit(127);
  }
  std::vector<char*> argv;
  for (const std::string& a : workload) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  std::fprintf(stderr, "asb-agent: execute %s: %s\n", argv[0], std::strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

}  // namespace

std::vector<std::string> TakeWorkload(std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] != "--") continue;
    std::vector<std::string> workload(args.begin() + static_cast<long>(i) + 1, args.end());
    args.resize(i);
    return workload;
  }
  return {};
}

std::optional<int> RunSupervisor(const std::vector<std::string>& workload) {
  // Caught and blocked before the forks, as agent/init.cc does for its server.
  ForwardedSignals signals;
  pid_t work = ::fork();
  if (work < 0) {
    std::fprintf(stderr, "asb-agent: fork: %s\n", std::strerror(errno));
    return 127;
  }
  if (work == 0) {
    signals.Restore();
    ExecWorkload(workload);
  }
  pid_t server = ::fork();
  if (server == 0) {
    signals.Restore();
    // Exec runs where the container does: the files API's base is its working directory
    // (the default /app is rarely there, and a non-root USER cannot make it).
    if (std::getenv("SANDBOX_BASE_DIR") == nullptr) {
      char cwd[4096];
      if (::getcwd(cwd, sizeof(cwd)) != nullptr) ::setenv("SANDBOX_BASE_DIR", cwd, 1);
    }
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::close(null);
    }
    return std::nullopt;
  }
  // No server (fork failed): the workload runs on without exec, as it would without asb.
  while (true) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&signals.set(), &info);
    if (sig < 0) continue;  // EINTR
    if (sig != SIGCHLD) {
      ::kill(work, sig);
      continue;
    }
    auto exited = ReapExited([&](pid_t pid, int status) -> std::optional<int> {
      if (pid == work) {
        if (server > 0) ::kill(server, SIGKILL);
        return ExitCodeOf(status);
      }
      if (pid == server) {
        // Its own output went to /dev/null: say it in the container's log, once.
        std::fprintf(stderr,
                     "asb-agent: the exec server exited (status %d): kubectl exec and run() "
                     "are unavailable in this pod\n",
                     ExitCodeOf(status));
        server = -1;
      }
      return std::nullopt;
    });
    if (exited) return *exited;
  }
}

}  // namespace asb::agent
