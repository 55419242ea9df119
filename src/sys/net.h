// Network namespace helpers: bringing up loopback in a fresh namespace, a namespace that
// outlives its processes (persisted by a bind mount of its nsfs file, as `ip netns add` does),
// and dialing a port inside another network namespace from the host (what CRI port-forward
// does). Namespace switches happen on short-lived threads (a thread's network namespace is its
// own), so no daemon thread ever changes namespace.
//
// Syscalls: socket, ioctl(SIOCGIFFLAGS/SIOCSIFFLAGS), unshare/setns(CLONE_NEWNET), mount,
// umount2, connect, poll.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

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
// The same for a namespace persisted at `netns_path` (CreatePersistentNetns). Also kNotFound
// when there is no such file.
[[nodiscard]] Result<UniqueFd> ConnectInNetns(const std::string& netns_path, uint16_t port,
                                              std::chrono::milliseconds timeout);
// A TCP connection to ipv4:port (host byte order) from the caller's network namespace, with the
// same errors, timeout and socket options as ConnectInNetns. Thread-safe.
[[nodiscard]] Result<UniqueFd> ConnectTcp(uint32_t ipv4, uint16_t port,
                                          std::chrono::milliseconds timeout);

// Creates a network namespace holding only loopback (up) and bind-mounts it onto `path` (a new
// file; kAlreadyExists if one is there), so it lives until RemovePersistentNetns. Nothing is
// left behind on failure. Errors are errno-mapped and name the step.
[[nodiscard]] Status CreatePersistentNetns(const std::string& path);
// The same, made from inside the namespace `parent_netns_fd` (an open nsfs file): a new
// namespace takes a few settings from the one it is made in (net.ipv4.tcp_child_ehash_entries).
[[nodiscard]] Status CreatePersistentNetns(const std::string& path, int parent_netns_fd);
// Unmounts and unlinks a file made by CreatePersistentNetns. OK if missing. Idempotent.
[[nodiscard]] Status RemovePersistentNetns(const std::string& path);

}  // namespace asb::sys
