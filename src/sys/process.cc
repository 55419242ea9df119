#include "sys/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/file_util.h"
#include "base/strings.h"

extern char** environ;

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
  // After the dup2s, so the targets survive; the lifted copies are O_CLOEXEC anyway.
  posix_spawn_file_actions_addclosefrom_np(&actions, max_target + 1);
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
  // posix_spawnp searches PATH only for a name without '/'; a path is used as it is.
  int rc = ::posix_spawnp(&pid, options.path.c_str(), &actions, &attr, argv.data(),
                          options.inherit_env ? environ : envp.data());
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

Result<ExitStatus> Child::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return status_;
  if (pid_ <= 0) return MakeError(Code::kFailedPrecondition, "wait: no child");
  if (!PidfdWaitExit(pidfd_.get(), timeout)) {
    return MakeError(Code::kDeadlineExceeded, "child still running");
  }
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED) != 0) {
    if (errno != EINTR) return ErrnoUnexpected("waitid");
  }
  if (info.si_code == CLD_EXITED) {
    status_ = {.exit_code = info.si_status, .term_signal = 0};
  } else {
    status_ = {.exit_code = 128 + info.si_status, .term_signal = info.si_status};
  }
  reaped_ = true;
  pidfd_.Reset();
  return status_;
}

void Child::Signal(int sig) {
  if (reaped_ || !pidfd_) return;
  (void)PidfdSignal(pidfd_.get(), sig);
}

Result<Child> SpawnChild(const SpawnOptions& options) {
  ASB_ASSIGN_OR_RETURN(pid_t pid, Spawn(options));
  auto pidfd = PidfdOpen(pid);
  if (!pidfd) {
    // Cannot happen for our own unreaped child unless pidfds are unsupported (< Linux 5.3).
    ::kill(pid, SIGKILL);
    (void)WaitPid(pid);
    return tl::unexpected(pidfd.error());
  }
  return Child(pid, std::move(*pidfd));
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

namespace {
std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    auto pid = ParseInt(entry.path().filename().string());
    if (!pid || *pid <= 0 || *pid == ::getpid()) continue;
    auto cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (cmdline && cmdline->find(needle) != std::string::npos)
      out.push_back(static_cast<pid_t>(*pid));
  }
  return out;
}
}  // namespace

int KillProcessesMentioning(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<pid_t> pids = ProcessesMentioning(needle);
    if (pids.empty()) return 0;
    if (std::chrono::steady_clock::now() >= deadline) return static_cast<int>(pids.size());
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    // Killed processes vanish once their parent reaps them; look again shortly.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace asb::sys
