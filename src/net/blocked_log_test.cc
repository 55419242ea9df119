// The blocked-connection reader's parsing of nfnetlink_log messages and its per-pod counting,
// on messages laid out as the kernel sends them (nfnetlink_log.c: an nfgenmsg, then
// attributes, NFULA_PREFIX and NFULA_PAYLOAD among others).
#include "net/blocked_log.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include <cstring>
#include <string>
#include <vector>

namespace asb::net {
namespace {

void AddAttr(std::vector<char>* m, uint16_t type, const void* data, size_t len) {
  nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
  const size_t at = m->size();
  m->resize(at + NLA_ALIGN(NLA_HDRLEN + len), 0);
  std::memcpy(m->data() + at, &a, sizeof(a));
  std::memcpy(m->data() + at + NLA_HDRLEN, data, len);
}

// An IPv4 header (20 bytes) then `l4` (the TCP/UDP ports).
std::string Packet(const char* src, const char* dst, uint8_t proto, uint16_t dport,
                   uint8_t version = 4) {
  iphdr ip{};
  ip.version = version;
  ip.ihl = 5;
  ip.protocol = proto;
  inet_pton(AF_INET, src, &ip.saddr);
  inet_pton(AF_INET, dst, &ip.daddr);
  std::string out(reinterpret_cast<const char*>(&ip), sizeof(ip));
  const uint16_t ports[2] = {htons(40000), htons(dport)};
  out.append(reinterpret_cast<const char*>(ports), sizeof(ports));
  return out;
}

std::vector<char> Message(const std::string& prefix, const std::string& payload,
                          uint16_t type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) {
  std::vector<char> m(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
  nfulnl_msg_packet_hdr ph{htons(ETH_P_IP), 0, 0};
  AddAttr(&m, NFULA_PACKET_HDR, &ph, sizeof(ph));
  if (!prefix.empty()) AddAttr(&m, NFULA_PREFIX, prefix.c_str(), prefix.size() + 1);
  const uint32_t uid = htonl(1000);
  AddAttr(&m, NFULA_UID, &uid, sizeof(uid));  // one the reader ignores
  if (!payload.empty()) AddAttr(&m, NFULA_PAYLOAD, payload.data(), payload.size());
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(m.size());
  h.nlmsg_type = type;
  std::memcpy(m.data(), &h, sizeof(h));
  return m;
}

TEST(BlockedLogTest, AnEgressDropNamesItsAddressesProtocolAndPort) {
  auto m = Message(kLogPrefixEgress, Packet("10.244.0.5", "172.31.254.2", IPPROTO_TCP, 8000));
  auto p = ParseBlockedPacket(m.data(), m.size());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->egress);
  EXPECT_EQ(ToString(p->src), "10.244.0.5");
  EXPECT_EQ(ToString(p->dst), "172.31.254.2");
  EXPECT_EQ(ProtocolName(p->protocol), "TCP");
  EXPECT_EQ(p->dst_port, 8000);
}

TEST(BlockedLogTest, IngressUdpAndPortlessProtocols) {
  auto m = Message(kLogPrefixIngress, Packet("198.51.100.2", "10.244.0.9", IPPROTO_UDP, 53));
  auto p = ParseBlockedPacket(m.data(), m.size());
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->egress);
  EXPECT_EQ(p->dst_port, 53);
  auto icmp = Message(kLogPrefixEgress, Packet("10.244.0.5", "8.8.8.8", IPPROTO_ICMP, 1234));
  p = ParseBlockedPacket(icmp.data(), icmp.size());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->dst_port, 0);  // no ports in ICMP
  EXPECT_EQ(ProtocolName(47), "proto 47");
}

TEST(BlockedLogTest, OtherMessagesAndMalformedOnesAreNotPackets) {
  const std::string pkt = Packet("10.244.0.5", "172.31.254.2", IPPROTO_TCP, 8000);
  auto other_prefix = Message("someone-else", pkt);
  EXPECT_FALSE(ParseBlockedPacket(other_prefix.data(), other_prefix.size()));
  auto no_prefix = Message("", pkt);
  EXPECT_FALSE(ParseBlockedPacket(no_prefix.data(), no_prefix.size()));
  auto config_ack = Message(kLogPrefixEgress, pkt, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG);
  EXPECT_FALSE(ParseBlockedPacket(config_ack.data(), config_ack.size()));
  auto v6 = Message(kLogPrefixEgress, Packet("10.244.0.5", "1.2.3.4", IPPROTO_TCP, 1, 6));
  EXPECT_FALSE(ParseBlockedPacket(v6.data(), v6.size()));
  auto short_ip = Message(kLogPrefixEgress, pkt.substr(0, 12));
  EXPECT_FALSE(ParseBlockedPacket(short_ip.data(), short_ip.size()));
  // The header claims more than was received: every shorter read is refused, none overreads
  // (run under ASan in CI).
  auto m = Message(kLogPrefixEgress, pkt);
  for (size_t len = 0; len < m.size(); ++len) {
    std::vector<char> cut(m.begin(), m.begin() + static_cast<long>(len));
    EXPECT_FALSE(ParseBlockedPacket(cut.data(), cut.size())) << len;
  }
  // An attribute whose length runs past the message ends the walk.
  auto bad = Message(kLogPrefixEgress, pkt);
  nlattr a;
  const size_t first = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  std::memcpy(&a, bad.data() + first, sizeof(a));
  a.nla_len = 0xffff;
  std::memcpy(bad.data() + first, &a, sizeof(a));
  EXPECT_FALSE(ParseBlockedPacket(bad.data(), bad.size()));
}

TEST(BlockedLogTest, DropsAreCountedPerPodAddressAndDirection) {
  const Cidr pods = *ParseCidr("10.244.0.0/16");
  std::map<Ipv4, BlockedCounts> counts;
  auto pkt = [](const char* m_src, const char* m_dst, bool egress) {
    BlockedPacket p;
    p.egress = egress;
    p.src = *ParseIpv4(m_src);
    p.dst = *ParseIpv4(m_dst);
    p.protocol = IPPROTO_TCP;
    return p;
  };
  EXPECT_TRUE(CountBlocked(pkt("10.244.0.5", "172.31.254.2", true), pods, &counts));
  EXPECT_TRUE(CountBlocked(pkt("10.244.0.5", "172.31.254.3", true), pods, &counts));  // retry
  EXPECT_TRUE(CountBlocked(pkt("198.51.100.2", "10.244.0.5", false), pods, &counts));
  EXPECT_TRUE(CountBlocked(pkt("10.244.0.6", "8.8.8.8", true), pods, &counts));
  // Not a pod's: a packet about another network (a second asbd's bridge) counts nothing.
  EXPECT_FALSE(CountBlocked(pkt("10.99.0.5", "8.8.8.8", true), pods, &counts));
  EXPECT_FALSE(CountBlocked(pkt("10.244.0.5", "10.99.0.5", false), pods, &counts));
  ASSERT_EQ(counts.size(), 2u);
  const BlockedCounts& a = counts[*ParseIpv4("10.244.0.5")];
  EXPECT_EQ(a.egress, 2u);
  EXPECT_EQ(a.ingress, 1u);
  EXPECT_EQ(a.changes, 3u);
  EXPECT_FALSE(a.last.egress);  // the last drop was the ingress one
  EXPECT_EQ(counts[*ParseIpv4("10.244.0.6")].egress, 1u);
}

}  // namespace
}  // namespace asb::net
