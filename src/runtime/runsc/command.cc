#include "runtime/runsc/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "base/file_util.h"

extern char** environ;

namespace asb::runtime::runsc {
namespace {

using Clock = std::chrono::steady_clock;

UniqueFd PidfdOpen(pid_t pid) {
  return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

// Spawns argv with stdin=/dev/null, stdout->out_fd, stderr->err_fd, all other fds closed.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd, int err_fd, bool setsid) {
  if (argv.empty()) return MakeError(Code::kInvalidArgument, "spawn: empty argv");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (setsid) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    Error e = ErrnoError(rc, "spawn " + argv[0]);
    return tl::unexpected(e);
  }
  return pid;
}

void FillStatus(const siginfo_t& info, CommandResult* r) {
  if (info.si_code == CLD_EXITED) {
    r->exit_code = info.si_status;
    r->term_signal = 0;
  } else {
    r->exit_code = 128 + info.si_status;
    r->term_signal = info.si_status;
  }
}

}  // namespace

Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout, size_t max_output) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  ASB_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, out_w.get(), err_w.get(), /*setsid=*/true));
  out_w.Reset();
  err_w.Reset();
  Child child(pid, PidfdOpen(pid));

  CommandResult result;
  const Clock::time_point deadline = Clock::now() + timeout;
  bool out_open = true, err_open = true;
  char buf[16384];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
    if (!out_open) fds[0].fd = -1;
    if (!err_open) fds[1].fd = -1;
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      child.Signal(SIGKILL);
      (void)child.Wait(std::chrono::seconds(5));
      return ErrnoUnexpected("poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      std::string& dst = i == 0 ? result.out : result.err;
      size_t room = max_output > dst.size() ? max_output - dst.size() : 0;
      dst.append(buf, std::min<size_t>(room, static_cast<size_t>(got)));
    }
  }
  if (result.timed_out) child.Signal(SIGKILL);
  // The pipes may close before exit (or a grandchild may hold them); bound the wait anyway.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() < 0 || result.timed_out) left = std::chrono::milliseconds(5000);
  auto st = child.Wait(left);
  if (!st) {
    child.Signal(SIGKILL);
    result.timed_out = true;
    st = child.Wait(std::chrono::seconds(5));
    if (!st) return tl::unexpected(st.error());
  }
  result.exit_code = st->exit_code;
  result.term_signal = st->term_signal;
  return result;
}

Result<Child> SpawnChild(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  ASB_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, out_fd, err_fd, /*setsid=*/true));
  UniqueFd pidfd = PidfdOpen(pid);
  if (!pidfd) {
    // Cannot happen for our own unreaped child unless pidfd is unsupported (< Linux 5.3).
    Error e = ErrnoError(errno, "pidfd_open");
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return tl::unexpected(e);
  }
  return Child(pid, std::move(pidfd));
}

Result<CommandResult> Child::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return status_;
  if (pid_ <= 0) return MakeError(Code::kFailedPrecondition, "wait: no child");
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{pidfd_.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoUnexpected("poll pidfd");
    if (n == 0) return MakeError(Code::kDeadlineExceeded, "child still running");
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED) != 0) {
      if (errno == EINTR) continue;
      return ErrnoUnexpected("waitid");
    }
    FillStatus(info, &status_);
    reaped_ = true;
    pidfd_.Reset();
    return status_;
  }
}

void Child::Signal(int sig) {
  if (reaped_ || !pidfd_) return;
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
}

namespace {
std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == ::getpid()) continue;
    auto cmdline = ReadFile("/proc/" + name + "/cmdline");
    if (cmdline && cmdline->find(needle) != std::string::npos) out.push_back(pid);
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
    // Killed processes vanish once reaped by their parent; look again shortly.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace asb::runtime::runsc
