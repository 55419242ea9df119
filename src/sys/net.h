// Network namespace helpers: bringing up loopback in a fresh namespace, and dialing a port
// inside another network namespace from the host (what CRI port-forward does).
//
// Syscalls: socket, ioctl(SIOCGIFFLAGS/SIOCSIFFLAGS), setns(CLONE_NEWNET), connect, poll.
#pragma once

#include <chrono>
#include <cstdint>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::sys {

// Sets IFF_UP on "lo" in the calling thread's network namespace. Returns 0 or the errno
// (async-signal-safe: used by the sandbox init).
int BringUpLoopback();

// Connects to 127.0.0.1:port inside the network namespace `netns_fd` (an open
// /proc/<pid>/ns/net). The switch happens on a short-lived thread so the caller's thread never
// changes namespace; the socket keeps the namespace it was created in. Returns a blocking,
// O_CLOEXEC socket. Errors: kUnavailable (refused, or not accepting within `timeout`),
// kInternal. Thread-safe.
[[nodiscard]] Result<UniqueFd> ConnectInNetns(int netns_fd, uint16_t port,
                                              std::chrono::milliseconds timeout);

}  // namespace asb::sys
