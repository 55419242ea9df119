// What every command asb-agent starts gets, for ExecService (/execute) and InteractiveProcess
// (kubectl exec): one copy of the fd guard and the spawn attributes.
#pragma once

#include <spawn.h>
#include <sys/types.h>

namespace asb::agent {

// Security: the child must not inherit client sockets or other agent fds, even ones a library
// opened without O_CLOEXEC. Only where close_range(2) exists: glibc's fallback walks
// /proc/self/fd and fails the whole spawn when /proc is missing (minimal rootfs, gVisor), and
// there our own fds are all O_CLOEXEC anyway.
void AddCloseInheritedFds(posix_spawn_file_actions_t* actions);

// posix_spawn attributes for a command. SETSID: a new session makes the child a process-group
// leader, so a timeout or a dropped client can kill everything it started. SIGDEF/SIGMASK: the
// agent ignores SIGPIPE and its main thread blocks SIGTERM/SIGINT; commands must start with
// default dispositions and an empty mask.
class CommandSpawnAttr {
 public:
  CommandSpawnAttr();
  ~CommandSpawnAttr();
  CommandSpawnAttr(const CommandSpawnAttr&) = delete;
  CommandSpawnAttr& operator=(const CommandSpawnAttr&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// Security: SIGKILLs process group `pgid` until no member is left, so a fork bomb that outruns
// one kill(2) does not survive its command's timeout. One signal is not enough: members that
// were forking while it was sent can leave children the kernel never signalled. Zombies count
// as members, so the leader must already be reaped (orphans are reaped by the agent's init).
// Gives up after `budget`, returning false; a member that left the group (setsid, setpgid)
// is not reached.
bool KillProcessGroupUntilGone(pid_t pgid, int budget_ms = 2000);

// gVisor's task limit for commands (see init/gvisor_entry.h): asb-init starts the agent outside
// the commands' group of gVisor's pids cgroup and hands it two open `tasks` files, the group's
// and the root's, named by the environment variable kTaskGroupFdsEnv ("IN,OUT"). A command
// starts in the group because the thread that spawns it is moved in for the spawn and back out
// afterwards (gVisor, like Linux v1, moves single threads through `tasks`; a child starts in
// its creating thread's group). So a fork bomb meets EAGAIN inside its group while the agent's
// own threads never count against it. Without the variable (native runtime, where the pod's
// host cgroup is the limit) these do nothing.
inline constexpr const char* kTaskGroupFdsEnv = "ASB_TASK_GROUP_FDS";

// Once, first thing in main, while single-threaded: takes the fds (close-on-exec from here on)
// and removes the variable, so no command sees it. Also marks the agent non-dumpable: the
// files behind those fds are mode 0, but /proc/<agent>/fd must not even be searchable by
// commands running as the same uid, nor the agent ptrace-able by them.
void AdoptCommandTaskGroup();

// True once AdoptCommandTaskGroup took fds from asb-init: the agent runs inside gVisor.
bool InCommandTaskGroupSandbox();

// Around each spawn of a command: the calling thread is in the commands' group while it lives.
class CommandTaskGroupScope {
 public:
  CommandTaskGroupScope();
  ~CommandTaskGroupScope();
  CommandTaskGroupScope(const CommandTaskGroupScope&) = delete;
  CommandTaskGroupScope& operator=(const CommandTaskGroupScope&) = delete;
  // 0, or the errno of moving in: the caller must not spawn, the command would escape the limit.
  int error() const { return error_; }

 private:
  bool moved_ = false;
  int error_ = 0;
};

}  // namespace asb::agent
