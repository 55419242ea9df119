#include "net/netlink.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <thread>

namespace asb::net {
namespace {

// Builds one netlink message: a header, a fixed part, then (nested) attributes.
class MessageBuilder {
 public:
  MessageBuilder(uint16_t type, uint16_t flags) {
    buf_.resize(NLMSG_HDRLEN);
    auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST);
  }
  template <class T>
  void Fixed(const T& body) {
    Append(&body, sizeof(body));
  }
  void Attr(uint16_t type, const void* data, size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    Append(&a, sizeof(a));
    Append(data, len);
  }
  void AttrString(uint16_t type, const std::string& s) { Attr(type, s.c_str(), s.size() + 1); }
  void AttrU32(uint16_t type, uint32_t v) { Attr(type, &v, sizeof(v)); }
  void AttrU8(uint16_t type, uint8_t v) { Attr(type, &v, sizeof(v)); }
  // Opens a nested attribute; End(offset) closes it.
  size_t Begin(uint16_t type) {
    size_t at = buf_.size();
    Attr(type, nullptr, 0);
    return at;
  }
  void End(size_t at) {
    reinterpret_cast<rtattr*>(buf_.data() + at)->rta_len = static_cast<uint16_t>(buf_.size() - at);
  }
  std::vector<char> Take() {
    reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = static_cast<uint32_t>(buf_.size());
    return std::move(buf_);
  }

 private:
  void Append(const void* data, size_t len) {
    const char* p = static_cast<const char*>(data);
    buf_.insert(buf_.end(), p, p + len);
    buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
  }
  std::vector<char> buf_;
};

uint32_t NetOrder(Ipv4 ip) { return htonl(ip.value); }

}  // namespace

Result<Netlink> Netlink::Open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return ErrnoUnexpected("netlink socket");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return ErrnoUnexpected("bind netlink socket");
  }
  int one = 1;
  // Errors then carry the kernel's extended message where it has one (ignored if unsupported).
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  return Netlink(std::move(fd));
}

Result<Netlink> Netlink::OpenInNetns(int netns_fd) {
  // A socket keeps the namespace it was made in: only making it needs the switch, on a thread
  // of its own so no daemon thread ever changes namespace.
  std::optional<Result<Netlink>> out;
  std::thread t([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      out.emplace(ErrnoUnexpected("setns into sandbox netns"));
      return;
    }
    out.emplace(Open());
  });
  t.join();
  return std::move(*out);
}

Status Netlink::Request(std::vector<char>& msg, const std::string& what) {
  auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
  h->nlmsg_flags |= NLM_F_ACK;
  h->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    return ErrnoUnexpected("netlink send (" + what + ")");
  }
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoUnexpected("netlink recv (" + what + ")");
    }
    int len = static_cast<int>(n);
    for (auto* r = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(r, len); r = NLMSG_NEXT(r, len)) {
      if (r->nlmsg_seq != seq_ || r->nlmsg_type != NLMSG_ERROR) continue;
      int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
      last_errno_ = err;
      if (err == 0) return {};
      return tl::unexpected(ErrnoError(err, what));
    }
  }
}

template <class F>
Status Netlink::Dump(std::vector<char>& msg, const std::string& what, F on_msg) {
  auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
  h->nlmsg_flags |= NLM_F_DUMP;
  h->nlmsg_seq = ++seq_;
  if (::send(fd_.get(), msg.data(), msg.size(), 0) < 0) {
    return ErrnoUnexpected("netlink send (" + what + ")");
  }
  std::vector<char> buf(32768);
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoUnexpected("netlink recv (" + what + ")");
    }
    int len = static_cast<int>(n);
    for (auto* r = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(r, len);
         r = NLMSG_NEXT(r, len)) {
      if (r->nlmsg_seq != seq_) continue;
      if (r->nlmsg_type == NLMSG_DONE) return {};
      if (r->nlmsg_type == NLMSG_ERROR) {
        int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
        return tl::unexpected(ErrnoError(err, what));
      }
      on_msg(r);
    }
  }
}

