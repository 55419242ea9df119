// `asb-init gvisor-entry PIDS_MAX ARGV...`: the first program of a gVisor sandbox, run by runsc
// as the container's process (bind-mounted read-only from the host, see runsc/oci_spec.h).
//
// Why: the host's pids cgroup does not bound a gVisor sandbox's tasks (they are the sentry's,
// not host tasks), and once the sentry's own host threads reach that cgroup's limit the whole
// sandbox dies: a fork bomb took asb-agent with it. gVisor implements a pids cgroup controller
// of its own; this program sets up a group "commands" in it with pids.max = PIDS_MAX, so a fork
// past it fails with EAGAIN inside the sandbox while the sentry stays within its host budget.
//
// Who is in the group: when ARGV is asb-agent (the built-in image's entrypoint), the agent
// stays outside and gets open `tasks` files of the group and of the root (environment variable
// ASB_TASK_GROUP_FDS, see agent/spawn_setup.h) to start each command inside; a bomb then never
// takes the threads the agent needs to answer. Any other ARGV is moved into the group itself,
// and its children with it.
//
// Steps, as pid 1 with the few capabilities the spec grants for them (CAP_SYS_ADMIN to mount,
// CAP_DAC_OVERRIDE to write the cgroup files as any uid, CAP_CHOWN to hide them, CAP_SETPCAP to
// empty the bounding set): mount gVisor's cgroupfs (pids) under /dev/.asb-cgroup, mkdir the
// group, write pids.max, open the files for the agent (or move itself in), make the directory
// and the cgroup files unreachable (mode 0, owned by a uid that is not the sandbox's), drop
// every capability (all five sets), set no_new_privs and execve ARGV (resolved against PATH).
// Afterwards no command can leave the group: the hierarchy's only mount is behind a directory
// no process may search or chmod, mounting it elsewhere needs CAP_SYS_ADMIN (gVisor refuses
// mounts in a child user namespace too), the agent's fds cannot be reopened through /proc (mode
// 0; the agent is also non-dumpable), and the agent cannot be ptraced by its commands.
//
// A failed step prints "asb-init: STEP: ERROR" on stderr (the sandbox's console log) and exits
// 127, so the sandbox fails to start rather than run unbounded.
#pragma once

namespace asb::init {

// argv[0] is "asb-init", argv[1] "gvisor-entry".
int GvisorEntryMain(int argc, char** argv);

}  // namespace asb::init
