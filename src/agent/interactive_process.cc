#include "agent/interactive_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
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

#include "agent/spawn_setup.h"
#include "base/cleanup.h"

extern char** environ;

namespace asb::agent {

namespace {

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

// $PATH lookup done before fork (the child may only make async-signal-safe calls).
std::string ResolveProgram(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

// Starts argv on the pty `slave_path` as its controlling terminal. fork + execve rather than
// posix_spawn: the child must call ioctl(TIOCSCTTY) after setsid, which posix_spawn can't do,
// and gVisor does not make a terminal opened by a session leader its controlling terminal
// implicitly (Linux does). Between fork and execve the child makes only async-signal-safe
// calls; an exec failure's errno comes back over a CLOEXEC pipe.
Result<pid_t> ForkOnPty(const std::string& program, const std::vector<std::string>& argv,
                        const std::vector<std::string>& env, const std::string& slave_path,
                        const std::string& cwd) {
  std::vector<char*> cargv, cenv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const std::string& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  if (env.empty()) cenv = {};
  char** envp = env.empty() ? environ : cenv.data();
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  UniqueFd report_r(report[0]), report_w(report[1]);
  sigset_t all, old;
  sigfillset(&all);
  // No signal handler may run in the child before its dispositions are reset.
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  CommandTaskGroupScope group;  // the command starts in the commands' task group (gVisor)
  if (group.error() != 0) {
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return tl::unexpected(ErrnoError(group.error(), "join the commands' task group"));
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    int err = 0;
    for (int sig = 1; sig < NSIG; ++sig) {
      struct sigaction sa {};
      sa.sa_handler = SIG_DFL;
      ::sigaction(sig, &sa, nullptr);
    }
    if (::setsid() < 0) err = errno;
    int tty = err ? -1 : ::open(slave_path.c_str(), O_RDWR);
    if (!err && tty < 0) err = errno;
    if (!err) ::ioctl(tty, TIOCSCTTY, 0);  // EPERM when open already made it ours (Linux)
    for (int fd = 0; !err && fd < 3; ++fd)
      if (::dup2(tty, fd) < 0) err = errno;
    if (!err && tty > 2) ::close(tty);
    if (!err && ::chdir(cwd.c_str()) != 0) err = errno;
    if (!err) {
      ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execve(program.c_str(), cargv.data(), envp);
      err = errno;
    }
    ssize_t ignored = ::write(report_w.get(), &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return tl::unexpected(ErrnoError(fork_errno, "fork"));
  report_w.Reset();
  int child_err = 0;
  ssize_t n;
  while ((n = ::read(report_r.get(), &child_err, sizeof(child_err))) < 0 && errno == EINTR) {
  }
  if (n == sizeof(child_err)) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    Error e = ErrnoError(child_err, "exec");
    e.message = "exec \"" + argv[0] + "\": " + std::strerror(child_err);
    return tl::unexpected(e);
  }
  return pid;
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
    if (o.with_stdin) p->input_.Reset(::fcntl(p->master_.get(), F_DUPFD_CLOEXEC, 0));
    std::string program = ResolveProgram(o.argv[0], o.env);
    if (program.empty()) {
      Error e = ErrnoError(ENOENT, "exec");
      e.message = "exec \"" + o.argv[0] + "\": " + std::strerror(ENOENT);
      return tl::unexpected(e);
    }
    ASB_ASSIGN_OR_RETURN(p->pid_, ForkOnPty(program, o.argv, o.env, slave_path, o.cwd));
    ::fcntl(p->master_.get(), F_SETFL, ::fcntl(p->master_.get(), F_GETFL) | O_NONBLOCK);
    return p;
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
  AddCloseInheritedFds(&actions);  // Security: no agent fd reaches the child

  const CommandSpawnAttr attr;  // new session, default signals, empty mask

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
  int rc;
  {
    CommandTaskGroupScope group;  // the command starts in the commands' task group (gVisor)
    rc = group.error() != 0
             ? group.error()
             : ::posix_spawnp(&p->pid_, cargv[0], &actions, attr.get(), cargv.data(), envp);
  }
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
  killed_ = true;
}

int InteractiveProcess::Reaped(pid_t got, int status) {
  int code;
  bool empty_group;
  {
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
    code = exit_code_;
    empty_group = killed_;
  }
  // The leader is reaped now, so the group empties once every member is dead and reaped. Not
  // under mu_: this may take up to its budget, and Kill()/TryWait() must not wait for it.
  if (empty_group) KillProcessGroupUntilGone(pid_);
  return code;
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
