#include "agent/spawn_setup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "base/log.h"

namespace asb::agent {

namespace {

// The commands' group's and the root group's `tasks` files; -1 when the agent has none.
int g_group_in = -1;
int g_group_out = -1;

int WriteTid(int fd) {
  std::string tid = std::to_string(::syscall(SYS_gettid));
  if (::write(fd, tid.data(), tid.size()) == static_cast<ssize_t>(tid.size())) return 0;
  return errno != 0 ? errno : EIO;
}

bool HaveCloseRange() {
  // Closing one fd number nobody uses is a harmless probe; ENOSYS means no close_range.
  static const bool have =
      ::syscall(SYS_close_range, 0x7ffffff0u, 0x7ffffff0u, 0u) == 0 || errno != ENOSYS;
  return have;
}

}  // namespace

void AddCloseInheritedFds(posix_spawn_file_actions_t* actions) {
  if (HaveCloseRange()) posix_spawn_file_actions_addclosefrom_np(actions, 3);
}

CommandSpawnAttr::CommandSpawnAttr() {
  posix_spawnattr_init(&attr_);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setflags(&attr_,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setsigdefault(&attr_, &all);
  posix_spawnattr_setsigmask(&attr_, &none);
}

CommandSpawnAttr::~CommandSpawnAttr() { posix_spawnattr_destroy(&attr_); }

bool KillProcessGroupUntilGone(pid_t pgid, int budget_ms) {
  if (pgid <= 1) return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms);
  std::chrono::microseconds pause(100);
  while (true) {
    if (::kill(-pgid, SIGKILL) < 0 && errno == ESRCH) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      ASB_LOG(WARN, "process group still has members after SIGKILLs", "pgid", pgid);
      return false;
    }
    // Killed members need the init to reap them before the group is empty.
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(10000));
  }
}

void AdoptCommandTaskGroup() {
  const char* v = std::getenv(kTaskGroupFdsEnv);
  if (v == nullptr) return;
  std::string text(v);
  ::unsetenv(kTaskGroupFdsEnv);
  int in = -1, out = -1;
  char* end = nullptr;
  in = static_cast<int>(std::strtol(text.c_str(), &end, 10));
  if (end != nullptr && *end == ',') out = static_cast<int>(std::strtol(end + 1, &end, 10));
  if (in < 3 || out < 3 || end == nullptr || *end != '\0' || ::fcntl(in, F_GETFD) < 0 ||
      ::fcntl(out, F_GETFD) < 0) {
    // Fail closed: every spawn reports this rather than run a command outside the limit.
    ASB_LOG(ERROR, "bad task group fds from asb-init; commands will not start", "value", text);
    g_group_in = g_group_out = -2;
    return;
  }
  ::fcntl(in, F_SETFD, FD_CLOEXEC);
  ::fcntl(out, F_SETFD, FD_CLOEXEC);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  g_group_in = in;
  g_group_out = out;
}

bool InCommandTaskGroupSandbox() { return g_group_in != -1; }

CommandTaskGroupScope::CommandTaskGroupScope() {
  if (g_group_in == -1) return;
  if (g_group_in < 0) {
    error_ = EBADF;
    return;
  }
  error_ = WriteTid(g_group_in);
  moved_ = error_ == 0;
}

CommandTaskGroupScope::~CommandTaskGroupScope() {
  if (!moved_) return;
  // Staying in would only count this thread against the commands' limit; nothing escapes.
  if (int e = WriteTid(g_group_out)) {
    ASB_LOG(WARN, "cannot move a thread out of the commands' task group", "errno", e);
  }
}

}  // namespace asb::agent
