#include "agent/exec_service.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/shlex.h"
#include "agent/spawn_setup.h"
#include "base/cleanup.h"
#include "base/unique_fd.h"

extern char** environ;

namespace asb::agent {

namespace {

using Clock = std::chrono::steady_clock;

// Python prints the timeout as given: 300 -> "300", 2.5 -> "2.5".
std::string FormatSeconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

std::string StrError(int err) {
  char buf[128];
  return strerror_r(err, buf, sizeof(buf));
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return 1;
}

// Reads what is available, keeping at most `cap` bytes in `out` (the rest is discarded and
// sets *truncated); returns false at EOF or on a hard error (the fd is then done).
bool Drain(int fd, std::string& out, size_t cap, bool* truncated) {
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      size_t keep = std::min(static_cast<size_t>(n), cap - std::min(cap, out.size()));
      out.append(buf, keep);
      if (keep < static_cast<size_t>(n)) *truncated = true;
      if (static_cast<size_t>(n) < sizeof(buf)) return true;
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return true;
    return false;
  }
}

}  // namespace

std::string TranslateNewlines(std::string text) {
  if (text.find('\r') == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

Result<ExecResult> ExecService::Run(const std::vector<std::string>& argv,
                                    std::optional<std::chrono::milliseconds> timeout) const {
  if (argv.empty()) return MakeError(Code::kInvalidArgument, "list index out of range");
  const std::chrono::milliseconds limit = timeout.value_or(default_timeout_);
  const Clock::time_point deadline = Clock::now() + limit;
  auto timed_out = [&] {
    return MakeError(Code::kDeadlineExceeded, "Command '" + PyRepr(argv) + "' timed out after " +
                                                  FormatSeconds(limit) + " seconds");
  };
  {
    std::unique_lock lock(mu_);
    if (!slot_freed_.wait_until(lock, deadline, [&] { return running_ < max_concurrent_; })) {
      return timed_out();
    }
    ++running_;
  }
  Cleanup release_slot([&] {
    {
      std::lock_guard lock(mu_);
      --running_;
    }
    slot_freed_.notify_one();
  });

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoUnexpected("pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoUnexpected("pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  // The child's ends must block: programs don't expect EAGAIN on stdout.
  ::fcntl(out_w.get(), F_SETFL, 0);
  ::fcntl(err_w.get(), F_SETFL, 0);

  // posix_spawn, not fork: the agent is multithreaded, and glibc's posix_spawn uses
  // clone(CLONE_VM | CLONE_VFORK) and runs only async-signal-safe steps in the child.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  Cleanup destroy_actions([&] { posix_spawn_file_actions_destroy(&actions); });
  // stdin: /dev/null, or where a bare rootfs has no /dev, an empty pipe (reads give EOF just the
  // same). Opening /dev/null in the child instead would fail the spawn with a misleading ENOENT.
  UniqueFd stdin_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!stdin_fd) {
    int in_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
    stdin_fd.Reset(in_pipe[0]);
    ::close(in_pipe[1]);
  }
  posix_spawn_file_actions_adddup2(&actions, stdin_fd.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  posix_spawn_file_actions_addchdir_np(&actions, cwd_.c_str());
  AddCloseInheritedFds(&actions);  // Security: no agent fd reaches the child

  const CommandSpawnAttr attr;  // new session, default signals, empty mask

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  pid_t pid = -1;
  int rc;
  {
    CommandTaskGroupScope group;  // the command starts in the commands' task group (gVisor)
    rc = group.error() != 0
             ? group.error()
             : ::posix_spawnp(&pid, cargv[0], &actions, attr.get(), cargv.data(), environ);
  }
  if (rc != 0) {
    Error e = ErrnoError(rc, "spawn");
    e.message = "[Errno " + std::to_string(rc) + "] " + StrError(rc) + ": " + PyRepr(argv[0]);
    return tl::unexpected(e);
  }
  stdin_fd.Reset();
  out_w.Reset();
  err_w.Reset();

  // A pidfd makes the child's exit pollable next to the pipes; without one (gVisor, old
  // kernels) we fall back to waitpid(WNOHANG) with short sleeps once the pipes are closed.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ExecResult result;
  bool out_open = true, err_open = true, exited = false;
  int status = 0;
  auto try_reap = [&] {
    if (::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  };
  std::chrono::microseconds backoff(50);
  while (out_open || err_open || !exited) {
    if (!exited && !pidfd && !out_open && !err_open) {
      try_reap();
      if (exited) break;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) {
      // Security: kill the whole group, including grandchildren that outlived the leader.
      ::kill(-pid, SIGKILL);
      if (!exited) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
      KillProcessGroupUntilGone(pid);
      return timed_out();
    }
    pollfd fds[3];
    int n = 0;
    int out_idx = -1, err_idx = -1, pid_idx = -1;
    if (out_open) {
      out_idx = n;
      fds[n++] = {out_r.get(), POLLIN, 0};
    }
    if (err_open) {
      err_idx = n;
      fds[n++] = {err_r.get(), POLLIN, 0};
    }
    if (!exited && pidfd) {
      pid_idx = n;
      fds[n++] = {pidfd.get(), POLLIN, 0};
    }
    int wait_ms = static_cast<int>(std::min<int64_t>(remaining.count() + 1, 1 << 30));
    if (!exited && !pidfd) {
      if (n == 0) {
        // Pipes are closed but the child still runs: back off up to 10 ms per check.
        ::usleep(static_cast<useconds_t>(backoff.count()));
        backoff = std::min(backoff * 2, std::chrono::microseconds(10000));
        continue;
      }
      wait_ms = std::min(wait_ms, 50);
    }
    int ready = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      Error e = ErrnoError(errno, "poll");
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      KillProcessGroupUntilGone(pid);
      return tl::unexpected(e);
    }
    if (out_idx >= 0 && fds[out_idx].revents)
      out_open =
          Drain(out_r.get(), result.stdout_data, max_output_bytes_, &result.stdout_truncated);
    if (err_idx >= 0 && fds[err_idx].revents)
      err_open =
          Drain(err_r.get(), result.stderr_data, max_output_bytes_, &result.stderr_truncated);
    if (pid_idx >= 0 && fds[pid_idx].revents) try_reap();
  }
  result.exit_code = DecodeStatus(status);
  return result;
}

std::vector<std::chrono::microseconds> ExecService::WarmUp(const std::vector<std::string>& argv,
                                                           int runs) const {
  std::vector<std::chrono::microseconds> took;
  for (int i = 0; i < runs; ++i) {
    const Clock::time_point t0 = Clock::now();
    (void)Run(argv, std::chrono::seconds(2));
    took.push_back(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0));
  }
  return took;
}

ExecResult ExecService::RunCommand(std::string_view command,
                                   std::optional<std::chrono::milliseconds> timeout) const {
  auto fail = [](const std::string& reason) {
    ExecResult r;
    r.stderr_data = "Failed to execute command: " + reason;
    r.exit_code = 1;
    return r;
  };
  auto argv = ShlexSplit(command);
  if (!argv) return fail(argv.error().message);
  auto result = Run(*argv, timeout);
  if (!result) {
    ExecResult r = fail(result.error().message);
    r.timed_out = result.error().code == Code::kDeadlineExceeded;
    return r;
  }
  result->stdout_data = TranslateNewlines(std::move(result->stdout_data));
  result->stderr_data = TranslateNewlines(std::move(result->stderr_data));
  return std::move(*result);
}

}  // namespace asb::agent
