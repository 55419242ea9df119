// Making a stopped sandbox's network namespace fit for the next sandbox, so the pod network can
// hand the same namespace (its veth, address and route) out again instead of destroying it and
// wiring a new one (net/netns_pool.h says why that matters under churn).
//
// Once every process of a sandbox is gone, what a process without CAP_NET_ADMIN over the
// namespace (a sandbox never has it: the namespace belongs to the host's user namespace) can have
// left in it is kernel-owned TCP state: TIME_WAIT and orphaned (FIN_WAIT, LAST_ACK, ...) sockets,
// which would hold its ports against the next sandbox's bind and show the previous sandbox's
// peers in /proc/net/tcp; and route exceptions (learnt PMTUs). Scrub destroys every TCP socket
// (sock_diag SOCK_DESTROY, what `ss -K` does), flushes the route cache, and then checks that the
// namespace holds no socket at all ("sockets: used 0" and "tw 0" in its sockstat). A namespace
// that still holds one (a process of the sandbox still alive, or a socket some other process
// made in it) is refused: the caller destroys it instead. TCP metrics are never saved in a pod
// namespace (PodNetwork sets tcp_no_metrics_save when wiring it), so there are none to flush.
//
// What stays: the interface counters of eth0 (bytes and packets) and the namespace's SNMP
// counters, and the address: the next sandbox gets the same pod IP (docs/network.md).
//
// Syscalls: setns, socket(AF_NETLINK, NETLINK_SOCK_DIAG), sendto, recv, open/read/write of
// /proc/thread-self/net/sockstat and /proc/sys/net/ipv{4,6}/route/flush.
#pragma once

#include "base/result.h"

namespace asb::net {

// Scrubs the namespace `netns_fd` (an open nsfs file) on a short-lived thread of its own.
// kFailedPrecondition naming what is left when it cannot be made clean; netlink errors.
[[nodiscard]] Status ScrubNetns(int netns_fd);

}  // namespace asb::net
