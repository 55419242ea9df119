// BlockedLog: the packets the pod firewall drops, read from an nflog group. Each drop rule of the
// firewall (nft_ruleset.h, network_policy.h) also logs the packet's headers to group `group`
// with the prefix "asb-egress" or "asb-ingress"; a thread here reads them from the kernel
// (NETLINK_NETFILTER, nfnetlink_log) and hands each to a callback. Cheap: allowed traffic costs
// nothing, and a dropped packet one netlink message of its first 64 bytes. The kernel's log
// buffer is bounded: past it (a sandbox flooding blocked addresses) messages are lost, never
// memory; the count then falls short, which is why it is "at least".
//
// Syscalls: socket(AF_NETLINK, NETLINK_NETFILTER), bind, sendto, recv, poll.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/result.h"
#include "base/unique_fd.h"
#include "net/ip.h"

namespace asb::net {

inline constexpr char kLogPrefixEgress[] = "asb-egress";
inline constexpr char kLogPrefixIngress[] = "asb-ingress";

struct BlockedPacket {
  bool egress = true;  // from a sandbox (else towards one)
  Ipv4 src, dst;
  uint8_t protocol = 0;   // IPPROTO_TCP, _UDP, _ICMP, ...
  uint16_t dst_port = 0;  // TCP, UDP and SCTP only
};

// "TCP" etc. for a protocol number ("proto 47" otherwise).
std::string ProtocolName(uint8_t protocol);

class BlockedLog {
 public:
  using OnPacket = std::function<void(const BlockedPacket&)>;
  // Binds nflog group `group` and starts reading. kAlreadyExists (EBUSY) when another process
  // holds the group.
  [[nodiscard]] static Result<std::unique_ptr<BlockedLog>> Start(uint16_t group, OnPacket fn);
  ~BlockedLog();
  BlockedLog(const BlockedLog&) = delete;
  BlockedLog& operator=(const BlockedLog&) = delete;

 private:
  BlockedLog(UniqueFd fd, OnPacket fn) : fd_(std::move(fd)), fn_(std::move(fn)) {}
  void Run();

  UniqueFd fd_;
  const OnPacket fn_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace asb::net
