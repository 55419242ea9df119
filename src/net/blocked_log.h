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
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
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

// One nfnetlink_log message (a netlink header and its attributes, `len` bytes at `msg`): the
// packet it logged when that is an IPv4 packet under one of the prefixes above, else nullopt
// (another prefix, a config ack, a truncated or malformed message). Never reads past `len`.
std::optional<BlockedPacket> ParseBlockedPacket(const void* msg, size_t len);

// What the firewall dropped of one sandbox's traffic (packets: a refused TCP connect is its SYN
// and the SYN's retries), and the last drop.
struct BlockedCounts {
  uint64_t egress = 0, ingress = 0;
  BlockedPacket last;
  uint64_t changes = 0;  // bumped by every drop: a reader tells new ones from old
};

// Counts `p` against the pod address it concerns (the source of an egress drop, the
// destination of an ingress one) when that lies in `pods`; false (nothing counted) otherwise.
bool CountBlocked(const BlockedPacket& p, const Cidr& pods, std::map<Ipv4, BlockedCounts>* counts);

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
