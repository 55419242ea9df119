#include "agent/spawn_setup.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace asb::agent
