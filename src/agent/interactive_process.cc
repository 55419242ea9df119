#include "agent/interactive_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/cleanup.h"

extern char** environ;

namespace asb::agent {

namespace {

bool HaveCloseRange() {
  static const bool have =
      ::syscall(SYS_close_range, 0x7ffffff0u, 0x7ffffff0u, 0u) == 0 || errno != ENOSYS;
  return have;
}

Status MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  read_end.Reset(p[0]);
  write_end.Reset(p[1]);
  return {};
}

UniqueFd DevNull(int flags) {
  UniqueFd fd(::open("/dev/null", flags | O_CLOEXEC));
  if (fd) return fd;
  // A bare rootfs without /dev: an empty pipe reads as EOF; a drained one swallows writes.
  UniqueFd r, w;
  if (!MakePipe(r, w)) return fd;
  return (flags & O_ACCMODE) == O_RDONLY ? std::move(r) : std::move(w);
}

}  // namespace

Result<std::unique_ptr<InteractiveProcess>> InteractiveProcess::Spawn(const InteractiveOptions& o) {
  if (o.argv.empty()) return MakeError(Code::kInvalidArgument, "empty command");
  std::unique_ptr<InteractiveProcess> p(new InteractiveProcess());
  p->tty_ = o.tty;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  Cleanup destroy_actions([&] { posix_spawn_file_actions_destroy(&actions); });
  // Fds the child gets; closed here once it runs.
  UniqueFd child_in, child_out, child_err;
  std::string slave_path;
  if (o.tty) {
    p->master_.Reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p->master_) return ErrnoUnexpected("posix_openpt");
    if (::grantpt(p->master_.get()) != 0 || ::unlockpt(p->master_.get()) != 0)
      return ErrnoUnexpected("unlockpt");
    char name[128];
    if (::ptsname_r(p->master_.get(), name, sizeof(name)) != 0) return ErrnoUnexpected("ptsname");
    slave_path = name;
    if (o.cols > 0 && o.rows > 0) p->Resize(o.cols, o.rows);
    // The child opens the slave itself, after setsid: a session leader opening a terminal
    // without O_NOCTTY acquires it as its controlling terminal (job control, ^C).
    posix_spawn_file_actions_addopen(&actions, 0, slave_path.c_str(), O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&actions, 0, 1);
    posix_spawn_file_actions_adddup2(&actions, 0, 2);
    if (o.with_stdin) p->input_.Reset(::fcntl(p->master_.get(), F_DUPFD_CLOEXEC, 0));
  } else {
    if (o.with_stdin) {
      ASB_RETURN_IF_ERROR(MakePipe(child_in, p->input_));
    } else {
      child_in = DevNull(O_RDONLY);
    }
    if (o.with_stdout) {
      ASB_RETURN_IF_ERROR(MakePipe(p->stdout_, child_out));
    } else {
      child_out = DevNull(O_WRONLY);
    }
    if (o.with_stderr) {
      ASB_RETURN_IF_ERROR(MakePipe(p->stderr_, child_err));
    } else {
      child_err = DevNull(O_WRONLY);
    }
    posix_spawn_file_actions_adddup2(&actions, child_in.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, child_out.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, child_err.get(), 2);
  }
  posix_spawn_file_actions_addchdir_np(&actions, o.cwd.c_str());
  // Security: no agent fd (client sockets) reaches the child; see ExecService for the guard.
  if (HaveCloseRange()) posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  Cleanup destroy_attr([&] { posix_spawnattr_destroy(&attr); });
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);

  std::vector<char*> cargv;
  for (const std::string& a : o.argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  char** envp = environ;
  if (!o.env.empty()) {
    for (const std::string& e : o.env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    envp = cenv.data();
  }
  int rc = ::posix_spawnp(&p->pid_, cargv[0], &actions, &attr, cargv.data(), envp);
  if (rc != 0) {
    p->pid_ = -1;
    Error e = ErrnoError(rc, "spawn");
    e.message = "exec \"" + o.argv[0] + "\": " + std::strerror(rc);
    return tl::unexpected(e);
  }
  for (int fd : {p->stdout_.get(), p->stderr_.get(), p->master_.get()}) {
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  return p;
}

InteractiveProcess::~InteractiveProcess() {
  if (pid_ < 0) return;
  Kill();
  (void)Wait();
}

void InteractiveProcess::CloseInput() {
  if (!tty_) input_.Reset();
}

void InteractiveProcess::Resize(uint16_t cols, uint16_t rows) {
  if (!master_) return;
  winsize ws{};
  ws.ws_col = cols;
  ws.ws_row = rows;
  ::ioctl(master_.get(), TIOCSWINSZ, &ws);
}

void InteractiveProcess::Kill() {
  std::lock_guard l(mu_);
  if (reaped_ || pid_ < 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
}

int InteractiveProcess::Reaped(pid_t got, int status) {
  std::lock_guard l(mu_);
  if (reaped_) return exit_code_;
  reaped_ = true;
  if (got != pid_) {
    exit_code_ = 1;
  } else if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_code_ = 128 + WTERMSIG(status);
  } else {
    exit_code_ = 1;
  }
  return exit_code_;
}

std::optional<int> InteractiveProcess::TryWait() {
  {
    std::lock_guard l(mu_);
    if (reaped_) return exit_code_;
  }
  int status = 0;
  pid_t got = ::waitpid(pid_, &status, WNOHANG);
  if (got == 0 || (got < 0 && errno == EINTR)) return std::nullopt;
  return Reaped(got, status);
}

int InteractiveProcess::Wait() {
  {
    std::lock_guard l(mu_);
    if (reaped_) return exit_code_;
  }
  int status = 0;
  pid_t got;
  while ((got = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  return Reaped(got, status);
}

}  // namespace asb::agent
