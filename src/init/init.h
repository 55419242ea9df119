// asb-init: the single-threaded program that builds a sandbox, so the multi-threaded daemon
// never does namespace setup after fork (see docs in runtime/native/init_spec.h for the fd and
// message protocol).
//
// `asb-init run` (started by NativeRuntime::Start with posix_spawn, as host root):
//   P  joins the sandbox's cgroups, forks the shim S and exits (the daemon reaps P at once, so
//      S is nobody's child in the daemon: a restarted daemon treats it like any other).
//   S  (host namespaces) clone()s the sandbox init C with CLONE_NEWNS|NEWPID|NEWNET|NEWIPC|
//      NEWUTS|NEWCGROUP, reports both pids and start times, writes C's uid/gid maps when C asks
//      (setgroups "deny"), then waits for C and writes the exit file. S is in the sandbox's
//      cgroups and dies with them on Stop.
//   C  (pid 1 of the new pid namespace, still host root) makes mounts private, applies the
//      MountPlan, sets the hostname, brings up lo, pivot_roots, clears supplementary groups,
//      and only then unshare(CLONE_NEWUSER): every other namespace is owned by the initial
//      user namespace, so even root inside the sandbox holds no capability over its mounts,
//      network or hostname. After S wrote the maps C drops the bounding/ambient sets, switches
//      to the process uid/gid, clears its capability sets, sets no_new_privs, marks every fd
//      close-on-exec, loads the seccomp filter last and execve()s the workload.
// `asb-init exec` (NativeRuntime::Exec): joins the cgroups, setns() into the sandbox init's
//   namespaces through the pidfd on fd 5 (user namespace last), forks the command with the same
//   credential, capability, no_new_privs and seccomp steps and PR_SET_PDEATHSIG(SIGKILL), and
//   exits with its status (128+signal when killed).
//
// Between clone and execve nothing logs; a failed step is reported as {"step","errno"} on the
// sync fd followed by _exit(127).
#pragma once

namespace asb::init {

int InitMain(int argc, char** argv);

}  // namespace asb::init
