// A small rtnetlink client: the few link, address and route requests the pod network makes
// (a bridge, veth pairs with one end created straight inside a sandbox's network namespace,
// addresses, a default route, a bridge port flag), so a sandbox start spawns no `ip` process.
//
// One NETLINK_ROUTE socket per Netlink object, bound to the network namespace of the thread that
// opened it (OpenInNetns switches on a short-lived thread, as sys/net.h does): requests then work
// from any thread. Each request waits for the kernel's ack, so errors carry the kernel's errno
// and name the request. Not thread-safe: one object per caller.
//
// Syscalls: socket(AF_NETLINK), bind, sendto, recv, setns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "net/ip.h"

namespace asb::net {

struct AddressInfo {
  int ifindex = 0;
  Ipv4 address;
  int prefix = 0;
};

struct RouteInfo {
  Cidr dst;  // 0.0.0.0/0 for a default route
  int ifindex = 0;
  Ipv4 gateway;  // 0 when none
};

class Netlink {
 public:
  // A socket in the calling thread's network namespace.
  [[nodiscard]] static Result<Netlink> Open();
  // A socket in the namespace `netns_fd` (an open nsfs file). The caller's thread keeps its own.
  [[nodiscard]] static Result<Netlink> OpenInNetns(int netns_fd);

  // The interface's index; kNotFound when there is none of that name.
  [[nodiscard]] Result<int> LinkIndex(const std::string& name);
  // Creates a bridge; kAlreadyExists when the name is taken.
  [[nodiscard]] Status CreateBridge(const std::string& name);
  // Creates a veth pair: `host_name` here, enslaved to `master_ifindex` (0: none), and
  // `peer_name` created directly inside the namespace `peer_netns_fd`. Both ends stay down.
  [[nodiscard]] Status CreateVethPair(const std::string& host_name, int master_ifindex,
                                      const std::string& peer_name, int peer_netns_fd);
  // Deletes a link (and, for a veth, its peer). OK when there is none of that name.
  [[nodiscard]] Status DeleteLink(const std::string& name);
  [[nodiscard]] Status SetUp(int ifindex);
  // Marks a bridge port "isolated": isolated ports forward only to non-isolated ones (the
  // bridge itself), never to each other.
  [[nodiscard]] Status SetBridgePortIsolated(int ifindex);
  // Adds ip/prefix to the interface; OK when it is already there.
  [[nodiscard]] Status AddAddress(int ifindex, Ipv4 ip, int prefix);
  [[nodiscard]] Status AddDefaultRoute(Ipv4 gateway, int ifindex);

  [[nodiscard]] Result<std::vector<AddressInfo>> ListAddresses();
  // The main table's IPv4 routes.
  [[nodiscard]] Result<std::vector<RouteInfo>> ListRoutes();

 private:
  explicit Netlink(UniqueFd fd) : fd_(std::move(fd)) {}
  // Sends one request (nlmsghdr first) and waits for its ack or error.
  [[nodiscard]] Status Request(std::vector<char>& msg, const std::string& what);
  // Sends a dump request and calls on_msg for each answer until NLMSG_DONE.
  template <class F>
  [[nodiscard]] Status Dump(std::vector<char>& msg, const std::string& what, F on_msg);

  UniqueFd fd_;
  uint32_t seq_ = 0;
  int last_errno_ = 0;  // of the last Request's ack
};

}  // namespace asb::net
