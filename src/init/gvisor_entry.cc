#include "init/gvisor_entry.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sys/caps.h"

namespace asb::init {
namespace {

// gVisor drops a cgroupfs hierarchy, and with it every task's membership, once nothing refers
// to it: it must stay mounted. It is mounted at kMountPoint inside kHideDir, which ends up mode
// 0 and owned by a uid that is not the sandbox's, so no process of the sandbox can reach it:
// traversal needs search permission (or CAP_DAC_OVERRIDE, which none keeps), and only the
// owner or CAP_FOWNER could chmod it back. The cgroup files the agent keeps open get the same
// mode and owner, so /proc/<agent>/fd/N cannot reopen them either.
constexpr const char* kHideDir = "/dev/.asb-cgroup";
constexpr const char* kMountPoint = "/dev/.asb-cgroup/pids";
constexpr const char* kGroup = "/dev/.asb-cgroup/pids/commands";
// The container's argv that gets the split (agent outside, its commands inside): the built-in
// image's entrypoint. Any other program runs inside the group itself.
constexpr const char* kAgentPath = "/asb/bin/asb-agent";
// Must match agent/spawn_setup.h's kTaskGroupFdsEnv.
constexpr const char* kTaskGroupFdsEnv = "ASB_TASK_GROUP_FDS";

[[noreturn]] void Die(const std::string& step, int err) {
  std::fprintf(stderr, "asb-init: %s: %s\n", step.c_str(), std::strerror(err));
  std::exit(127);
}

void WriteFile(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) Die("open " + path, errno);
  if (::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    Die("write " + value + " to " + path, errno);
  }
  ::close(fd);
}

// Not close-on-exec: the agent takes it over.
int OpenForAgent(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) Die("open " + path, errno);
  return fd;
}

// chmod first, while this process still owns the file.
void Hide(const std::string& path, uid_t owner) {
  if (::chmod(path.c_str(), 0) != 0) Die("chmod " + path, errno);
  if (::chown(path.c_str(), owner, owner) != 0) Die("chown " + path, errno);
}

}  // namespace

int GvisorEntryMain(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: asb-init gvisor-entry PIDS_MAX ARGV...\n");
    return 2;
  }
  char* end = nullptr;
  long long pids_max = std::strtoll(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || pids_max <= 0) {
    std::fprintf(stderr, "asb-init: gvisor-entry: PIDS_MAX must be a positive number\n");
    return 2;
  }
  const bool agent = std::strcmp(argv[3], kAgentPath) == 0;
  // Every process of the sandbox runs as this uid (no_new_privs: no setuid binaries), so any
  // other uid owns nothing they have.
  const uid_t hidden_owner = ::getuid() == 65534 ? 65533 : 65534;
  if (::mkdir(kHideDir, 0700) != 0) Die(std::string("mkdir ") + kHideDir, errno);
  if (::mkdir(kMountPoint, 0700) != 0) Die(std::string("mkdir ") + kMountPoint, errno);
  if (::mount("cgroup", kMountPoint, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, "pids") != 0) {
    Die("mount gVisor's pids cgroup", errno);
  }
  const std::string root = kMountPoint, group = kGroup;
  if (::mkdir(kGroup, 0755) != 0) Die("mkdir " + group, errno);
  WriteFile(group + "/pids.max", std::to_string(pids_max));
  if (agent) {
    int in = OpenForAgent(group + "/tasks");
    int out = OpenForAgent(root + "/tasks");
    std::string fds = std::to_string(in) + "," + std::to_string(out);
    if (::setenv(kTaskGroupFdsEnv, fds.c_str(), 1) != 0) Die("setenv", errno);
  } else {
    WriteFile(group + "/cgroup.procs", std::to_string(::getpid()));
  }
  for (const char* f : {"/tasks", "/cgroup.procs", "/pids.max"}) Hide(group + f, hidden_owner);
  for (const char* f : {"/tasks", "/cgroup.procs"}) Hide(root + f, hidden_owner);
  Hide(group, hidden_owner);
  Hide(root, hidden_owner);
  Hide(kHideDir, hidden_owner);
  if (int e = sys::DropBoundingAndAmbientCaps()) Die("drop bounding capabilities", e);
  if (int e = sys::ClearCapSets()) Die("clear capabilities", e);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Die("no_new_privs", errno);
  // runsc already set the uid, gid, cwd and environment of the container's process; execvp
  // resolves ARGV[0] against that environment's PATH, as runsc would have.
  ::execvp(argv[3], argv + 3);
  Die(std::string("execute ") + argv[3], errno);
}

}  // namespace asb::init
