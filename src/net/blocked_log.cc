#include "net/blocked_log.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asb::net {
namespace {

constexpr uint32_t kCopyBytes = 64;  // the IPv4 header and the ports
constexpr int kPollMs = 200;         // how soon the thread sees a stop

// One NFULNL_MSG_CONFIG request for `group` with one attribute (at most 16 bytes); waits for
// the ack.
Status Configure(int fd, uint16_t group, uint16_t attr, const void* data, size_t len) {
  struct {
    nlmsghdr h;
    nfgenmsg g;
    nlattr a;
    alignas(4) char data[16];
  } msg{};
  if (len > sizeof(msg.data)) return MakeError(Code::kInternal, "nflog config: too long");
  msg.h.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  msg.g.nfgen_family = AF_UNSPEC;
  msg.g.version = NFNETLINK_V0;
  msg.g.res_id = htons(group);
  msg.a.nla_type = attr;
  msg.a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  std::memcpy(msg.data, data, len);
  msg.h.nlmsg_len = static_cast<uint32_t>(offsetof(decltype(msg), data) + NLA_ALIGN(len));
  if (::send(fd, &msg, msg.h.nlmsg_len, 0) < 0) return ErrnoUnexpected("nflog config");
  char buf[1024];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  if (n < 0) return ErrnoUnexpected("nflog config");
  const auto* r = reinterpret_cast<const nlmsghdr*>(buf);
  if (n >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))) && r->nlmsg_type == NLMSG_ERROR) {
    const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(r))->error;
    if (err == EBUSY) {
      return MakeError(Code::kAlreadyExists,
                       "nflog group " + std::to_string(group) + " is bound by another process");
    }
    if (err != 0) return tl::unexpected(ErrnoError(err, "nflog config"));
  }
  return {};
}

}  // namespace

// One logged packet: its prefix and the start of its IPv4 header.
std::optional<BlockedPacket> ParseBlockedPacket(const void* msg, size_t msg_len) {
  if (msg_len < sizeof(nlmsghdr)) return std::nullopt;
  nlmsghdr hdr;
  std::memcpy(&hdr, msg, sizeof(hdr));
  const nlmsghdr* h = &hdr;
  if (h->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) return std::nullopt;
  const size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  if (h->nlmsg_len < start || h->nlmsg_len > msg_len) return std::nullopt;
  std::string_view prefix;
  const unsigned char* payload = nullptr;
  size_t payload_len = 0;
  const char* p = static_cast<const char*>(msg) + start;
  size_t left = h->nlmsg_len - start;
  while (left >= NLA_HDRLEN) {
    nlattr a;
    std::memcpy(&a, p, sizeof(a));
    if (a.nla_len < NLA_HDRLEN || a.nla_len > left) break;
    const char* data = p + NLA_HDRLEN;
    const size_t len = a.nla_len - NLA_HDRLEN;
    switch (a.nla_type & NLA_TYPE_MASK) {
      case NFULA_PREFIX:
        prefix = std::string_view(data, strnlen(data, len));
        break;
      case NFULA_PAYLOAD:
        payload = reinterpret_cast<const unsigned char*>(data);
        payload_len = len;
        break;
      default:
        break;
    }
    const size_t step = NLA_ALIGN(a.nla_len);
    if (step >= left) break;
    p += step;
    left -= step;
  }
  BlockedPacket out;
  if (prefix == kLogPrefixEgress) {
    out.egress = true;
  } else if (prefix == kLogPrefixIngress) {
    out.egress = false;
  } else {
    return std::nullopt;
  }
  if (payload == nullptr || payload_len < sizeof(iphdr)) return std::nullopt;
  iphdr ip;
  std::memcpy(&ip, payload, sizeof(ip));
  if (ip.version != 4 || ip.ihl < 5) return std::nullopt;
  out.src = Ipv4{ntohl(ip.saddr)};
  out.dst = Ipv4{ntohl(ip.daddr)};
  out.protocol = ip.protocol;
  const size_t l4 = static_cast<size_t>(ip.ihl) * 4;
  const bool ports =
      ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP || ip.protocol == IPPROTO_SCTP;
  if (ports && payload_len >= l4 + 4) {
    uint16_t port;
    std::memcpy(&port, payload + l4 + 2, sizeof(port));
    out.dst_port = ntohs(port);
  }
  return out;
}

bool CountBlocked(const BlockedPacket& p, const Cidr& pods, std::map<Ipv4, BlockedCounts>* counts) {
  const Ipv4 pod = p.egress ? p.src : p.dst;
  if (!pods.Contains(pod)) return false;
  BlockedCounts& c = (*counts)[pod];
  ++(p.egress ? c.egress : c.ingress);
  c.last = p;
  ++c.changes;
  return true;
}

std::string ProtocolName(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "TCP";
    case IPPROTO_UDP:
      return "UDP";
    case IPPROTO_SCTP:
      return "SCTP";
    case IPPROTO_ICMP:
      return "ICMP";
    default:
      return "proto " + std::to_string(protocol);
  }
}

Result<std::unique_ptr<BlockedLog>> BlockedLog::Start(uint16_t group, OnPacket fn) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) return ErrnoUnexpected("socket(NETLINK_NETFILTER)");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return ErrnoUnexpected("bind nflog socket");
  }
  nfulnl_msg_config_cmd bind{NFULNL_CFG_CMD_BIND};
  ASB_RETURN_IF_ERROR(Configure(fd.get(), group, NFULA_CFG_CMD, &bind, sizeof(bind)));
  nfulnl_msg_config_mode mode{};
  mode.copy_range = htonl(kCopyBytes);
  mode.copy_mode = NFULNL_COPY_PACKET;
  ASB_RETURN_IF_ERROR(Configure(fd.get(), group, NFULA_CFG_MODE, &mode, sizeof(mode)));
  // Each packet as it comes (the default batches up to 100 or a second).
  uint32_t one = htonl(1);
  ASB_RETURN_IF_ERROR(Configure(fd.get(), group, NFULA_CFG_QTHRESH, &one, sizeof(one)));
  std::unique_ptr<BlockedLog> log(new BlockedLog(std::move(fd), std::move(fn)));
  log->thread_ = std::thread([p = log.get()] { p->Run(); });
  return log;
}

BlockedLog::~BlockedLog() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void BlockedLog::Run() {
  std::vector<char> buf(65536);
  while (!stop_) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) continue;  // ENOBUFS: the kernel dropped some (bounded); go on reading
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      if (std::optional<BlockedPacket> pkt = ParseBlockedPacket(h, static_cast<size_t>(left))) {
        fn_(*pkt);
      }
    }
  }
}

}  // namespace asb::net
