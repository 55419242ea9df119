#include "init/init.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/clock.h"
#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "init/capped_log.h"
#include "init/gvisor_entry.h"
#include "runtime/native/init_spec.h"
#include "sys/caps.h"
#include "sys/disk.h"
#include "sys/net.h"
#include "sys/process.h"
#include "sys/seccomp.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace asb::init {
namespace {

using runtime::native::InitSpec;
using runtime::native::kInitLayerFd;
using runtime::native::kInitNetnsFd;
using runtime::native::kInitPidFd;
using runtime::native::kInitSpecFd;
using runtime::native::kInitSyncFd;
using runtime::native::MountOp;

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void Fail(const std::string& step, int err) {
  WriteAll(kInitSyncFd, DumpJson(Json{{"step", step}, {"errno", err}}) + "\n");
  ::_exit(127);
}

void JoinCgroups(const InitSpec& s) {
  for (const std::string& f : s.cgroup_procs) {
    int fd = ::open(f.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) Fail("cgroup " + f, errno);
    ::close(fd);
  }
}

// Below `root` (the sandbox's future /), no component may be a symlink: the image owns those
// paths, and following one of its links here, before pivot_root, would create or chown a
// directory on the host (`/app -> /etc` with workingDir /app/x). Such a path fails with ELOOP.
// Above `root` the paths are asbd's own.
int MkdirAll(const std::string& path, const std::string& root) {
  const bool in_root = !root.empty() && path.size() > root.size() &&
                       path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
  std::string cur;
  for (const std::string& part : Split(path, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return errno;
    if (in_root && cur.size() > root.size()) {
      struct stat st {};
      if (::lstat(cur.c_str(), &st) != 0) return errno;
      if (S_ISLNK(st.st_mode)) return ELOOP;
      if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    }
  }
  return 0;
}

bool WriteProcFile(pid_t pid, const char* name, const std::string& value);

// A user namespace holding the sandbox's uid/gid maps, for idmapped mounts (mount_setattr wants
// a namespace fd, not a map): a child is cloned into a new one, this process (root in the
// parent namespace) writes its maps, keeps a reference and lets the child go.
int MappedUserns(const InitSpec& s) {
  pid_t pid = static_cast<pid_t>(
      ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0));
  if (pid < 0) Fail("clone a user namespace for idmapped layers", errno);
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  if (!WriteProcFile(pid, "gid_map", s.gid_map)) Fail("write the layers' gid_map", errno);
  if (!WriteProcFile(pid, "uid_map", s.uid_map)) Fail("write the layers' uid_map", errno);
  int fd = ::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
  int err = errno;
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (fd < 0) Fail("open the layers' user namespace", err);
  return fd;
}

// `userns`: the fd kIdmapBind maps through (MappedUserns), -1 when no op needs one.
void ApplyMountOp(const MountOp& op, const std::string& root, int userns) {
  switch (op.kind) {
    case MountOp::Kind::kIdmapBind: {
      int tree = ::open_tree(AT_FDCWD, op.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (tree < 0) Fail("open_tree " + op.source, errno);
      struct mount_attr attr {};
      attr.attr_set = MOUNT_ATTR_IDMAP;
      attr.userns_fd = static_cast<uint64_t>(userns);
      if (::mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0) {
        Fail("idmap the image layer " + op.source, errno);
      }
      if (Status st = sys::MoveMount(tree, op.target); !st) {
        Fail("attach the image layer on " + op.target, st.error().sys_errno);
      }
      ::close(tree);
      return;
    }
    case MountOp::Kind::kMount:
      if (::mount(op.source.empty() ? nullptr : op.source.c_str(), op.target.c_str(),
                  op.fstype.empty() ? nullptr : op.fstype.c_str(), op.flags,
                  op.data.empty() ? nullptr : op.data.c_str()) != 0) {
        Fail("mount " + (op.fstype.empty() ? op.source : op.fstype) + " on " + op.target, errno);
      }
      return;
    case MountOp::Kind::kMkdir:
      if (int e = MkdirAll(op.target, root)) {
        Fail("mkdir " + op.target +
                 (e == ELOOP ? " (a symlink in the image on this path is not followed)" : ""),
             e);
      }
      if (op.mode != 0 && ::chmod(op.target.c_str(), op.mode) != 0) {
        Fail("chmod " + op.target, errno);
      }
      if (op.uid >= 0 && ::lchown(op.target.c_str(), static_cast<uid_t>(op.uid),
                                  static_cast<gid_t>(op.gid)) != 0) {
        Fail("chown " + op.target, errno);
      }
      return;
    case MountOp::Kind::kTouch: {
      int fd = ::open(op.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd < 0) Fail("create " + op.target, errno);
      ::close(fd);
      return;
    }
    case MountOp::Kind::kSymlink:
      if (::symlink(op.source.c_str(), op.target.c_str()) != 0 && errno != EEXIST) {
        Fail("symlink " + op.target, errno);
      }
      return;
    case MountOp::Kind::kChdir:
      if (::chdir(op.target.c_str()) != 0) Fail("chdir " + op.target, errno);
      return;
    case MountOp::Kind::kMoveMount:
      if (Status s = sys::MoveMount(op.fd, op.target); !s) {
        Fail("attach the writable layer on " + op.target, s.error().sys_errno);
      }
      ::close(op.fd);
      return;
    case MountOp::Kind::kWrite: {
      int fd = ::open(op.target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                      op.mode != 0 ? op.mode : 0644);
      if (fd < 0) Fail("create " + op.target, errno);
      WriteAll(fd, op.data);
      ::close(fd);
      return;
    }
  }
}

// argv[0] resolved against PATH from the sandbox's environment (execvpe would use ours).
std::string ResolveExecutable(const InitSpec& s) {
  const std::string& name = s.process.argv[0];
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : s.process.env) {
    if (StartsWith(e, "PATH=")) path = e.substr(5);
  }
  for (const std::string& dir : Split(path, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  Fail("find executable " + name, ENOENT);
}

// The common tail of both modes: credentials, capabilities, no_new_privs, fds, seccomp, exec.
[[noreturn]] void DropPrivilegesAndExec(const InitSpec& s, bool die_with_parent) {
  if (int e = sys::DropBoundingAndAmbientCaps()) Fail("drop bounding capabilities", e);
  if (::setresgid(s.process.gid, s.process.gid, s.process.gid) != 0) Fail("setresgid", errno);
  if (::setresuid(s.process.uid, s.process.uid, s.process.uid) != 0) Fail("setresuid", errno);
  if (int e = sys::ClearCapSets()) Fail("clear capabilities", e);
  // Set after the uid change, which resets the parent-death signal.
  if (die_with_parent && ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) Fail("pdeathsig", errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail("no_new_privs", errno);
  std::string exe = ResolveExecutable(s);
  if (::chdir(s.process.cwd.c_str()) != 0) Fail("chdir " + s.process.cwd, errno);
  // Everything but stdio closes at execve, the sync fd included (that EOF means success).
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) Fail("close_range", errno);
  std::vector<char*> argv, envp;
  for (const auto& a : s.process.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : s.process.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Last, so none of the setup above runs under the filter.
  if (!s.seccomp_bpf.empty()) {
    if (int e = sys::LoadSeccompBpf(s.seccomp_bpf.data(), s.seccomp_bpf.size())) {
      Fail("seccomp", e);
    }
  }
  ::execve(exe.c_str(), argv.data(), envp.data());
  Fail("execve " + exe, errno);
}

// `userns`: the image layers' idmap (MappedUserns, made by the shim), or -1.
[[noreturn]] void SandboxInit(const InitSpec& s, int shim_sock, int userns) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    Fail("make mounts private", errno);
  }
  for (const MountOp& op : s.mounts) ApplyMountOp(op, s.root_dir, userns);
  if (userns >= 0) ::close(userns);
  if (::sethostname(s.hostname.data(), s.hostname.size()) != 0) Fail("sethostname", errno);
  // A joined namespace came with lo up, and belongs to a user namespace this init is not in.
  if (!s.join_netns) {
    if (int e = sys::BringUpLoopback()) Fail("loopback up", e);
  }
  // pivot_root(".", ".") stacks the old root under the new one; detaching "." then drops it
  // without needing a directory for it inside the image (nsjail's trick).
  if (::chdir(s.root_dir.c_str()) != 0) Fail("chdir root", errno);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) Fail("pivot_root", errno);
  if (::umount2(".", MNT_DETACH) != 0) Fail("detach old root", errno);
  if (::chdir("/") != 0) Fail("chdir /", errno);
  // Supplementary groups cannot be changed once setgroups is denied in the user namespace.
  if (::setgroups(0, nullptr) != 0) Fail("setgroups", errno);
  if (::unshare(CLONE_NEWUSER) != 0) Fail("unshare user namespace", errno);
  char c = 'm';
  if (::write(shim_sock, &c, 1) != 1) Fail("request id maps", errno);
  if (::read(shim_sock, &c, 1) != 1 || c != 'k') Fail("wait for id maps", EPROTO);
  ::close(shim_sock);
  DropPrivilegesAndExec(s, false);
}

bool WriteProcFile(pid_t pid, const char* name, const std::string& value) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

int RunMode(const InitSpec& s) {
  // Without a namespace to join, fd 7 is free or a stray: closed before any fd is made here,
  // since a pipe made below could take number 7 (and closing it later lost the sandbox's output).
  if (!s.join_netns) ::close(kInitNetnsFd);
  JoinCgroups(s);
  pid_t shim = ::fork();
  if (shim < 0) Fail("fork shim", errno);
  if (shim > 0) ::_exit(0);
  // The shim is tiny and needed to record the exit status: never the OOM killer's choice.
  WriteProcFile(::getpid(), "oom_score_adj", "-1000");
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) Fail("socketpair", errno);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) Fail("output pipe", errno);
  long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | SIGCHLD;
  if (s.join_netns) {
    // The shim joins too (it never uses the network): the sandbox init inherits it.
    if (::setns(kInitNetnsFd, CLONE_NEWNET) != 0) Fail("join network namespace", errno);
    ::close(kInitNetnsFd);
  } else {
    flags |= CLONE_NEWNET;
  }
  // Made here, in the host's pid namespace, where /proc names the helper it clones.
  int userns = -1;
  for (const MountOp& op : s.mounts) {
    if (op.kind == MountOp::Kind::kIdmapBind) {
      userns = MappedUserns(s);
      break;
    }
  }
  // Raw clone with no new stack behaves like fork (this process is single-threaded).
  pid_t child = static_cast<pid_t>(::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, 0));
  if (child < 0) Fail("clone namespaces", errno);
  if (child == 0) {
    ::close(sp[0]);
    ::close(out[0]);
    ::close(err[0]);
    if (::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) Fail("redirect output", errno);
    ::close(out[1]);
    ::close(err[1]);
    SandboxInit(s, sp[1], userns);
  }
  ::close(sp[1]);
  ::close(out[1]);
  ::close(err[1]);
  if (userns >= 0) ::close(userns);
  // Layers to attach are the sandbox init's alone: a shim holding one would keep the file
  // system alive past the sandbox (see init_spec.h, fd 6).
  for (const MountOp& op : s.mounts) {
    if (op.kind == MountOp::Kind::kMoveMount) ::close(op.fd);
  }
  Json hello{{"shim_pid", ::getpid()},
             {"shim_start", sys::ProcStartTime(::getpid()).value_or(0)},
             {"init_pid", child},
             {"init_start", sys::ProcStartTime(child).value_or(0)}};
  WriteAll(kInitSyncFd, DumpJson(hello) + "\n");
  char c;
  if (::read(sp[0], &c, 1) == 1) {
    // A privileged writer may map any host range; "deny" keeps setgroups(2) from dropping
    // groups that a deny-by-group rule relies on.
    if (!WriteProcFile(child, "setgroups", "deny")) Fail("write setgroups", errno);
    if (!WriteProcFile(child, "gid_map", s.gid_map)) Fail("write gid_map", errno);
    if (!WriteProcFile(child, "uid_map", s.uid_map)) Fail("write uid_map", errno);
    c = 'k';
    if (::write(sp[0], &c, 1) != 1) Fail("ack id maps", errno);
  }
  ::close(sp[0]);
  ::close(kInitSyncFd);
  // Copy the sandbox's output until every writer is gone: all of them live in the sandbox's
  // pid namespace, which the kernel empties when its init exits.
  CappedLog log(1, s.log_path, s.log_path.empty() ? 0 : s.log_limit_bytes);
  DrainToLog(out[0], err[0], log);
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  Json exit{{"exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)},
            {"signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0},
            {"finished_at", FormatRfc3339Micro(RealClock::Get().Now())}};
  if (!s.exit_file.empty())
    (void)runtime::native::WriteStateFile(s.exit_file, DumpJson(exit) + "\n", 0644);
  return 0;
}

int ExecMode(const InitSpec& s) {
  JoinCgroups(s);
  if (::setgroups(0, nullptr) != 0) Fail("setgroups", errno);
  if (::setns(kInitPidFd, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                              CLONE_NEWCGROUP) != 0) {
    Fail("setns", errno);
  }
  // Joined last: once inside the sandbox's user namespace we hold no capability over the
  // other namespaces (the initial user namespace owns them).
  if (::setns(kInitPidFd, CLONE_NEWUSER) != 0) Fail("setns user namespace", errno);
  ::close(kInitPidFd);
  pid_t child = ::fork();
  if (child < 0) Fail("fork", errno);
  if (child == 0) DropPrivilegesAndExec(s, true);
  ::close(kInitSyncFd);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// `asb-init log PATH CAP_BYTES`: fd 0 and fd 3 are the read ends of a sandbox's stdout and
// stderr pipes, fd 1 is PATH opened for appending. Forks once so the spawner can reap it at once
// (like the run shim, it then belongs to no daemon and outlives a daemon restart), and copies
// both pipes into the capped log until every writer closed them.
int LogMode(int argc, char** argv) {
  if (argc != 4) return 2;
  char* end = nullptr;
  long long cap = std::strtoll(argv[3], &end, 10);
  if (end == argv[3] || *end != '\0' || cap < 0) return 2;
  ::syscall(SYS_close_range, 4U, ~0U, 0);
  pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid > 0) ::_exit(0);
  CappedLog log(1, argv[2], cap);
  DrainToLog(0, 3, log);
  return 0;
}

}  // namespace

