#include "agent/spawn_setup.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "base/log.h"

namespace asb::agent {

namespace {

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

}  // namespace asb::agent