Result<int> Netlink::LinkIndex(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return MakeError(Code::kInvalidArgument, "bad interface name \"" + name + "\"");
  }
  MessageBuilder b(RTM_GETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.Fixed(ifi);
  b.AttrString(IFLA_IFNAME, name);
  std::vector<char> msg = b.Take();
  auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
  h->nlmsg_seq = ++seq_;
  if (::send(fd_.get(), msg.data(), msg.size(), 0) < 0) return ErrnoUnexpected("netlink send");
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoUnexpected("netlink recv (get link " + name + ")");
    }
    int len = static_cast<int>(n);
    for (auto* r = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(r, len); r = NLMSG_NEXT(r, len)) {
      if (r->nlmsg_seq != seq_) continue;
      if (r->nlmsg_type == NLMSG_ERROR) {
        int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
        if (err == ENODEV) return MakeError(Code::kNotFound, "no interface " + name);
        return tl::unexpected(ErrnoError(err, "get link " + name));
      }
      if (r->nlmsg_type == RTM_NEWLINK) {
        return reinterpret_cast<ifinfomsg*>(NLMSG_DATA(r))->ifi_index;
      }
    }
  }
}

Status Netlink::CreateBridge(const std::string& name) {
  MessageBuilder b(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.Fixed(ifi);
  b.AttrString(IFLA_IFNAME, name);
  // A bridge without an address of its own takes the lowest of its ports' and changes it as
  // ports come and go; every sandbox's ARP entry for the gateway then names a MAC the bridge
  // no longer answers to, and its replies (SYN-ACKs to the router) are lost until that entry
  // expires: seconds of stalls under churn. A fixed random, locally administered, unicast MAC
  // pins it (the kernel marks it set and stops following the ports).
  std::array<uint8_t, 6> mac{};
  if (::getrandom(mac.data(), mac.size(), 0) != static_cast<ssize_t>(mac.size())) {
    return ErrnoUnexpected("random bridge address");
  }
  mac[0] = static_cast<uint8_t>((mac[0] & 0xfe) | 0x02);
  b.Attr(IFLA_ADDRESS, mac.data(), mac.size());
  size_t info = b.Begin(IFLA_LINKINFO);
  b.AttrString(IFLA_INFO_KIND, "bridge");
  b.End(info);
  std::vector<char> msg = b.Take();
  return Request(msg, "create bridge " + name);
}

Status Netlink::CreateVethPair(const std::string& host_name, int master_ifindex,
                               const std::string& peer_name, int peer_netns_fd) {
  MessageBuilder b(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.Fixed(ifi);
  b.AttrString(IFLA_IFNAME, host_name);
  if (master_ifindex > 0) b.AttrU32(IFLA_MASTER, static_cast<uint32_t>(master_ifindex));
  size_t info = b.Begin(IFLA_LINKINFO);
  b.AttrString(IFLA_INFO_KIND, "veth");
  size_t data = b.Begin(IFLA_INFO_DATA);
  size_t peer = b.Begin(VETH_INFO_PEER);
  ifinfomsg peer_ifi{};
  peer_ifi.ifi_family = AF_UNSPEC;
  b.Fixed(peer_ifi);
  b.AttrString(IFLA_IFNAME, peer_name);
  b.AttrU32(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  b.End(peer);
  b.End(data);
  b.End(info);
  std::vector<char> msg = b.Take();
  return Request(msg, "create veth " + host_name);
}

Status Netlink::DeleteLink(const std::string& name) {
  MessageBuilder b(RTM_DELLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.Fixed(ifi);
  b.AttrString(IFLA_IFNAME, name);
  std::vector<char> msg = b.Take();
  Status st = Request(msg, "delete link " + name);
  if (!st && last_errno_ == ENODEV) return {};
  return st;
}

Status Netlink::SetUp(int ifindex) {
  MessageBuilder b(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  b.Fixed(ifi);
  std::vector<char> msg = b.Take();
  return Request(msg, "set link " + std::to_string(ifindex) + " up");
}

Status Netlink::SetBridgePortIsolated(int ifindex) {
  MessageBuilder b(RTM_SETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = ifindex;
  b.Fixed(ifi);
  size_t proto = b.Begin(static_cast<uint16_t>(IFLA_PROTINFO | NLA_F_NESTED));
  b.AttrU8(IFLA_BRPORT_ISOLATED, 1);
  b.End(proto);
  std::vector<char> msg = b.Take();
  return Request(msg, "isolate bridge port " + std::to_string(ifindex));
}

Status Netlink::AddAddress(int ifindex, Ipv4 ip, int prefix) {
  MessageBuilder b(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa.ifa_index = static_cast<unsigned>(ifindex);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  b.Fixed(ifa);
  uint32_t addr = NetOrder(ip);
  b.Attr(IFA_LOCAL, &addr, sizeof(addr));
  b.Attr(IFA_ADDRESS, &addr, sizeof(addr));
  std::vector<char> msg = b.Take();
  return Request(msg, "add address " + ToString(ip) + "/" + std::to_string(prefix));
}

Status Netlink::AddDefaultRoute(Ipv4 gateway, int ifindex) {
  MessageBuilder b(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_STATIC;
  rt.rtm_scope = RT_SCOPE_UNIVERSE;
  rt.rtm_type = RTN_UNICAST;
  b.Fixed(rt);
  uint32_t gw = NetOrder(gateway);
  b.Attr(RTA_GATEWAY, &gw, sizeof(gw));
  b.AttrU32(RTA_OIF, static_cast<uint32_t>(ifindex));
  std::vector<char> msg = b.Take();
  return Request(msg, "add default route via " + ToString(gateway));
}

Result<std::vector<AddressInfo>> Netlink::ListAddresses() {
  MessageBuilder b(RTM_GETADDR, 0);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  b.Fixed(ifa);
  std::vector<char> msg = b.Take();
  std::vector<AddressInfo> out;
  ASB_RETURN_IF_ERROR(Dump(msg, "list addresses", [&](nlmsghdr* r) {
    if (r->nlmsg_type != RTM_NEWADDR) return;
    auto* a = reinterpret_cast<ifaddrmsg*>(NLMSG_DATA(r));
    if (a->ifa_family != AF_INET) return;
    AddressInfo info{
        .ifindex = static_cast<int>(a->ifa_index), .address = {}, .prefix = a->ifa_prefixlen};
    int len = static_cast<int>(IFA_PAYLOAD(r));
    for (auto* at = IFA_RTA(a); RTA_OK(at, len); at = RTA_NEXT(at, len)) {
      if (at->rta_type == IFA_LOCAL && RTA_PAYLOAD(at) == 4) {
        uint32_t v;
        std::memcpy(&v, RTA_DATA(at), 4);
        info.address = Ipv4{ntohl(v)};
      }
    }
    out.push_back(info);
  }));
  return out;
}

Result<std::vector<RouteInfo>> Netlink::ListRoutes() {
  MessageBuilder b(RTM_GETROUTE, 0);
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  b.Fixed(rt);
  std::vector<char> msg = b.Take();
  std::vector<RouteInfo> out;
  ASB_RETURN_IF_ERROR(Dump(msg, "list routes", [&](nlmsghdr* r) {
    if (r->nlmsg_type != RTM_NEWROUTE) return;
    auto* m = reinterpret_cast<rtmsg*>(NLMSG_DATA(r));
    if (m->rtm_family != AF_INET || m->rtm_table != RT_TABLE_MAIN) return;
    RouteInfo info;
    info.dst.prefix = m->rtm_dst_len;
    int len = static_cast<int>(RTM_PAYLOAD(r));
    for (auto* at = RTM_RTA(m); RTA_OK(at, len); at = RTA_NEXT(at, len)) {
      uint32_t v = 0;
      if (RTA_PAYLOAD(at) == 4) std::memcpy(&v, RTA_DATA(at), 4);
      if (at->rta_type == RTA_DST) info.dst.base = Ipv4{ntohl(v)};
      if (at->rta_type == RTA_GATEWAY) info.gateway = Ipv4{ntohl(v)};
      if (at->rta_type == RTA_OIF) info.ifindex = static_cast<int>(v);
    }
    out.push_back(info);
  }));
  return out;
}

}  // namespace asb::net