int InitMain(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "log") == 0) return LogMode(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "gvisor-entry") == 0) return GvisorEntryMain(argc, argv);
  if (argc != 2 || (std::strcmp(argv[1], "run") != 0 && std::strcmp(argv[1], "exec") != 0)) {
    std::fprintf(stderr,
                 "usage: asb-init run|exec | log PATH CAP_BYTES | gvisor-entry PIDS_MAX ARGV...\n"
                 "Started by asbd with an InitSpec on fd 3 and a sync socket on fd 4; not for "
                 "direct use.\n");
    return 2;
  }
  // Stray fds inherited from the daemon (anything it opened without O_CLOEXEC) go first.
  // Run keeps fd 6 (the writable layer) and 7 (a netns to join), exec fd 5 (the sandbox's
  // pidfd): init_spec.h.
  bool exec_mode = std::strcmp(argv[1], "exec") == 0;
  if (exec_mode) {
    ::syscall(SYS_close_range, kInitPidFd + 1, ~0U, 0);
  } else {
    ::syscall(SYS_close_range, kInitPidFd, kInitPidFd, 0);
    ::syscall(SYS_close_range, kInitNetnsFd + 1, ~0U, 0);
  }
  std::string text;
  char buf[65536];
  off_t off = 0;
  while (true) {
    ssize_t n = ::pread(kInitSpecFd, buf, sizeof(buf), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("read init spec", errno);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    off += n;
  }
  ::close(kInitSpecFd);
  auto json = ParseJson(text);
  if (!json) Fail("parse init spec", EINVAL);
  auto spec = runtime::native::InitSpecFromJson(*json);
  if (!spec || spec->mode != argv[1]) Fail("parse init spec", EINVAL);
  return exec_mode ? ExecMode(*spec) : RunMode(*spec);
}

}  // namespace asb::init
