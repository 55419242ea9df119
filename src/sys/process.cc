#include "sys/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/strings.h"

namespace asb::sys {

Result<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return MakeError(Code::kInvalidArgument, "spawn: empty argv");
  // Move every source fd above the target range first, so dup2(a, 3) cannot clobber a source
  // that happens to be fd 3, and so no dup2 has source == target (which would keep CLOEXEC).
  int max_target = 2;
  for (const auto& [src, dst] : options.fds) max_target = std::max(max_target, dst);
  std::vector<UniqueFd> lifted;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  struct Destroy {
    posix_spawn_file_actions_t* a;
    posix_spawnattr_t* b;
    ~Destroy() {
      posix_spawn_file_actions_destroy(a);
      posix_spawnattr_destroy(b);
    }
  } destroy{&actions, &attr};
  for (const auto& [src, dst] : options.fds) {
    int high = ::fcntl(src, F_DUPFD_CLOEXEC, max_target + 1);
    if (high < 0) return ErrnoUnexpected("spawn: dup fd");
    lifted.emplace_back(high);
    posix_spawn_file_actions_adddup2(&actions, high, dst);
  }
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);

  std::vector<char*> argv, envp;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, options.path.c_str(), &actions, &attr, argv.data(), envp.data());
  if (rc != 0) return tl::unexpected(ErrnoError(rc, "spawn " + options.path));
  return pid;
}

Result<int> WaitPid(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoUnexpected("waitpid");
  }
  return status;
}

Result<uint64_t> ProcStartTime(pid_t pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return MakeError(Code::kNotFound, "process " + std::to_string(pid) + " is gone");
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return MakeError(Code::kInternal, "malformed /proc stat");
  std::vector<std::string> fields = Split(std::string_view(*text).substr(close + 2), ' ');
  // fields[0] is field 3 (state); start time is field 22.
  if (fields.size() < 20) return MakeError(Code::kInternal, "short /proc stat");
  auto v = ParseInt(fields[19]);
  if (!v) return MakeError(Code::kInternal, "bad start time in /proc stat");
  return static_cast<uint64_t>(*v);
}

Result<UniqueFd> PidfdOpen(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH)
      return MakeError(Code::kNotFound, "process " + std::to_string(pid) + " is gone");
    return ErrnoUnexpected("pidfd_open");
  }
  return UniqueFd(fd);
}

Result<UniqueFd> PidfdOpenVerified(pid_t pid, uint64_t start_time) {
  ASB_ASSIGN_OR_RETURN(UniqueFd fd, PidfdOpen(pid));
  ASB_ASSIGN_OR_RETURN(uint64_t actual, ProcStartTime(pid));
  if (actual != start_time) {
    return MakeError(Code::kNotFound, "process " + std::to_string(pid) + " was replaced");
  }
  return fd;
}

Status PidfdSignal(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0 && errno != ESRCH) {
    return ErrnoUnexpected("pidfd_send_signal");
  }
  return {};
}

bool PidfdExited(int pidfd) { return PidfdWaitExit(pidfd, std::chrono::milliseconds(0)); }

bool PidfdWaitExit(int pidfd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pollfd p{pidfd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace asb::sys
